"""English and French: the gettext catalogues, the reader's language, dates for people.

The catalogues are the ``.po`` files under ``locale/``, compiled in memory when first
used: no build step, and no compiled ``.mo`` file in the repository to go stale.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import Request

from shared.directory import Language, Person

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = tuple(language.value for language in Language)
LANGUAGE_COOKIE = "coord_lang"


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of ``language`` (English is the source text: no catalogue)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == Language.EN or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def language_of(request: Request, person: Person | None) -> str:
    """The language to answer in: the reader's switch, else the directory's, else the browser's."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if person is not None:
        return person.language.value
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]  # fr-CD -> fr; enm stays enm
        if tag in LANGUAGES:
            return tag
    return Language.EN.value


def utc_text(moment: datetime) -> str:
    """A moment as UTC text (the page shows it in the viewer's time zone, UTC on hover)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
