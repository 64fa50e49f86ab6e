"""The board's language (services/ingest/board/i18n.py) and its one-shot notices (flash.py).

The reader's own switch (the ``coord_lang`` cookie) beats the language the directory gives
the person, which beats the browser's Accept-Language; a value the board does not speak is
ignored, and English is the last word.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from starlette.requests import Request
from starlette.responses import Response

from services.ingest.board.flash import FLASH_COOKIE, Flash, flash, take_flash
from services.ingest.board.i18n import LANGUAGE_COOKIE, LANGUAGES, language_of, utc_text
from shared.directory import Person

PLUS_ONE, MINUS_TWO = timezone(timedelta(hours=1)), timezone(timedelta(hours=-2))


def request(cookies: dict[str, str] | None = None, accept: str | None = None) -> Request:
    headers: list[tuple[bytes, bytes]] = []
    if cookies:
        jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
        headers.append((b"cookie", jar.encode()))
    if accept is not None:
        headers.append((b"accept-language", accept.encode()))
    return Request({"type": "http", "method": "GET", "headers": headers})


def person(language: str | None) -> Person:
    data: dict[str, object] = {"id": "p", "name": "P", "component": "civilian"}
    if language is not None:
        data["language"] = language
    return Person.model_validate(data)


def test_english_and_french() -> None:
    assert set(LANGUAGES) == {"en", "fr"}


@pytest.mark.parametrize(
    ("cookie", "directory", "accept", "expected"),
    [
        # the reader's switch first
        pytest.param("fr", "en", "en", "fr", id="cookie-beats-directory-and-browser"),
        pytest.param("en", "fr", "fr", "en", id="cookie-en-beats-french-directory"),
        pytest.param("fr", None, "en-GB", "fr", id="cookie-without-a-person"),
        # then the directory's language for the person
        pytest.param(None, "fr", "en-US,en;q=0.9", "fr", id="directory-beats-browser"),
        pytest.param(None, "default", "fr-FR,fr;q=0.9", "en", id="directory-default-is-english"),
        # then the browser's
        pytest.param(None, None, "fr-CA,fr;q=0.9,en;q=0.8", "fr", id="browser-french-region"),
        pytest.param(None, None, "FR", "fr", id="browser-upper-case"),
        pytest.param(None, None, "de-DE,de;q=0.9,fr;q=0.5", "fr", id="browser-first-known"),
        pytest.param(None, None, "de-DE,es;q=0.5", "en", id="browser-nothing-known"),
        pytest.param(None, None, "*", "en", id="browser-anything"),
        pytest.param(None, None, "", "en", id="browser-empty"),
        pytest.param(None, None, None, "en", id="no-header"),
        # a value the board does not speak is ignored
        pytest.param("de", "fr", "en", "fr", id="unknown-cookie-then-directory"),
        pytest.param("de", None, "fr", "fr", id="unknown-cookie-then-browser"),
        pytest.param("", None, "fr", "fr", id="empty-cookie"),
        pytest.param("FR", None, "en", "en", id="cookie-is-exact"),
        pytest.param("french", None, None, "en", id="cookie-not-a-code"),
        # language tags that only start like "fr" or "en" are other languages
        pytest.param(None, None, "frr", "en", id="north-frisian-is-not-french"),
        pytest.param(None, None, "frp-CH", "en", id="arpitan-is-not-french"),
        pytest.param(None, None, "enm,fr;q=0.5", "fr", id="middle-english-is-not-english"),
    ],
)
def test_language_of(
    cookie: str | None, directory: str | None, accept: str | None, expected: str
) -> None:
    cookies = {LANGUAGE_COOKIE: cookie} if cookie is not None else None
    reader = None if directory is None else person(None if directory == "default" else directory)
    assert language_of(request(cookies, accept), reader) == expected


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 23, 10, 5, tzinfo=UTC), "2026-11-23 10:05 UTC"),
        (datetime(2026, 11, 23, 11, 5, tzinfo=PLUS_ONE), "2026-11-23 10:05 UTC"),
        (datetime(2026, 11, 23, 23, 30, tzinfo=MINUS_TWO), "2026-11-24 01:30 UTC"),
    ],
)
def test_moments_are_written_in_utc(moment: datetime, text: str) -> None:
    assert utc_text(moment) == text


# --------------------------------------------------------------------------- flash


def flash_value(response: Response) -> str:
    [header] = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    assert header.startswith(f"{FLASH_COOKIE}=")
    assert "httponly" in header.lower()
    return header.split(";")[0].split("=", 1)[1]


@pytest.mark.parametrize(
    "notice",
    [
        Flash("done", "acknowledged"),
        Flash("pending", "resolved"),
        Flash("refused", "noted", 'awa.hfo (head_of_field_office) may not audit; «é» "quoted"'),
        Flash("refused", "sent", "Łukasz — “not for you”; a, b = c"),
    ],
)
def test_a_notice_is_read_back_once_set(notice: Flash) -> None:
    response = flash(Response(), notice)
    assert take_flash(request({FLASH_COOKIE: flash_value(response)})) == notice


def test_a_long_reason_is_cut() -> None:
    response = flash(Response(), Flash("refused", "sent", "x" * 1000))
    read = take_flash(request({FLASH_COOKIE: flash_value(response)}))
    assert read is not None
    assert read.reason == "x" * 300


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("not-json", id="not-json"),
        pytest.param('"a string"', id="a-string"),
        pytest.param("[]", id="a-list"),
        pytest.param('{"kind": "done"}', id="no-code"),
        pytest.param('{"code": "acknowledged"}', id="no-kind"),
        pytest.param('{"kind": "hacked", "code": "x"}', id="unknown-kind"),
    ],
)
def test_a_cookie_that_is_no_notice_is_ignored(raw: str) -> None:
    assert take_flash(request({FLASH_COOKIE: raw} if raw else None)) is None
