"""The fault suite (``make test-faults``; docs/deploy.md, "Faults"): a 3-node RabbitMQ
cluster, PostgreSQL, two replicas of each service, an open-loop load of alerts, messages
and recommendations, and one fault at a time while it runs. After each: everything
accepted paged each of its targets exactly once, and every escalation that fell due
(level 2, ESCALATION_DELAY after the alert) paged the head of office exactly once; at the
end nothing paged anyone else, the log verifies and replays, no outbox row is left and no
message is dead-lettered. It prints the table the README shows.

The cluster is three Debian ``rabbitmq-server`` nodes on this machine
(deploy/scripts/rabbitmq-cluster.sh, which needs root); the services are given every node
(``COORD_AMQP_URLS``) and start on the first. Clients post through either ingest replica,
as through a load balancer, retrying with the same Idempotency-Key when the one they
reached is down: what a person's phone does on a poor link.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.harness import alert_body, new_idempotency_key, wait_until
from tests.e2e.system import System, mint_token
from tests.support.database import fresh_pg_database
from tests.support.directories import REPO_ROOT, directory_for
from tests.support.receiver import WebhookReceiver

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.faults,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(1800),
]

CLUSTER = REPO_ROOT / "deploy" / "scripts" / "rabbitmq-cluster.sh"
TARGETS = ("awa.hfo", "col.okafor", "insp.diallo")  # poc-joint level 1 in beni
SECTOR_COMMANDER = "col.okafor"  # beni's: paged for each message and recommendation
ESCALATED = "lucas.ho"  # poc-joint level 2: paged when nobody acknowledged in time
ESCALATION_DELAY = 45.0  # seconds: poc-joint's level 1 delay in the suite's directory
TIMER_GRACE = 15.0  # seconds an escalation may take after it fell due, under a fault
RATE = float(os.environ.get("COORD_FAULTS_RATE", "4"))  # alerts offered per second (+ RATE/2
# messages and recommendations)
RECOVERY_TIMEOUT = 180.0
PG_CLUSTER = os.environ.get("COORD_FAULTS_PG_CLUSTER", "15 main")
OUTBOXES = ("ingest_outbox", "router_outbox", "notifier_outbox")


def cluster(*args: str) -> str:
    """Run the cluster script; its stdout.

    The faults run it with ``asyncio.to_thread``: the event loop is the phones' (the
    webhook receiver) and the load's, which must go on answering and offering while a
    node stops or starts.
    """
    done = subprocess.run(
        ["bash", str(CLUSTER), *args], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmq-cluster.sh {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout.strip()


@pytest.fixture(scope="module")
def cluster_urls() -> Iterator[str]:
    """A fresh 3-node cluster for the suite; its node URLs, comma-separated."""
    if os.geteuid() != 0:
        pytest.skip("the fault suite starts RabbitMQ nodes as the rabbitmq user: run as root")
    cluster("clean")
    cluster("start")
    try:
        yield cluster("urls")
    finally:
        cluster("clean")


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def system(cluster_urls: str, database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    """ingest, router and notifier, two processes each, on the cluster and PostgreSQL."""
    receiver = await WebhookReceiver().start()
    directory = directory_for(receiver.base_url)
    [joint] = [p for p in directory["escalation_policies"] if p["id"] == "poc-joint"]
    joint["levels"][0]["delay"] = f"{ESCALATION_DELAY:.0f}s"  # escalations fall due in the run
    sut = System(
        tmp_path / "system",
        cluster_urls.split(",", maxsplit=1)[0],
        database_url,
        receiver,
        extra_env={"COORD_AMQP_URLS": cluster_urls, "COORD_DB_POOL_SIZE": "3"},
        directory=directory,
        local_tokens=True,
    )
    try:
        await sut.start(replicas=2)
        yield sut
    finally:
        await sut.aclose()
        await receiver.stop()


@dataclass(frozen=True)
class Submission:
    """One kind of thing the load offers: where it is posted, by whom, and who is paged."""

    kind: str  # alert, message, recommendation
    path: str
    author: str
    targets: tuple[str, ...]

    def body(self, number: int) -> dict[str, Any]:
        """The request of the ``number``-th offer."""
        if self.kind == "alert":
            return alert_body(category="armed_group_movement", severity="moderate",
                              title=f"fault load {number}")  # fmt: skip
        if self.kind == "message":
            return {"to": {"persons": [SECTOR_COMMANDER]},
                    "subject": f"Escort for the Mavivi patrol ({number})",
                    "body": "Confirm an escort for the joint patrol at 14:00."}  # fmt: skip
        return {"addressee": {"role": "sector_commander"}, "sector": "beni",
                "action": f"Deploy a night patrol to the Mavivi road ({number})",
                "rationale": "Three community alerts of armed men near Mavivi this week.",
                # never overdue in the run: its only page is the addressee's
                "due_by": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}  # fmt: skip


ALERT = Submission("alert", "/v1/alerts", "jo.operator", TARGETS)
MESSAGE = Submission("message", "/v1/messages", "awa.hfo", (SECTOR_COMMANDER,))
RECOMMENDATION = Submission("recommendation", "/v1/recommendations", "awa.hfo", (SECTOR_COMMANDER,))


KINDS = tuple(what.kind for what in (ALERT, MESSAGE, RECOMMENDATION))


def offers(number: int) -> list[Submission]:
    """What the ``number``-th tick offers: an alert, and every other tick a message or a
    recommendation in turn (RATE alerts/s and RATE/2 of the others)."""
    if number % 2 == 0:
        return [ALERT]
    return [ALERT, MESSAGE if number % 4 == 1 else RECOMMENDATION]


@dataclass
class Load:
    """The open-loop load: one tick every 1/RATE s, each offer retried until accepted."""

    system: System
    offered: int = 0
    accepted: dict[str, Submission] = field(default_factory=dict)  # subject id -> what
    accepted_at: dict[str, float] = field(default_factory=dict)  # monotonic, when answered
    retries: int = 0
    failed: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _running: asyncio.Task[None] | None = None

    def ingest_urls(self) -> Iterator[str]:
        names = self.system.replicas("ingest")
        return itertools.cycle([self.system.services[n].url for n in names])

    def alerts(self) -> list[str]:
        """The alerts accepted so far, in order."""
        return [s for s, what in self.accepted.items() if what is ALERT]

    async def _post(self, what: Submission, number: int, urls: Iterator[str]) -> None:
        body = what.body(number)
        headers = {"Authorization": f"Bearer {mint_token(what.author)}",
                   "Idempotency-Key": new_idempotency_key()}  # fmt: skip
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        async with httpx.AsyncClient(timeout=10) as client:
            while time.monotonic() < deadline:
                try:
                    response = await client.post(f"{next(urls)}{what.path}", json=body,
                                                 headers=headers)  # fmt: skip
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code in (200, 201, 202):
                    subject = str(response.json()["id"])
                    if subject not in self.accepted:
                        self.accepted[subject] = what
                        self.accepted_at[subject] = time.monotonic()
                    return
                self.retries += 1
                await asyncio.sleep(0.5)
        self.failed += 1

    async def _offer(self) -> None:
        urls = self.ingest_urls()
        start = time.monotonic()
        for number in itertools.count():
            await asyncio.sleep(max(0.0, start + number / RATE - time.monotonic()))
            for what in offers(number):
                self.offered += 1
                task = asyncio.create_task(self._post(what, number, urls))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        self._running = asyncio.create_task(self._offer())

    async def stop(self) -> None:
        """Stop offering; wait for the posts under way."""
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass
class Row:
    fault: str
    offered: int
    accepted: Counter[str]  # kind -> how many
    pages: int
    lost: int
    doubled: int
    resent: int
    escalations_due: int
    escalations_missing: int
    settled_s: float


def escalations_due(load: Load, now: float) -> list[str]:
    """Alerts whose level 2 fell due (with the grace) by ``now``: their escalations."""
    return [a for a in load.alerts() if load.accepted_at[a] + ESCALATION_DELAY + TIMER_GRACE < now]


def deliveries(receiver: WebhookReceiver) -> dict[tuple[str, str], Counter[str]]:
    """(subject, person) -> receipts of each ``X-Coord-Delivery`` (2xx answers only)."""
    found: dict[tuple[str, str], Counter[str]] = {}
    for receipt in receiver.receipts:
        if 200 <= receipt.status < 300:
            pair = (str(receipt.subject_id), receipt.person_id)
            found.setdefault(pair, Counter())[receipt.header("x-coord-delivery") or ""] += 1
    return found


@dataclass(frozen=True)
class Settled:
    """How long until everything was paged, and the moment it was seen so."""

    seconds: float
    at: float  # monotonic: escalations are counted as due at this moment, not later
    accepted: dict[str, Submission]  # what was accepted by then: what the row counts


def expected_pages(accepted: dict[str, Submission]) -> set[tuple[str, str]]:
    """(subject, person) of every page the accepted submissions owe (escalations apart)."""
    return {(subject, person) for subject, what in accepted.items() for person in what.targets}


async def settled(load: Load, receiver: WebhookReceiver) -> Settled:
    """Wait until everything accepted paged each target and each due escalation fired.

    Gives up after RECOVERY_TIMEOUT (the row then shows what is missing).
    """
    start = time.monotonic()
    checked, accepted = start, dict(load.accepted)

    def all_paged() -> bool:
        nonlocal checked, accepted
        checked, accepted = time.monotonic(), dict(load.accepted)
        paged = deliveries(receiver)
        return expected_pages(accepted) <= paged.keys() and all(
            (a, ESCALATED) in paged for a in escalations_due(load, checked)
        )

    with contextlib.suppress(AssertionError):
        await wait_until(all_paged, timeout=RECOVERY_TIMEOUT, interval=0.5)
    return Settled(checked - start, checked, accepted)


def row(fault: str, load: Load, receiver: WebhookReceiver, settle: Settled) -> Row:
    """The fault's line, counted over everything so far.

    The webhook contract is at least once with a key: a notifier that posted a page and
    died (or lost its database) before recording it posts it again with the same
    ``X-Coord-Delivery``, which the receiver drops. So a page *doubled* is a second
    delivery id for one subject and person (two notifications: the router paged twice);
    the same delivery id received again is *re-sent*, and counted apart. A page of a
    submission whose POST is still unanswered is not counted here (checked at the end).
    """
    paged = deliveries(receiver)
    due = escalations_due(load, settle.at)
    return Row(
        fault,
        load.offered,
        Counter(what.kind for what in settle.accepted.values()),
        sum(len(ids) for ids in paged.values()),
        len(expected_pages(settle.accepted) - paged.keys()) + load.failed,
        sum(len(ids) - 1 for ids in paged.values()),
        sum(n - 1 for ids in paged.values() for n in ids.values()),
        len(due),
        sum((a, ESCALATED) not in paged for a in due),
        round(settle.seconds, 1),
    )


async def node_fault(system: System) -> None:
    await asyncio.to_thread(cluster, "kill", "1")  # the node every service started on
    await asyncio.sleep(10)
    await asyncio.to_thread(cluster, "restart", "1")


async def replica_faults(system: System) -> None:
    for kind in ("ingest", "router", "notifier"):
        name = system.replicas(kind)[0]
        await system.kill(name, signal.SIGKILL)
        await asyncio.sleep(3)
        await system.restart(name)


async def database_fault(system: System) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        ["pg_ctlcluster", *PG_CLUSTER.split(), "restart", "-m", "immediate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def paused_router(system: System) -> None:
    name = system.replicas("router")[0]
    await system.kill(name, signal.SIGSTOP, wait=False)
    await asyncio.sleep(20)  # past the timers' leases: the other router takes them
    await system.kill(name, signal.SIGCONT, wait=False)


async def broker_away(system: System) -> None:
    for node in ("1", "2", "3"):
        await asyncio.to_thread(cluster, "stop-app", node)
    await asyncio.sleep(30)  # every accepted alert waits in ingest's outbox
    # Together: a node started alone waits for the one that stopped last (its tables).
    await asyncio.gather(
        *(asyncio.to_thread(cluster, "start-app", node) for node in ("1", "2", "3"))
    )


FAULTS: list[tuple[str, Callable[[System], Awaitable[None]]]] = [
    ("SIGKILL a RabbitMQ node, restart it", node_fault),
    ("SIGKILL a replica of each service in turn, restart it", replica_faults),
    ("restart PostgreSQL (immediate)", database_fault),
    ("SIGSTOP a router replica 20 s, resume it", paused_router),
    ("broker unreachable 30 s, outbox drains", broker_away),
]


def chosen(
    faults: list[tuple[str, Callable[[System], Awaitable[None]]]],
) -> list[tuple[str, Callable[[System], Awaitable[None]]]]:
    """The faults ``COORD_FAULTS_ONLY`` names by number (``5``, ``1,5``); all by default.

    To look into one fault without the eight minutes of all of them; a number that names
    no fault fails the test.
    """
    only = {n.strip() for n in os.environ.get("COORD_FAULTS_ONLY", "").split(",") if n.strip()}
    numbers = {str(number) for number in range(1, len(faults) + 1)}
    # A typo must not pass as a run of no fault at all.
    assert only <= numbers, f"COORD_FAULTS_ONLY names no fault: {sorted(only - numbers)}"
    return [fault for number, fault in enumerate(faults, 1) if not only or str(number) in only]


async def leftovers(database_url: str) -> dict[str, int]:
    """Rows left in each service's outbox."""
    engine = create_async_engine(database_url)
    counts: dict[str, int] = {}
    try:
        async with engine.connect() as connection:
            for table_name in OUTBOXES:
                # the names are the constants above, never input
                query = text(f"SELECT count(*) FROM {table_name}")  # noqa: S608
                counts[table_name] = int((await connection.execute(query)).scalar_one())
    finally:
        await engine.dispose()
    return counts


