"""The audit bench's template log: alerts driven through the router's real handler,
every page answered as the notifier answers it (bench/templates.py)."""

from __future__ import annotations

from pathlib import Path

from bench.templates import record_template
from shared.contracts import NOTIFICATION_DELIVERED, NOTIFICATION_REQUESTED
from shared.contracts.notifications import NotificationDeliveredV2


async def test_every_page_of_the_template_is_answered_in_the_request_s_version(
    tmp_path: Path,
) -> None:
    rows = await record_template(tmp_path, alerts=6)

    requested = {r.event_id: r for r in rows if r.type == NOTIFICATION_REQUESTED}
    delivered = [r for r in rows if r.type == NOTIFICATION_DELIVERED]
    assert requested
    assert {r.causation_id for r in delivered} == set(requested)
    for outcome in delivered:
        request = requested[str(outcome.causation_id)]
        assert outcome.schema_version == request.schema_version
        if outcome.schema_version == 2:  # the router reads it as it reads the notifier's
            NotificationDeliveredV2.model_validate(outcome.payload)
