"""Rendering the board's pages: one Jinja2 environment per language, and what every page shows."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from services.ingest.board.flash import FLASH_COOKIE, take_flash
from services.ingest.board.i18n import LANGUAGES, language_of, translations, utc_text
from services.ingest.board.session import CSRF_FIELD, Visitor
from services.ingest.sms.community import COMMUNITY_RAISER
from shared.directory import Directory, Person
from shared.envelope import utc_now
from shared.partners import partner_raising

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(language: str) -> Environment:
    """The templates, translated into ``language`` (one environment per language)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",)),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["moment"] = moment
    env.filters["duration"] = duration
    env.globals["languages"] = LANGUAGES
    return env


def moment(value: datetime | None, *, relative: bool = False) -> Markup:
    """A ``<time>``: UTC in the text and on hover; the page's script shows it in local time."""
    if value is None:
        return Markup("")
    kind = "relative" if relative else "local"
    text = utc_text(value)
    # Every interpolated value is escaped.
    return Markup(  # noqa: S704
        f'<time datetime="{escape(value.isoformat())}" data-show="{kind}" '
        f'title="{escape(text)}">{escape(text)}</time>'
    )


def duration(seconds: float | None) -> str:
    """``3725`` -> ``1 h 02 min``, ``200`` -> ``3 min 20 s``; ``None`` -> ``—``.

    Units that read the same in English and French, so no catalogue entry is needed.
    """
    if seconds is None:
        return "—"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def person_name(directory: Directory, person_id: str, language: str = "en") -> str:
    """A person's name from the directory (their id, if they left it).

    An alert raised by a community contact's SMS was raised by no person: it says so,
    never who (services.ingest.sms.community). One a partner sent names the partner.
    """
    if person_id == COMMUNITY_RAISER:
        return translations(language).gettext("a community contact, by SMS")
    partner = partner_raising(directory.partners, person_id)
    if partner is not None:  # a partner's CAP warning it sent itself
        return translations(language).gettext("%(name)s (partner)") % {"name": partner.name}
    person = directory.person(person_id)
    return person.name if person else person_id


def render(
    request: Request,
    template: str,
    visitor: Visitor | None,
    *,
    status_code: int = 200,
    speaker: Person | None = None,
    **values: Any,
) -> HTMLResponse:
    """The page ``template`` in the visitor's language, with what every page needs.

    ``speaker``: whose language to use when nobody is signed in (a one-time link's person).
    """
    language = language_of(request, visitor.person if visitor else speaker)
    notice = take_flash(request)
    page = environment(language).get_template(template)
    directory = visitor.context.directory if visitor else None
    html = page.render(
        request=request,
        visitor=visitor,
        language=language,
        csrf=visitor.session.csrf if visitor else "",
        csrf_field=CSRF_FIELD,
        path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        now=utc_now(),
        name=(lambda pid: person_name(directory, pid, language)) if directory else str,
        notice=notice,
        **values,
    )
    response = HTMLResponse(html, status_code=status_code, headers={"Content-Language": language})
    if notice is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response
