"""Sealing an alert's source: round trip, tampering, unknown keys, rotation, key ring errors."""

from __future__ import annotations

import base64
import logging
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from coord.cli import app
from shared.contracts.alerts import SealedSource, Source
from shared.logging import REDACTED, redact_sources
from shared.settings import DEV_SOURCE_KEYS, Settings
from shared.source_protection import (
    InvalidSourceKeys,
    SourceKeyRing,
    SourceNotAuthentic,
    UnknownSourceKey,
    new_key_line,
)

K1 = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.urlsafe_b64encode(bytes(range(100, 132))).decode()
SOURCE = Source(name="Kahindo Mbusa", contact="+243 970 555 123")
ALERT = UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")


def tampered(text: str, at: int = 0) -> str:
    """``text`` (base64url) with the byte it encodes at ``at`` flipped."""
    raw = bytearray(base64.urlsafe_b64decode(text))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


# --------------------------------------------------------------------------- sealing


def test_a_sealed_source_opens_to_the_original_and_shows_nothing_of_it() -> None:
    ring = SourceKeyRing.parse(K1)
    sealed = ring.seal(SOURCE, ALERT)

    assert ring.open(sealed, ALERT) == SOURCE
    assert (sealed.alg, sealed.kid) == ("A256GCM", "k1")
    assert len(base64.urlsafe_b64decode(sealed.nonce)) == 12
    text = sealed.model_dump_json()
    for secret in ("Kahindo", "Mbusa", "970", "555 123", "+243"):
        assert secret not in text
    # A fresh nonce each time: the same source never seals to the same text.
    assert ring.seal(SOURCE, ALERT).ciphertext != sealed.ciphertext


def test_the_length_of_a_name_does_not_show_in_the_ciphertext() -> None:
    ring = SourceKeyRing.parse(K1)
    short = ring.seal(Source(name="Ali"), ALERT)
    longer = ring.seal(Source(name="Kahindo Mbusa wa Kasereka", contact="+243970555123"), ALERT)
    assert len(short.ciphertext) == len(longer.ciphertext)


def test_a_source_with_no_contact_round_trips() -> None:
    ring = SourceKeyRing.parse(K1)
    source = Source(name="CAN focal point, Mavivi")
    assert ring.open(ring.seal(source, ALERT), ALERT) == source


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: {"ciphertext": tampered(s.ciphertext)}, id="ciphertext"),
        pytest.param(lambda s: {"ciphertext": tampered(s.ciphertext, at=-1)}, id="tag"),
        pytest.param(lambda s: {"nonce": tampered(s.nonce)}, id="nonce"),
        pytest.param(lambda s: {"ciphertext": s.ciphertext[:-8]}, id="truncated"),
    ],
)
def test_a_tampered_sealed_source_does_not_open(change: Any) -> None:
    ring = SourceKeyRing.parse(K1)
    sealed = ring.seal(SOURCE, ALERT)
    with pytest.raises(SourceNotAuthentic):
        ring.open(sealed.model_copy(update=change(sealed)), ALERT)


def test_a_sealed_source_moved_onto_another_alert_does_not_open() -> None:
    ring = SourceKeyRing.parse(K1)
    sealed = ring.seal(SOURCE, ALERT)
    with pytest.raises(SourceNotAuthentic, match="another alert"):
        ring.open(sealed, uuid4())


def test_a_source_sealed_with_a_key_not_on_the_ring_is_refused_by_kid() -> None:
    sealed = SourceKeyRing.parse(K1).seal(SOURCE, ALERT)
    with pytest.raises(UnknownSourceKey, match="'k1'"):
        SourceKeyRing.parse(K2).open(sealed, ALERT)


def test_the_same_kid_with_another_key_does_not_open() -> None:
    sealed = SourceKeyRing.parse(K1).seal(SOURCE, ALERT)
    impostor = SourceKeyRing.parse("k1:" + K2.split(":", 1)[1])
    with pytest.raises(SourceNotAuthentic):
        impostor.open(sealed, ALERT)


# --------------------------------------------------------------------------- rotation


def test_rotation_new_key_first_seals_new_sources_and_old_ones_still_open() -> None:
    old_ring = SourceKeyRing.parse(K1)
    sealed_before = old_ring.seal(SOURCE, ALERT)

    rotated = SourceKeyRing.parse(f"{K2},{K1}")
    assert (rotated.sealing_kid, rotated.kids) == ("k2", ("k2", "k1"))
    assert rotated.open(sealed_before, ALERT) == SOURCE
    sealed_after = rotated.seal(SOURCE, ALERT)
    assert sealed_after.kid == "k2"
    assert rotated.open(sealed_after, ALERT) == SOURCE

    # Retiring k1 shreds what it sealed; what k2 sealed still opens.
    retired = SourceKeyRing.parse(K2)
    with pytest.raises(UnknownSourceKey):
        retired.open(sealed_before, ALERT)
    assert retired.open(sealed_after, ALERT) == SOURCE


def test_request_digests_are_keyed_and_survive_a_rotation() -> None:
    body = SOURCE.model_dump_json().encode()
    old_ring, rotated = SourceKeyRing.parse(K1), SourceKeyRing.parse(f"{K2},{K1}")
    digest = old_ring.digest(body)
    assert len(digest) == 64
    assert digest in rotated.digests(body)
    assert rotated.digest(body) != digest
    assert old_ring.digest(b"another body") != digest
    # Not a plain hash: without the key, a guessed source cannot be checked against it.
    import hashlib  # noqa: PLC0415 - only to show what the digest is not

    assert digest != hashlib.sha256(body).hexdigest()


