"""Who the board says did something: a person, a community contact, or a partner."""

from __future__ import annotations

import pytest

from services.ingest.board.pages import person_name
from services.ingest.sms.community import COMMUNITY_RAISER
from shared.partners import Partner
from tests.support.directories import example_directory

DIRECTORY = example_directory().model_copy(
    update={"partners": [Partner(id="pc-nk", name="Protection civile", token_sha256="0" * 64)]}
)


@pytest.mark.parametrize(
    ("raiser", "language", "shown"),
    [
        ("jo.operator", "en", "JOC duty officer"),
        ("left.mission", "en", "left.mission"),  # no longer in the directory: the id
        ("partner:pc-nk", "en", "Protection civile (partner)"),
        ("partner:pc-nk", "fr", "Protection civile (partenaire)"),
        ("partner:gone", "en", "partner:gone"),
        (COMMUNITY_RAISER, "en", "a community contact, by SMS"),
    ],
)
def test_the_board_names_who_raised_it(raiser: str, language: str, shown: str) -> None:
    assert person_name(DIRECTORY, raiser, language) == shown
