"""Ingest's alert service: accept an alert (idempotently) and read alert views."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import OUTBOX, AlertViewRecord, IdempotencyKeyRecord, TimelineRecord
from shared.contracts import (
    ALERT_RAISED,
)
from shared.contracts.alerts import AlertRaisedV1, RaiseAlertV1
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from shared.metrics import ALERTS_ACCEPTED
from shared.outbox import add_to_outbox

PRODUCER = "ingest"


class UnknownSector(ValueError):
    """The alert names a sector the directory does not have."""


class IdempotencyKeyReused(ValueError):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class Accepted:
    """An accepted alert; ``created`` is False for an idempotent replay."""

    alert_id: UUID
    created: bool


async def raise_alert(
    sessions: async_sessionmaker[AsyncSession],
    directory: Directory,
    person_id: str,
    request: RaiseAlertV1,
    idempotency_key: str | None,
) -> Accepted:
    """Accept an alert: its view, timeline and ``alert.raised`` event in one transaction."""
    if request.sector not in directory.sectors:
        raise UnknownSector(
            f"unknown sector {request.sector!r}; known sectors: {', '.join(directory.sectors)}"
        )
    request_hash = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
    try:
        return await _accept(sessions, person_id, request, idempotency_key, request_hash)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent request with the same key won the race: answer with its alert.
        return await _accept(sessions, person_id, request, idempotency_key, request_hash)


async def _accept(
    sessions: async_sessionmaker[AsyncSession],
    person_id: str,
    request: RaiseAlertV1,
    idempotency_key: str | None,
    request_hash: str,
) -> Accepted:
    async with sessions() as session, session.begin():
        if idempotency_key is not None:
            earlier = await session.get(IdempotencyKeyRecord, (person_id, idempotency_key))
            if earlier is not None:
                if earlier.request_hash != request_hash:
                    raise IdempotencyKeyReused(
                        "Idempotency-Key was already used with a different request body"
                    )
                return Accepted(UUID(earlier.alert_id), created=False)
        now = utc_now()
        alert_id = uuid4()
        raised = AlertRaisedV1(
            **request.model_dump(), alert_id=alert_id, raised_by=person_id, raised_at=now
        )
        envelope = Envelope(
            type=ALERT_RAISED,
            producer=PRODUCER,
            actor=person_id,
            correlation_id=alert_id,
            classification=request.classification,
            occurred_at=now,
            payload=raised.model_dump(mode="json"),
        )
        session.add(_new_view(raised))
        session.add(
            TimelineRecord(
                event_id=str(envelope.id),
                alert_id=str(alert_id),
                type=ALERT_RAISED,
                occurred_at=now,
                detail={"actor": person_id},
            )
        )
        if idempotency_key is not None:
            session.add(
                IdempotencyKeyRecord(
                    person_id=person_id,
                    key=idempotency_key,
                    request_hash=request_hash,
                    alert_id=str(alert_id),
                    created_at=now,
                )
            )
        await add_to_outbox(session, OUTBOX, envelope)
    ALERTS_ACCEPTED.inc()
    return Accepted(alert_id, created=True)


def _new_view(raised: AlertRaisedV1) -> AlertViewRecord:
    return AlertViewRecord(
        alert_id=str(raised.alert_id),
        status="raised",
        title=raised.title,
        description=raised.description,
        category=raised.category.value,
        severity=raised.severity.value,
        urgency=raised.urgency.value,
        certainty=raised.certainty.value,
        sector=raised.sector,
        location=raised.location.model_dump(mode="json"),
        origin=raised.origin.value,
        classification=raised.classification.value,
        raised_by=raised.raised_by,
        raised_at=raised.raised_at,
        policy_id=None,
        level=None,
        targets=[],
    )
