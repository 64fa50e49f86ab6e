"""Every string of the board is translated into French, and the catalogues are current.

The strings are extracted from the templates and modules exactly as ``make messages``
does (babel.cfg); a string added to a template without its French fails here, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.ingest.board.i18n import LOCALE_DIR, translations

ROOT = Path(__file__).resolve().parents[4]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str]:
    method_map = [
        ("services/ingest/board/**.py", "python"),
        ("services/ingest/board/templates/**.html", "jinja2"),
    ]
    options = {
        "services/ingest/board/templates/**.html": {
            "extensions": "jinja2.ext.i18n",
            "trim_blocks": "True",
            "lstrip_blocks": "True",
        }
    }
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options, keywords={"_": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _french() -> Catalog:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale="fr")


def test_the_board_has_strings_to_translate() -> None:
    # A broken extraction (a changed babel.cfg, a moved folder) must not pass as "all done".
    assert {"Board", "Acknowledge", "Raise an alert"} <= _extracted()


def test_every_string_has_its_french() -> None:
    catalog = _french()
    missing = sorted(
        text
        for text in _extracted()
        if (entry := catalog.get(text)) is None or not entry.string or entry.fuzzy
    )
    assert missing == [], "run `make messages` and translate these in fr/messages.po"


def test_french_keeps_every_placeholder() -> None:
    # A placeholder lost or misspelt in French raises at render time, on that page only.
    wrong = [
        entry.id
        for entry in _french()
        if entry.id
        and entry.string
        and set(PLACEHOLDER.findall(str(entry.id))) != set(PLACEHOLDER.findall(str(entry.string)))
    ]
    assert wrong == []


@pytest.mark.parametrize(("language", "expected"), [("fr", "Tableau"), ("en", "Board")])
def test_the_catalogue_is_used(language: str, expected: str) -> None:
    assert translations(language).gettext("Board") == expected
