"""Short codes on a real database: every open alert has its own, pages carry it, a resolved
alert's code is free again, and every code can be handed out when codes run short."""

from __future__ import annotations

from uuid import uuid4

import pytest

from services.router.alerts import codes
from services.router.alerts.codes import alert_of_code, allocate_code
from services.router.alerts.tables import AlertRecord, OpenAlertCode
from services.router.handlers import RouterHandler
from services.router.tables import OUTBOX
from shared.contracts import ALERT_RESOLVE, NOTIFICATION_REQUESTED
from shared.contracts.escalation import ResolveAlertV1
from shared.envelope import Envelope
from tests.support.builders import raised_envelope
from tests.support.database import Database
from tests.support.directories import directory_with_unreachable_target
from tests.support.outbox import published

pytestmark = pytest.mark.integration


@pytest.fixture
def handler(db: Database) -> RouterHandler:
    directory = directory_with_unreachable_target()
    return RouterHandler(db.sessions, lambda: directory)


async def code_of(db: Database, alert_id: str) -> str | None:
    async with db.sessions() as session:
        record = await session.get(AlertRecord, alert_id)
    assert record is not None
    code = record.summary.get("code")
    assert code is None or isinstance(code, str)
    return code


async def resolve(handler: RouterHandler, raised: Envelope) -> None:
    alert_id = raised.payload["alert_id"]
    await handler(
        raised.caused(
            ALERT_RESOLVE,
            ResolveAlertV1(alert_id=alert_id, person_id="awa.hfo", note="done"),
            producer="ingest",
            actor="awa.hfo",
        )
    )


async def test_each_open_alert_has_its_own_code_and_its_pages_carry_it(
    db: Database, handler: RouterHandler
) -> None:
    raised = [raised_envelope(category="abduction", severity="severe") for _ in range(5)]
    for envelope in raised:
        await handler(envelope)
    alert_codes = [await code_of(db, e.payload["alert_id"]) for e in raised]
    assert all(c is not None and len(c) == 4 and c.isdigit() and c[0] != "0" for c in alert_codes)
    assert len(set(alert_codes)) == 5
    pages = [p for p in await published(db.sessions, OUTBOX) if p.type == NOTIFICATION_REQUESTED]
    assert pages
    for page in pages:
        index = [str(e.payload["alert_id"]) for e in raised].index(str(page.correlation_id))
        assert page.payload["summary"]["code"] == alert_codes[index]


async def test_a_redelivered_raise_keeps_its_one_code(db: Database, handler: RouterHandler) -> None:
    raised = raised_envelope()
    await handler(raised)
    await handler(raised)
    assert await db.count(OpenAlertCode) == 1


async def test_a_resolved_alert_frees_its_code(db: Database, handler: RouterHandler) -> None:
    raised = raised_envelope()
    await handler(raised)
    code = await code_of(db, raised.payload["alert_id"])
    assert code is not None
    async with db.sessions() as session:
        assert await alert_of_code(session, code) == raised.payload["alert_id"]
    await resolve(handler, raised)
    async with db.sessions() as session:
        assert await alert_of_code(session, code) is None
    # The resolved alert's record keeps the code it had: its story still reads right.
    assert await code_of(db, raised.payload["alert_id"]) == code


async def test_when_codes_run_short_every_free_code_is_still_found(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten codes in all: random draws keep hitting taken ones, the search finds the rest.
    monkeypatch.setattr(codes, "FIRST_CODE", 1000)
    monkeypatch.setattr(codes, "LAST_CODE", 1009)
    async with db.sessions.begin() as session:
        taken = [await allocate_code(session, str(uuid4())) for _ in range(10)]
        assert await allocate_code(session, str(uuid4())) is None  # all ten are open
    assert sorted(str(code) for code in taken) == [str(c) for c in range(1000, 1010)]
