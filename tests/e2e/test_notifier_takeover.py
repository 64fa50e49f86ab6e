"""End-to-end: a notifier killed right after claiming a page delays it by seconds, not minutes.

The notifier claims each notification for COORD_NOTIFIER_CLAIM_SECONDS (6 s by default)
and renews the claim while it delivers. Killed with SIGKILL while its first POST hangs at
the receiver, it renews no more: RabbitMQ hands its unacknowledged request to the
restarted notifier, which takes the claim over once it lapses and delivers the page -
once, and reported once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from tests.e2e.harness import alert_body, wait_until
from tests.e2e.system import System
from tests.support.receiver import Receipt, WebhookReceiver

# On the default system of its backend, shared with the tests of test_alert_flow.py and
# test_coordination.py (tests/e2e/pool.py): it kills the notifier, which is restarted for
# the next test if need be; it sees only its own webhooks and log lines.
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

AWA = "awa.hfo"  # head_of_field_office of beni: poc-urgent level 1
CLAIM_SECONDS = 6.0  # COORD_NOTIFIER_CLAIM_SECONDS's default, which this test runs with
BOUND = 30.0  # a generous upper bound; the delay is about CLAIM_SECONDS
GRACE = 2.0  # seconds to wait for receipts that must NOT arrive


def _page_of(alert_id: str, status: int | None = None) -> Any:
    def matches(receipt: Receipt) -> bool:
        return (
            receipt.person_id == AWA
            and receipt.kind == "page"
            and receipt.json().get("alert_id") == alert_id
            and (status is None or receipt.status == status)
        )

    return matches


# On SQLite, where the three services share one write lock that the heartbeat must get in
# time (the claim logic runs on both databases in tests/integration).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_notifier_killed_after_its_claim_is_taken_over_within_seconds(
    system: System, receiver: WebhookReceiver
) -> None:
    client = await system.client("jo.operator")
    # The first POST hangs (and would fail): the notifier has claimed the page and is
    # waiting on the receiver when it is killed.
    receiver.respond(AWA, 503, delay=20.0)
    hung = receiver.first_receipt(
        lambda r: r.person_id == AWA and r.kind == "page" and r.status == 503
    )
    response = await system.raise_alert(
        client, alert_body(category="abduction", severity="severe", sector="beni")
    )
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]
    first = await asyncio.wait_for(hung, 30)
    assert first.json()["alert_id"] == alert_id

    receiver.respond(AWA, 200)
    await system.kill("notifier", signal.SIGKILL)
    killed = time.monotonic()
    paged = receiver.first_receipt(_page_of(alert_id, status=200))
    await system.restart("notifier")
    restarted = time.monotonic() - killed
    try:
        receipt = await asyncio.wait_for(paged, BOUND - restarted)
    except TimeoutError:
        raise AssertionError(f"awa's page not delivered within {BOUND} s of the kill") from None
    delay = receipt.at - killed
    print(
        f"\npage delivered {delay:.2f} s after the notifier was killed "
        f"(restarted and ready after {restarted:.2f} s; claim {CLAIM_SECONDS:.0f} s)"
    )
    assert delay < BOUND

    async def reported_once() -> dict[str, Any]:
        view = await system.get_alert(client, alert_id)
        delivered = [
            d
            for d in view.get("deliveries", [])
            if d.get("person_id") == AWA and d.get("status") == "delivered"
        ]
        assert len(delivered) == 1, view.get("deliveries")
        return view

    view = await wait_until(reported_once, timeout=20, message="awa's page reported delivered")
    await asyncio.sleep(GRACE)  # a late duplicate would show up here

    pages = [r for r in receiver.receipts if _page_of(alert_id)(r)]
    # the POST the killed notifier was waiting on, never answered, and the one delivery
    assert [r.status for r in pages] == [503, 200], [(r.status, r.headers) for r in pages]
    # one notification: the receiver can drop the unanswered one's repeat by this id
    assert {r.header("x-coord-delivery") for r in pages} == {first.header("x-coord-delivery")}
    assert receipt.signature_error() is None, receipt.signature_error()
    timeline = [e.get("type") for e in view.get("timeline", [])]
    assert timeline.count("notification.delivered") == 1, timeline
    assert "notification.failed" not in timeline, timeline
    assert system.grep_logs("notification.claim_renewal_failed") == []
