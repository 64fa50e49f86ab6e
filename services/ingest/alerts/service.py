"""Ingest's alert service: accept an alert (idempotently) and read alert views.

The alert's source is sealed here, before anything is written: the outbox, the
broker and every later copy only ever hold it encrypted (``shared.source_protection``).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.alerts.queries import alert_view
from services.ingest.alerts.schemas import AlertView
from services.ingest.alerts.tables import AlertViewRecord, TimelineRecord
from services.ingest.errors import InvalidRequest
from services.ingest.idempotency import Created, Keyed, Kind, create_once
from services.ingest.tables import OUTBOX
from shared.addressing import cleared_for
from shared.contracts import (
    ALERT_RAISED,
)
from shared.contracts.alerts import AlertRaisedV2, RaiseAlertV1
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from shared.metrics import ALERTS_ACCEPTED
from shared.outbox import add_to_outbox
from shared.source_protection import SourceKeyRing
from shared.state_rows import take_state

PRODUCER = "ingest"
RAISED_VERSION = 2  # alert.raised v2: the source sealed


@dataclass(frozen=True)
class Raised(Created):
    """An accepted alert; ``view``: as written, when this request created it (no read back)."""

    view: AlertView | None = None


class UnknownSector(InvalidRequest):
    """The alert names a sector the directory does not have (422 at ``sector``)."""

    def __init__(self, message: str) -> None:
        super().__init__([(("sector",), message)])


class AboveClearance(InvalidRequest):
    """The raiser classified the alert above their own clearance (they could not read it)."""

    def __init__(self, message: str) -> None:
        super().__init__([(("classification",), message)])


async def raise_alert(
    sessions: async_sessionmaker[AsyncSession],
    directory: Directory,
    person_id: str,
    request: RaiseAlertV1,
    idempotency_key: str | None,
    *,
    keys: SourceKeyRing,
    reporter: str | None = None,
) -> Raised:
    """Accept an alert: its view, timeline and ``alert.raised`` event in one transaction.

    ``keys`` seal the source, and key the fingerprint an Idempotency-Key keeps of the
    request (a plain hash of a body with a source would let a reader test guesses).
    Raises ``IdempotencyKeyReused`` for a key used before with another request.
    ``reporter``: the community contact whose SMS this is (``services.ingest.sms``).
    """
    check_alert(directory, person_id, request)
    written: list[AlertView] = []

    async def create(session: AsyncSession) -> UUID:
        view, entry = await _write(session, person_id, request, keys, reporter)
        written.append(alert_view(view, [entry]))
        return UUID(view.alert_id)

    keyed = Keyed(Kind.ALERT, person_id, idempotency_key, request)
    accepted = await create_once(sessions, keyed, keys, create)
    if accepted.created:
        ALERTS_ACCEPTED.inc()
    # The last write is the one committed (a lost race on the key writes nothing).
    return Raised(accepted.id, accepted.created, written[-1] if accepted.created else None)


def check_alert(directory: Directory, person_id: str, request: RaiseAlertV1) -> None:
    """Refuse an alert of an unknown sector, or classified above its raiser's clearance."""
    if request.sector not in directory.sectors:
        raise UnknownSector(
            f"unknown sector {request.sector!r}; known sectors: {', '.join(directory.sectors)}"
        )
    raiser = directory.person(person_id)
    if raiser is not None and not cleared_for(raiser, request.classification):
        raise AboveClearance(
            f"{raiser.id} is cleared for {raiser.clearance.value} only and cannot raise "
            f"a {request.classification.value} alert"
        )


async def write_alert(
    session: AsyncSession,
    person_id: str,
    request: RaiseAlertV1,
    keys: SourceKeyRing,
    reporter: str | None = None,
) -> UUID:
    """Write a checked alert (view, timeline, ``alert.raised``) in ``session``'s transaction.

    Its source is sealed here. ``raise_alert`` is the way in for a request; this is for
    a caller that must write the alert with something else, atomically (triage).
    """
    view, _ = await _write(session, person_id, request, keys, reporter)
    return UUID(view.alert_id)


async def _write(
    session: AsyncSession,
    person_id: str,
    request: RaiseAlertV1,
    keys: SourceKeyRing,
    reporter: str | None,
) -> tuple[AlertViewRecord, TimelineRecord]:
    """``write_alert``, giving back the view and timeline rows as written (flushed)."""
    now = utc_now()
    alert_id = uuid4()
    raised = AlertRaisedV2(
        **request.model_dump(exclude={"source"}),
        source=keys.seal(request.source, alert_id) if request.source else None,
        alert_id=alert_id,
        raised_by=person_id,
        raised_at=now,
        reporter=reporter,
    )
    envelope = Envelope(
        type=ALERT_RAISED,
        schema_version=RAISED_VERSION,
        producer=PRODUCER,
        actor=person_id,
        correlation_id=alert_id,
        classification=request.classification,
        occurred_at=now,
        payload=raised.model_dump(mode="json"),
    )
    view = _new_view(raised)
    entry = TimelineRecord(
        event_id=str(envelope.id),
        alert_id=str(alert_id),
        type=ALERT_RAISED,
        occurred_at=now,
        detail={"actor": person_id},
    )
    session.add_all((view, entry))
    await add_to_outbox(session, OUTBOX, envelope)
    await session.flush()  # the rows' defaults are set: the view can be answered from them
    return view, entry


def _new_view(raised: AlertRaisedV2) -> AlertViewRecord:
    view = AlertViewRecord(status="raised", policy_id=None, level=None, targets=[])
    take_state(view, raised)  # the alert as raised: every field the view has a column for
    return view
