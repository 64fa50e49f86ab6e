"""Import a partner's CAP message: its alerts written at once, or none (docs/cap.md).

A message is imported once: its ``sender`` and ``identifier`` are kept with the alerts
it became (``ingest_cap_imports``), in the transaction that writes them, so the same
message again answers with the same alerts and pages nobody twice. An ``Update`` becomes
an alert with the dedup key of the incident it updates, which the router folds into the
open alert (raising its severity or urgency when the update does).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.alerts.cap_import import Unplaced, alerts_from
from services.ingest.alerts.service import check_alert, write_alert
from services.ingest.alerts.tables import CapImportRecord
from services.ingest.cap.message import CapMessage
from services.ingest.errors import InvalidRequest
from shared.directory import Directory
from shared.envelope import utc_now
from shared.partners import Partner
from shared.source_protection import SourceKeyRing

IMPORTED_TYPES = ("Alert", "Update")


@dataclass(frozen=True)
class Imported:
    """The alerts a message became; ``created`` False when it had been imported before."""

    alert_ids: list[UUID]
    created: bool


async def _known(session: AsyncSession, message: CapMessage) -> list[UUID] | None:
    rows = (
        await session.scalars(
            select(CapImportRecord)
            .where(
                CapImportRecord.sender == message.sender,
                CapImportRecord.identifier == message.identifier,
            )
            .order_by(CapImportRecord.position)
        )
    ).all()
    return [UUID(r.alert_id) for r in rows] if rows else None


def _importable(message: CapMessage) -> None:
    if message.status != "Actual":
        raise InvalidRequest(
            [(("status",), f"only Actual messages become alerts, not {message.status}")]
        )
    if message.msg_type not in IMPORTED_TYPES:
        raise InvalidRequest(
            [
                (
                    ("msgType",),
                    f"{message.msg_type} is not imported (only {' and '.join(IMPORTED_TYPES)}): "
                    "resolve the alert on the board",
                )
            ]
        )
    if not message.infos:
        raise InvalidRequest([(("info",), "the message has no info block: nothing to raise")])


async def import_message(
    sessions: async_sessionmaker[AsyncSession],
    directory: Directory,
    person_id: str,
    message: CapMessage,
    *,
    language: str,
    keys: SourceKeyRing,
    partner: Partner | None = None,
) -> Imported:
    """Raise the alerts ``message`` becomes, as ``person_id``.

    ``partner``: the partner that sent it, which raises alerts in its sectors only.
    :class:`InvalidRequest` (422, naming the CAP element) when it cannot become any.
    """
    async with sessions() as session:
        known = await _known(session, message)
    if known is not None:
        return Imported(known, created=False)
    _importable(message)
    try:
        imported = alerts_from(message, directory, language)
    except Unplaced as error:
        raise InvalidRequest([(("info", "area"), str(error))]) from None
    for each in imported:
        check_alert(directory, person_id, each.alert)
        if partner is not None and not partner.covers(each.alert.sector):
            raise InvalidRequest(
                [
                    (
                        ("info", "area"),
                        f"the area is in sector {each.alert.sector}: {person_id} raises "
                        f"alerts in {', '.join(partner.sectors)} only",
                    )
                ]
            )
    now = utc_now()
    try:
        async with sessions.begin() as session:
            ids = [await write_alert(session, person_id, a.alert, keys) for a in imported]
            session.add_all(
                CapImportRecord(
                    sender=message.sender,
                    identifier=message.identifier,
                    position=position,
                    alert_id=str(alert_id),
                    msg_type=message.msg_type,
                    imported_by=person_id,
                    imported_at=now,
                )
                for position, alert_id in enumerate(ids)
            )
    except IntegrityError:  # the same message imported concurrently: theirs stands
        async with sessions() as session:
            known = await _known(session, message)
        if known is None:
            raise
        return Imported(known, created=False)
    return Imported(ids, created=True)
