"""The stream's feed from the bus is bound only while a client of this replica listens.

Every event is otherwise a delivery to every replica, decoded and dropped when nobody
is connected (issue 17). What a client relies on: once its stream said ``connected``,
the feed is bound, so what happens next reaches it; a reload within the linger keeps it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.ingest.stream.hub import StreamHub, frames
from shared.directory import Directory, Person

AWA = Person(id="awa.hfo", name="Awa", component="civilian", roles=["head_of_field_office"])
DIRECTORY = Directory(mission="test", sectors=["beni"], people=[AWA])
LATER = datetime.now(UTC) + timedelta(hours=1)


class Feed:
    """A feed that records its switches, and can be told to fail the next one."""

    def __init__(self) -> None:
        self.switches: list[str] = []
        self.fail_next = False

    async def pause(self) -> None:
        self._switch("pause")

    async def resume(self) -> None:
        self._switch("resume")

    def _switch(self, what: str) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("broker away")
        self.switches.append(what)


async def settled() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def hub_with(feed: Feed, linger: float = 0.01) -> StreamHub:
    hub = StreamHub(sessions=None, linger=linger)  # type: ignore[arg-type]  # no database
    hub.attach(feed)
    return hub


async def test_the_feed_pauses_while_nobody_listens_and_is_bound_before_connected() -> None:
    feed = Feed()
    hub = hub_with(feed)
    await settled()
    assert feed.switches == ["pause"]  # attached bound, and nobody listens

    subscriber = hub.subscribe(AWA, directory=lambda: DIRECTORY, expires_at=LATER)
    stream = frames(hub, subscriber)
    assert await anext(stream) == ": connected\n\n"
    assert feed.switches == ["pause", "resume"]  # bound before the client heard it

    await stream.aclose()  # the client left
    await asyncio.sleep(0.05)  # the linger
    assert feed.switches == ["pause", "resume", "pause"]


async def test_a_client_that_comes_back_within_the_linger_keeps_the_feed_bound() -> None:
    feed = Feed()
    hub = hub_with(feed, linger=0.05)
    await settled()
    first = frames(hub, hub.subscribe(AWA, directory=lambda: DIRECTORY, expires_at=LATER))
    await anext(first)
    await first.aclose()
    again = frames(hub, hub.subscribe(AWA, directory=lambda: DIRECTORY, expires_at=LATER))
    await anext(again)
    await asyncio.sleep(0.1)
    assert feed.switches == ["pause", "resume"]  # still bound: a client listens
    await again.aclose()
    await asyncio.sleep(0.1)  # the linger: no task left behind


async def test_a_failed_switch_is_tried_again_by_the_next_client() -> None:
    feed = Feed()
    hub = hub_with(feed)
    await settled()
    feed.fail_next = True
    failed = frames(hub, hub.subscribe(AWA, directory=lambda: DIRECTORY, expires_at=LATER))
    assert await anext(failed) == ": connected\n\n"  # served all the same, without events
    assert feed.switches == ["pause"]
    second = frames(hub, hub.subscribe(AWA, directory=lambda: DIRECTORY, expires_at=LATER))
    await anext(second)
    assert feed.switches == ["pause", "resume"]
    await failed.aclose()
    await second.aclose()
    await asyncio.sleep(0.05)  # the linger: the feed pauses, no task left behind


async def test_without_a_feed_the_hub_serves_streams_as_before() -> None:
    hub = StreamHub(sessions=None)  # type: ignore[arg-type]  # no database, no bus
    stream = frames(hub, hub.subscribe(AWA, directory=lambda: DIRECTORY, expires_at=LATER))
    assert await anext(stream) == ": connected\n\n"
    await stream.aclose()