async def dead_letters() -> dict[str, int]:
    """Messages in each dead-letter queue of the cluster (any node's management API)."""
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as client:
        for port in (15701, 15702, 15703):
            try:
                response = await client.get(f"http://127.0.0.1:{port}/api/queues/%2F")
            except httpx.TransportError:
                continue
            if response.status_code == 200:
                return {
                    q["name"]: int(q.get("messages", 0))
                    for q in response.json()
                    if str(q["name"]).endswith(".dead")
                }
    raise AssertionError("no node of the cluster answers its management API")


def table(rows: list[Row]) -> str:
    lines = [
        "| fault | offered | accepted | alerts / messages / recommendations "
        "| pages delivered | lost | doubled | re-sent (same X-Coord-Delivery) "
        "| escalations due | escalations missing | all paged after (s) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {r.fault} | {r.offered} | {r.accepted.total()} "
        f"| {' / '.join(str(r.accepted[k]) for k in KINDS)} "
        f"| {r.pages} | {r.lost} | {r.doubled} "
        f"| {r.resent} | {r.escalations_due} | {r.escalations_missing} | {r.settled_s} |"
        for r in rows
    ]
    return "\n".join(lines)


async def test_nothing_is_lost_or_doubled_through_each_fault(
    system: System, database_url: str
) -> None:
    load = Load(system)
    rows: list[Row] = []
    load.start()
    try:
        await asyncio.sleep(10)  # a steady state first
        for name, fault in chosen(FAULTS):
            await fault(system)
            rows.append(row(name, load, system.receiver, await settled(load, system.receiver)))
            print(table(rows[-1:]))
    finally:
        await load.stop()
    # Every alert's escalation falls due: wait for the last one, then count.
    await asyncio.sleep(ESCALATION_DELAY + TIMER_GRACE)
    last = await settled(load, system.receiver)
    rows.append(row("(end: load stopped, every escalation due)", load, system.receiver, last))
    report = table(rows)
    print("\n" + report)
    report_path = Path(os.environ.get("COORD_FAULTS_REPORT", "fault-table.md"))
    await asyncio.to_thread(report_path.write_text, report + "\n")

    assert all(r.lost == 0 for r in rows), report
    assert all(r.escalations_missing == 0 for r in rows), report
    assert rows[-1].escalations_due == rows[-1].accepted["alert"], report
    assert all(rows[-1].accepted[kind] for kind in KINDS), report
    assert all(r.doubled == 0 for r in rows), report
    # Every page is one owed by a submission whose POST was answered: none about something
    # nobody was told was accepted, none to anyone else. (Only now: mid-load, a page may
    # come before its POST's answer reaches us.)
    owed = expected_pages(load.accepted) | {(a, ESCALATED) for a in load.alerts()}
    assert set(deliveries(system.receiver)) <= owed
    assert await leftovers(database_url) == dict.fromkeys(OUTBOXES, 0)
    dead = await dead_letters()
    assert dead, "the dead-letter queues are declared"
    assert sum(dead.values()) == 0, dead
    await system.run_coord("audit", "verify", as_person="audit.one")
    await system.run_coord("audit", "replay", as_person="audit.one")
