"""The in-app stream's need-to-know filter, its handling of slow clients, and of lapsed rights."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.stream.hub import (
    KEEP_ALIVE_SECONDS,
    OVERFLOW_FRAME,
    Audience,
    Lapse,
    StreamEvent,
    StreamHub,
    Subscriber,
    frames,
    reauthenticate_frame,
)
from shared.directory import Directory, Person
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


class Live:
    """A directory that a test swaps, as ``coord directory load`` swaps ingest's."""

    def __init__(self, *people: Person) -> None:
        self.current = Directory(mission="test", sectors=["beni", "north"], people=list(people))

    def get(self) -> Directory:
        return self.current

    def load(self, *people: Person) -> None:
        self.current = self.current.model_copy(update={"people": list(people)})


def lowered(person: Person) -> Person:
    return person.model_copy(update={"clearance": C.UNCLASSIFIED})


EVERYONE = (AWA, JOC, JOC_NORTH, CLA, OUTSIDER, UNCLEARED, AUDITOR)
LATER = datetime.now(UTC) + timedelta(hours=1)


def subscribed(
    live: Live, person: Person, expires_at: datetime = LATER
) -> tuple[StreamHub, Subscriber]:
    hub = StreamHub(sessions=None)  # type: ignore[arg-type]  # publish needs no database
    return hub, hub.subscribe(person, directory=live.get, expires_at=expires_at)


def test_hub_delivers_only_to_those_who_may_see_and_frames_the_event() -> None:
    live = Live(*EVERYONE)
    hub, awa = subscribed(live, AWA)
    outsider = hub.subscribe(OUTSIDER, directory=live.get, expires_at=LATER)
    hub.publish(event(1))
    assert awa.queue.qsize() == 1
    assert outsider.queue.qsize() == 0
    assert awa.queue.get_nowait() == event(1)
    assert event(1).encode() == 'id: 1\nevent: alert.escalated\ndata: {"level": 1}\n\n'


def test_a_client_that_cannot_keep_up_is_cut_off_with_a_marker() -> None:
    hub, slow = subscribed(Live(*EVERYONE), AWA)
    for number in range(slow.queue.maxsize + 1):
        hub.publish(event(number))
    queued = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert queued[-1] is None  # end-of-stream marker
    hub.publish(event(999))
    assert slow.queue.empty()  # no longer subscribed


# --------------------------------------------------------------------------- rights now


def test_a_lowered_clearance_applies_to_the_next_event() -> None:
    live = Live(*EVERYONE)
    hub, awa = subscribed(live, AWA)
    hub.publish(event(1))
    live.load(*(lowered(AWA) if p is AWA else p for p in EVERYONE))
    hub.publish(event(2))
    hub.publish(event(3, PAGE_TO_AWA))  # her own page: not above her clearance either
    assert [awa.queue.get_nowait() for _ in range(awa.queue.qsize())] == [event(1)]


def test_a_raised_clearance_applies_to_the_next_event_too() -> None:
    live = Live(*EVERYONE)
    hub, lucas = subscribed(live, UNCLEARED)
    hub.publish(event(1))
    live.load(
        *(
            p.model_copy(update={"clearance": C.CONFIDENTIAL}) if p is UNCLEARED else p
            for p in EVERYONE
        )
    )
    hub.publish(event(2))
    assert [lucas.queue.get_nowait() for _ in range(lucas.queue.qsize())] == [event(2)]


@pytest.mark.parametrize(
    "directory_now",
    [
        pytest.param([p for p in EVERYONE if p is not AWA], id="removed"),
        pytest.param(
            [
                p.model_copy(update={"roles": ["directory_admin"]}) if p is AWA else p
                for p in EVERYONE
            ],
            id="may-no-longer-read",
        ),
    ],
)
def test_who_may_no_longer_read_is_cut_off_at_the_next_event(directory_now: list[Person]) -> None:
    live = Live(*EVERYONE)
    hub, awa = subscribed(live, AWA)
    live.load(*directory_now)
    hub.publish(event(1))
    assert awa.queue.get_nowait() is None  # end of stream, nothing of the event
    assert awa.queue.empty()
    hub.publish(event(2))
    assert awa.queue.empty()  # no longer subscribed


async def read_all(stream: AsyncIterator[str]) -> list[str]:
    """Every frame up to the end of the stream (within 5 s)."""
    async with asyncio.timeout(5):
        return [frame async for frame in stream]


async def test_the_stream_ends_at_token_expiry_with_no_event_to_send() -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=0.3)
    hub, awa = subscribed(Live(*EVERYONE), AWA, expires_at)
    started = time.monotonic()
    got = await read_all(frames(hub, awa))
    assert got == [": connected\n\n", reauthenticate_frame(Lapse.EXPIRED)]
    assert time.monotonic() - started < KEEP_ALIVE_SECONDS / 2  # at expiry, not keep-alive
    hub.publish(event(1))
    assert awa.queue.empty()  # unsubscribed


async def test_an_event_queued_before_expiry_is_not_sent_after_it() -> None:
    hub, awa = subscribed(Live(*EVERYONE), AWA, datetime.now(UTC) + timedelta(seconds=0.2))
    hub.publish(event(1))
    await asyncio.sleep(0.3)
    got = await read_all(frames(hub, awa))
    assert got == [": connected\n\n", reauthenticate_frame(Lapse.EXPIRED)]


async def test_events_are_sent_until_the_person_leaves_the_directory() -> None:
    live = Live(*EVERYONE)
    hub, awa = subscribed(live, AWA)
    stream = frames(hub, awa)
    assert await anext(stream) == ": connected\n\n"
    hub.publish(event(1))
    assert await anext(stream) == event(1).encode()
    hub.publish(event(2))  # queued while she was on the directory ...
    live.load(*(p for p in EVERYONE if p is not AWA))  # ... and not sent once she is not
    assert await read_all(stream) == [reauthenticate_frame(Lapse.RIGHTS_CHANGED)]


async def test_a_queued_event_is_checked_again_when_sent() -> None:
    live = Live(*EVERYONE)
    hub, awa = subscribed(live, AWA)
    unclassified = event(2, Audience(AlertAudience(C.UNCLASSIFIED, "beni", "cla", {"awa.hfo"})))
    hub.publish(event(1))
    hub.publish(unclassified)
    hub.unsubscribe(awa)  # ended, as on overflow, once the queue is read
    awa.queue.put_nowait(None)
    live.load(*(lowered(AWA) if p is AWA else p for p in EVERYONE))
    got = await read_all(frames(hub, awa))
    assert got == [": connected\n\n", unclassified.encode(), OVERFLOW_FRAME]


async def test_a_stopping_service_ends_every_stream_and_opens_none() -> None:
    # Without this a server stop waits for every open board tab (a stream never ends).
    live = Live(*EVERYONE)
    hub, awa = subscribed(live, AWA)
    stream = frames(hub, awa)
    assert await anext(stream) == ": connected\n\n"
    hub.close()
    assert await read_all(stream) == []  # ended plainly, not as a lagging client
    late = hub.subscribe(JOC, directory=live.get, expires_at=LATER)
    assert await read_all(frames(hub, late)) == [": connected\n\n"]
    hub.publish(event(1))
    assert late.queue.empty()