# --------------------------------------------------------------------------- key ring errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "no source keys", id="empty"),
        pytest.param("   ", "no source keys", id="blank"),
        pytest.param("just-a-key", "entry 1 is not kid:key", id="no-kid"),
        pytest.param(f"{K1},", "entry 2 is not kid:key", id="trailing-comma"),
        pytest.param("k1:", "entry 1 is not kid:key", id="no-key"),
        pytest.param("bad kid!:" + K1.split(":")[1], "entry 1: the key id must be", id="bad-kid"),
        pytest.param("k1:not*base64", "entry 1 ('k1'): the key is not base64url", id="not-b64"),
        pytest.param(
            "k1:" + base64.urlsafe_b64encode(b"x" * 16).decode(),
            "'k1' is 16 bytes; AES-256 needs 32",
            id="16-bytes",
        ),
        pytest.param(f"{K1},{K1}", "'k1' appears twice", id="duplicate"),
    ],
)
def test_a_bad_key_ring_says_what_is_wrong_without_the_key(text: str, message: str) -> None:
    with pytest.raises(InvalidSourceKeys, match=message.replace("(", r"\(").replace(")", r"\)")):
        SourceKeyRing.parse(text)
    with pytest.raises(InvalidSourceKeys) as error:
        SourceKeyRing.parse(text)
    for entry in text.split(","):
        key = entry.partition(":")[2]
        if len(key) > 8:
            assert key not in str(error.value)


def test_keys_without_padding_are_accepted_and_the_ring_does_not_show_them() -> None:
    unpadded = K1.rstrip("=")
    ring = SourceKeyRing.parse(f" {unpadded} , {K2} ")
    assert ring.kids == ("k1", "k2")
    assert K1.split(":")[1] not in repr(ring)
    assert repr(ring) == "SourceKeyRing(kids=['k1', 'k2'])"


def test_the_development_ring_of_the_settings_parses() -> None:
    ring = SourceKeyRing.from_settings(Settings(source_keys=DEV_SOURCE_KEYS))
    assert ring.kids == ("dev-2026",)


def test_new_key_lines_are_fresh_32_byte_keys_that_parse() -> None:
    first, second = new_key_line(), new_key_line("k-2027")
    assert second.startswith("k-2027:")
    ring = SourceKeyRing.parse(f"{second},{first}")
    assert ring.sealing_kid == "k-2027"
    assert first.split(":")[1] != second.split(":")[1]
    with pytest.raises(InvalidSourceKeys):
        new_key_line("no:colons")


def test_coord_source_key_new_prints_a_line_the_ring_accepts() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["source-key", "new", "--kid", "k-2027"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert SourceKeyRing.parse(line).kids == ("k-2027",)
    bad = runner.invoke(app, ["source-key", "new", "--kid", "bad kid"])
    assert bad.exit_code == 2


def test_coord_source_key_check_names_the_kids_never_the_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.settings import get_settings  # noqa: PLC0415 - its cache is cleared around it

    runner = CliRunner()
    monkeypatch.setenv("COORD_SOURCE_KEYS", f"{K2},{K1}")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["source-key", "check"])
        assert result.exit_code == 0, result.output
        assert result.stdout == "seals with: k2\nalso opens: k1\n"
        monkeypatch.setenv("COORD_SOURCE_KEYS", "k1:c2hvcnQ=")
        get_settings.cache_clear()
        broken = runner.invoke(app, ["source-key", "check"])
        assert broken.exit_code == 1
        assert "'k1' is 5 bytes" in broken.stderr
        assert "c2hvcnQ" not in broken.stderr
    finally:
        get_settings.cache_clear()


# --------------------------------------------------------------------------- property


printable = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200)


@given(name=printable, contact=st.none() | st.text(max_size=200), alert_id=st.uuids())
def test_any_source_round_trips(name: str, contact: str | None, alert_id: UUID) -> None:
    ring = SourceKeyRing.parse(f"{K2},{K1}")
    source = Source(name=name, contact=contact)
    sealed = ring.seal(source, alert_id)
    assert SealedSource.model_validate_json(sealed.model_dump_json()) == sealed
    assert ring.open(sealed, alert_id) == source


# --------------------------------------------------------------------------- logs


def test_the_log_processor_redacts_sources_at_any_depth() -> None:
    event: dict[str, Any] = {
        "event": "alert.raised",
        "source": {"name": "Kahindo Mbusa"},
        "payload": {"title": "t", "source": {"contact": "+243 970 555 123"}},
        "batch": [{"source": "Kahindo"}, "other"],
        "sources": 2,
    }
    assert redact_sources(None, "info", event) == {
        "event": "alert.raised",
        "source": REDACTED,
        "payload": {"title": "t", "source": REDACTED},
        "batch": [{"source": REDACTED}, "other"],
        "sources": 2,
    }


def test_configured_logging_never_prints_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.logging import configure_logging  # noqa: PLC0415 - reconfigures the process

    root = logging.getLogger()
    saved_handlers, saved_level, saved_config = root.handlers[:], root.level, structlog.get_config()
    configure_logging(Settings(log_format="json"))
    try:
        structlog.get_logger("test").info("leak", payload={"source": SOURCE.model_dump()})
        logging.getLogger("test.stdlib").warning("plain %s", "line")
    finally:
        structlog.configure(**saved_config)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    err = capsys.readouterr().err
    assert '"source": "[redacted]"' in err
    assert "Kahindo" not in err
    assert "plain line" in err
