"""End-to-end resilience: a crashed router and a restarted broker lose and double nothing.

Every accepted alert must page each of its targets exactly once: no loss (outbox + durable
queues + manual acks) and no duplicate (idempotent consumers).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
from collections import Counter

import httpx
import pytest

from tests.e2e.harness import alert_body, wait_until
from tests.e2e.pool import DEFAULT
from tests.e2e.system import System
from tests.support.receiver import WebhookReceiver

# A system of its own per test (tests/e2e/pool.py): they kill the router or stop the whole
# broker, count every webhook and every start of a service.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.system_spec(DEFAULT.fresh()),
]

JOINT_TARGETS = ("awa.hfo", "col.okafor", "insp.diallo")  # poc-joint level 1 in beni
GRACE = 3.0  # seconds to wait for receipts that must NOT arrive
RABBITMQCTL = shlex.split(os.environ.get("COORD_TEST_RABBITMQCTL", "rabbitmqctl"))


def _describe(counts: Counter[tuple[str, str]], expected: set[tuple[str, str]]) -> str:
    missing = sorted(expected - set(counts))
    duplicated = sorted((pair, n) for pair, n in counts.items() if n > 1)
    unexpected = sorted(pair for pair in counts if pair not in expected)
    return (
        f"{len(expected)} expected pairs, {len(set(counts) & expected)} received, "
        f"{sum(counts.values())} receipts; missing {len(missing)} e.g. {missing[:5]}; "
        f"duplicated {len(duplicated)} e.g. {duplicated[:5]}; "
        f"unexpected {len(unexpected)} e.g. {unexpected[:5]}"
    )


async def _trace(system: System, alert_ids: list[str]) -> str:
    """Where each alert got to: its view and every log line naming it (for a failure)."""
    client = await system.client("jo.operator")
    parts = []
    for alert_id in alert_ids:
        view = await client.get(f"/v1/alerts/{alert_id}")
        lines = "\n".join(system.grep_logs(alert_id)[:40]) or "(no log line names it)"
        parts.append(f"== {alert_id}: {view.status_code} {view.text[:1500]}\n{lines}")
    return "\n".join(parts)


async def _assert_exactly_once(
    system: System,
    receiver: WebhookReceiver,
    expected: set[tuple[str, str]],
    timeout: float,  # noqa: ASYNC109 - a polling bound
) -> None:
    try:
        await wait_until(
            lambda: expected <= set(receiver.pair_counts()),
            timeout=timeout,
            interval=0.25,
            message=lambda: (
                "every (alert, target) paged: " + _describe(receiver.pair_counts(), expected)
            ),
        )
    except AssertionError as error:
        missing = sorted({alert for alert, _ in expected - set(receiver.pair_counts())})
        raise AssertionError(f"{error}\n{await _trace(system, missing[:3])}") from None
    await asyncio.sleep(GRACE)  # late duplicates would show up here
    counts = receiver.pair_counts()
    duplicated = {pair: n for pair, n in counts.items() if n > 1}
    unexpected = set(counts) - expected
    assert not duplicated, _describe(counts, expected)
    assert not unexpected, _describe(counts, expected)
    assert sum(counts.values()) == len(expected), _describe(counts, expected)
    # one delivery id per pair, i.e. not two notifications that each arrived once
    deliveries = Counter(r.header("x-coord-delivery") for r in receiver.receipts)
    assert all(n == 1 for n in deliveries.values()), [d for d, n in deliveries.items() if n > 1][:5]


# The router killed between two escalation levels runs on both databases in
# test_escalation.py; this one, with 200 alerts in flight, on PostgreSQL (replicas' path).
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_router_crash_loses_and_doubles_nothing(
    system: System, receiver: WebhookReceiver
) -> None:
    total = 200
    client = await system.client("jo.operator")
    semaphore = asyncio.Semaphore(20)
    responses: list[httpx.Response] = []

    async def post(i: int) -> None:
        async with semaphore:
            body = alert_body(
                category="armed_group_movement", severity="moderate", title=f"movement {i}"
            )
            responses.append(await system.raise_alert(client, body))

    async def post_all() -> None:
        await asyncio.gather(*(post(i) for i in range(total)))

    poster = asyncio.create_task(post_all())
    try:
        # kill while work is in flight: some receipts arrived, far from all
        await wait_until(
            lambda: len(receiver.receipts) >= 30 or poster.done(), timeout=60, interval=0.02
        )
        received_at_kill = len(receiver.receipts)
        posted_at_kill = len(responses)
        code = await system.kill("router", signal.SIGKILL)
        assert code == -signal.SIGKILL
        assert received_at_kill < total * len(JOINT_TARGETS), (
            "all work was done before the kill: the crash did not hit work in flight"
        )
        await system.restart("router")
        await asyncio.wait_for(asyncio.shield(poster), timeout=60)
    finally:
        if not poster.done():
            poster.cancel()
            await asyncio.gather(poster, return_exceptions=True)

    bad = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 201]
    assert not bad, f"{len(bad)} posts not accepted, e.g. {bad[:5]}"
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == total
    expected = {(alert_id, person) for alert_id in ids for person in JOINT_TARGETS}
    await _assert_exactly_once(system, receiver, expected, timeout=90)
    print(f"router SIGKILLed after {posted_at_kill} posts and {received_at_kill} receipts")


async def _rabbitmqctl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *RABBITMQCTL,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} timed out") from None
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {out.decode(errors='replace')}")
    return out.decode(errors="replace")


@pytest.mark.broker_restart
async def test_broker_restart_loses_and_doubles_nothing(
    system: System, receiver: WebhookReceiver
) -> None:
    """Alerts keep being accepted while the broker is down; all reach their target once.

    A streamer posts a few alerts at a time, continuously; the test stops the broker app
    after ~30 accepted alerts, keeps it down until >= 20 more posts were made during the
    full outage, starts it again, and stops the stream ~20 posts later.
    """
    batch, pause, max_total = 4, 0.1, 400
    client = await system.client("jo.operator")
    # (index, status or None, alert id or error text, posted entirely while the broker was down)
    results: list[tuple[int, int | None, str, bool]] = []
    state = {"broker_down": False, "stop": False, "next": 0}

    async def post(i: int) -> None:
        down_at_start = bool(state["broker_down"])
        body = alert_body(category="abduction", severity="severe", title=f"broker restart {i}")
        try:
            response = await system.raise_alert(client, body)
        except httpx.HTTPError as error:
            results.append((i, None, repr(error), False))
            return
        during_outage = down_at_start and bool(state["broker_down"])
        if response.status_code == 201:
            results.append((i, 201, response.json()["id"], during_outage))
        else:
            results.append((i, response.status_code, response.text[:300], during_outage))

    async def stream() -> None:
        while not state["stop"] and state["next"] < max_total:
            first = state["next"]
            state["next"] += batch
            await asyncio.gather(*(post(i) for i in range(first, first + batch)))
            await asyncio.sleep(pause)

    def accepted() -> int:
        return len(results)

    streamer = asyncio.create_task(stream())
    try:
        await wait_until(lambda: accepted() >= 30 or streamer.done(), timeout=60)
        assert not streamer.done(), f"the stream ended early: {results[-5:]}"
        try:
            await _rabbitmqctl("stop_app")
            state["broker_down"] = True
            stopped_at = accepted()
            # posts during the full outage (bounded: at most ~30 s of outage)
            for _ in range(300):
                if accepted() >= stopped_at + 20 or streamer.done():
                    break
                await asyncio.sleep(0.1)
        finally:
            # never leave the broker stopped (also when stop_app itself failed half-way)
            state["broker_down"] = False
            await _rabbitmqctl("start_app")
        started_at = accepted()
        await wait_until(lambda: accepted() >= started_at + 20 or streamer.done(), timeout=60)
        state["stop"] = True
        await asyncio.wait_for(asyncio.shield(streamer), timeout=60)
    finally:
        state["stop"] = True
        if not streamer.done():
            streamer.cancel()
            await asyncio.gather(streamer, return_exceptions=True)

    rejected = [r[:3] for r in results if r[1] != 201]
    assert not rejected, (
        f"{len(rejected)} of {len(results)} posts not accepted (the outbox should decouple the "
        f"API from the broker), e.g. {rejected[:5]}"
    )
    during_outage = sum(1 for r in results if r[3])
    assert during_outage > 0, "no alert was posted while the broker was down"

    # the services reconnect by themselves (no restart)
    for name, service in system.services.items():
        assert service.starts == 1
        assert service.running(), f"{name} died: {system.log_tail(name)}"
        await system.wait_ready(name, timeout=60)

    ids = {r[2] for r in results}
    assert len(ids) == len(results)
    await _assert_exactly_once(
        system, receiver, {(alert_id, "awa.hfo") for alert_id in ids}, timeout=90
    )
    print(f"{len(results)} alerts posted, {during_outage} while the broker was stopped")
