"""The router's verdict on who may give a command: need-to-know first, then the role in it.

Table-driven over the reference directory. Someone a subject does not concern
gets ``not_found`` (the answer for a subject that does not exist), never a hint.
"""

from __future__ import annotations

import pytest

from services.router.authority import alert_refusal, message_refusal, recommendation_refusal
from shared.contracts.commands import Refusal
from shared.envelope import Classification
from shared.permissions import AlertAudience
from tests.support.directories import example_directory

DIRECTORY = example_directory()
C = Classification

# A confidential beni alert raised by the CLA that paged awa.hfo and has lucas.ho on its chain.
ALERT = AlertAudience(
    classification=C.CONFIDENTIAL,
    sector="beni",
    raised_by="amani.cla",
    chain=frozenset({"awa.hfo", "lucas.ho"}),
)


@pytest.mark.parametrize(
    ("person", "alert", "refused"),
    [
        pytest.param("awa.hfo", ALERT, None, id="paged"),
        pytest.param("lucas.ho", ALERT, None, id="on-the-chain"),
        pytest.param("amani.cla", ALERT, None, id="raised-it"),
        pytest.param("jo.operator", ALERT, None, id="joc-runs-the-board"),
        pytest.param("audit.one", ALERT, None, id="auditor-sees-all"),
        pytest.param("col.okafor", ALERT, Refusal.NOT_FOUND, id="not-concerned"),
        pytest.param("nobody.known", ALERT, Refusal.NOT_FOUND, id="not-in-directory"),
        pytest.param(
            "jo.operator",
            AlertAudience(C.STRICTLY_CONFIDENTIAL, "beni", "awa.hfo", frozenset({"awa.hfo"})),
            Refusal.NOT_FOUND,
            id="joc-not-cleared",
        ),
    ],
)
def test_alert_need_to_know(person: str, alert: AlertAudience, refused: Refusal | None) -> None:
    verdict = alert_refusal(DIRECTORY, person, "a-1", alert)
    assert (verdict[0] if verdict else None) is refused
    if verdict is not None:
        assert verdict[1] == "no alert a-1"


@pytest.mark.parametrize(
    ("person", "delivered", "classification", "refused"),
    [
        pytest.param("col.okafor", ["col.okafor"], C.CONFIDENTIAL, None, id="delivered"),
        pytest.param(
            "insp.diallo", ["col.okafor"], C.CONFIDENTIAL, Refusal.NOT_FOUND, id="not-delivered"
        ),
        pytest.param(
            "col.okafor",
            ["col.okafor"],
            C.STRICTLY_CONFIDENTIAL,
            Refusal.NOT_FOUND,
            id="clearance-lowered",
        ),
        pytest.param(
            "awa.hfo", ["col.okafor"], C.CONFIDENTIAL, Refusal.WRONG_STATE, id="the-sender"
        ),
        pytest.param(
            "nobody.known", ["col.okafor"], C.CONFIDENTIAL, Refusal.NOT_FOUND, id="unknown"
        ),
        # An auditor may read any message, but answers none that is not theirs.
        pytest.param("audit.one", ["col.okafor"], C.CONFIDENTIAL, Refusal.NOT_FOUND, id="auditor"),
    ],
)
def test_message_commands(
    person: str, delivered: list[str], classification: Classification, refused: Refusal | None
) -> None:
    verdict = message_refusal(
        DIRECTORY.person(person),
        "m-1",
        sender="awa.hfo",
        delivered_to=delivered,
        classification=classification,
    )
    assert (verdict[0] if verdict else None) is refused
    if refused is Refusal.NOT_FOUND:
        assert verdict is not None
        assert verdict[1] == "no message m-1"


@pytest.mark.parametrize(
    ("person", "refused"),
    [
        pytest.param("col.okafor", None, id="addressee"),
        pytest.param("awa.hfo", Refusal.NOT_ALLOWED, id="the-author"),
        pytest.param("audit.one", Refusal.NOT_ALLOWED, id="auditor-reads-only"),
        pytest.param("insp.diallo", Refusal.NOT_FOUND, id="not-concerned"),
        pytest.param("nobody.known", Refusal.NOT_FOUND, id="unknown"),
    ],
)
def test_recommendation_commands(person: str, refused: Refusal | None) -> None:
    verdict = recommendation_refusal(
        DIRECTORY.person(person),
        "r-1",
        author="awa.hfo",
        addressees=["col.okafor"],
        classification=C.CONFIDENTIAL,
    )
    assert (verdict[0] if verdict else None) is refused
    if refused is Refusal.NOT_ALLOWED:
        assert verdict is not None
        assert person in verdict[1]
