"""The in-app stream's need-to-know filter and its handling of slow clients."""

from __future__ import annotations

import pytest

from services.ingest.stream import Audience, StreamEvent, StreamHub
from shared.directory import Person
from shared.envelope import Classification
from shared.permissions import AlertAudience

C = Classification


def person(
    person_id: str,
    roles: list[str],
    sectors: list[str],
    clearance: Classification = C.CONFIDENTIAL,
) -> Person:
    return Person(
        id=person_id,
        name=person_id,
        component="civilian",
        roles=roles,
        sectors=sectors,
        clearance=clearance,
    )


AWA = person("awa.hfo", ["head_of_field_office"], ["beni"])
JOC = person("jo.operator", ["joc_operator"], ["*"])
JOC_NORTH = person("north.joc", ["joc_operator"], ["north"])
CLA = person("amani.cla", ["community_liaison"], ["beni"])
OUTSIDER = person("col.okafor", ["sector_commander"], ["beni"])
UNCLEARED = person("lucas.ho", ["head_of_office"], ["beni"], C.UNCLASSIFIED)
AUDITOR = person("audit.one", ["auditor"], ["*"], C.UNCLASSIFIED)
_CONFIDENTIAL = AlertAudience(
    C.CONFIDENTIAL, "beni", "amani.cla", frozenset({"awa.hfo", "lucas.ho"})
)
ALERT = Audience(_CONFIDENTIAL)
PAGE_TO_AWA = Audience(_CONFIDENTIAL, addressee="awa.hfo")


@pytest.mark.parametrize(
    ("audience", "reader", "sees"),
    [
        pytest.param(ALERT, AWA, True, id="on-the-chain"),
        pytest.param(ALERT, JOC, True, id="mission-wide-joc"),
        pytest.param(ALERT, JOC_NORTH, False, id="joc-of-another-sector"),
        pytest.param(ALERT, CLA, True, id="who-raised-it"),
        pytest.param(ALERT, OUTSIDER, False, id="same-sector-not-on-chain"),
        pytest.param(ALERT, UNCLEARED, False, id="on-the-chain-but-not-cleared"),
        pytest.param(ALERT, AUDITOR, True, id="auditor-sees-all"),
        pytest.param(PAGE_TO_AWA, AWA, True, id="own-page"),
        pytest.param(PAGE_TO_AWA, JOC, False, id="someone-elses-page"),
    ],
)
def test_who_sees_an_event(audience: Audience, reader: Person, sees: bool) -> None:
    assert audience.includes(reader) is sees


def event(number: int, audience: Audience = ALERT) -> StreamEvent:
    return StreamEvent(str(number), "alert.escalated", {"level": number}, audience)


def test_hub_delivers_only_to_those_who_may_see_and_frames_the_event() -> None:
    hub = StreamHub(sessions=None)  # type: ignore[arg-type]  # publish needs no database
    awa, outsider = hub.subscribe(AWA), hub.subscribe(OUTSIDER)
    hub.publish(event(1))
    assert awa.queue.qsize() == 1
    assert outsider.queue.qsize() == 0
    assert awa.queue.get_nowait() == event(1)
    assert event(1).encode() == 'id: 1\nevent: alert.escalated\ndata: {"level": 1}\n\n'


def test_a_client_that_cannot_keep_up_is_cut_off_with_a_marker() -> None:
    hub = StreamHub(sessions=None)  # type: ignore[arg-type]
    slow = hub.subscribe(AWA)
    for number in range(slow.queue.maxsize + 1):
        hub.publish(event(number))
    queued = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert queued[-1] is None  # end-of-stream marker
    hub.publish(event(999))
    assert slow.queue.empty()  # no longer subscribed
