"""``coord outbox list|retry|drop``: outbox rows the broker refused for good (parked).

A relay parks a row the broker will never take (no queue bound to its type,
too large, nacked again and again) so the rows behind it flow; the services
say so on ``/readyz`` (``"outbox": "degraded: N parked"``) and in the gauge
``coord_outbox_parked``. These commands are the operator's side, for a person
whose roles grant ``administer_outbox`` (``COORD_TOKEN``). Retry and drop are
on the event log: ``outbox.retried`` / ``outbox.dropped`` is staged in the row's
own outbox in the transaction that moves or deletes it, so the log records
exactly what was done.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Table

    from shared.directory import Person
    from shared.envelope import Envelope
    from shared.outbox_parking import ParkedRow
    from shared.settings import Settings

outbox_app = typer.Typer(
    help="Outbox rows the broker refused for good (parked): list, retry, drop.",
    no_args_is_help=True,
)

IdsArgument = Annotated[
    list[str], typer.Argument(help="Message ids of parked rows, as `coord outbox list` shows.")
]


def _outboxes() -> dict[str, Table]:
    # Imported here: `coord --help` need not load every service's tables.
    from services.ingest.tables import OUTBOX as INGEST
    from services.notifier.tables import OUTBOX as NOTIFIER
    from services.router.tables import OUTBOX as ROUTER

    return {"ingest": INGEST, "router": ROUTER, "notifier": NOTIFIER}


def _admin(settings: Settings) -> Person:
    from coord.identity import caller
    from shared.permissions import Action

    return caller(settings, Action.ADMINISTER_OUTBOX)


def _parked(settings: Settings) -> list[ParkedRow]:
    """Every service's parked rows; exit 1 when the database cannot tell."""
    from sqlalchemy.exc import SQLAlchemyError

    from shared.db import one_session
    from shared.outbox_parking import list_parked

    async def read() -> list[ParkedRow]:
        async with one_session(settings.database_url, read_only=True) as session:
            return await list_parked(session, _outboxes())

    try:
        return asyncio.run(read())
    except (SQLAlchemyError, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else repr(error)
        typer.echo(
            f"cannot read the parked rows (COORD_DATABASE_URL; migrated with "
            f"'coord db upgrade'?): {first}",
            err=True,
        )
        raise typer.Exit(1) from None


@outbox_app.command("list")
def list_rows() -> None:
    """Every service's parked rows: id, service, routing key, when parked, why."""
    from shared.settings import get_settings

    settings = get_settings()
    _admin(settings)
    rows = _parked(settings)
    if not rows:
        typer.echo("no parked rows")
        return
    typer.echo("id  service  routing_key  parked_at  reason")
    for row in rows:
        typer.echo(
            f"{row.message_id}  {row.service}  {row.routing_key}  "
            f"{row.parked_at.isoformat()}  {row.reason}"
        )


@outbox_app.command("retry")
def retry(ids: IdsArgument) -> None:
    """Move parked rows back to their outbox: the relay publishes them again."""
    _act("retry", ids)


@outbox_app.command("drop")
def drop(ids: IdsArgument) -> None:
    """Delete parked rows for good (they are never published)."""
    _act("drop", ids)


def _act(action: str, ids: list[str]) -> None:
    """Do ``action`` to each row and stage its record for the log, in one transaction."""
    from shared.contracts.registry import is_published
    from shared.settings import get_settings

    settings = get_settings()
    admin = _admin(settings)
    by_id = {row.message_id: row for row in _parked(settings)}
    unknown = [i for i in dict.fromkeys(ids) if i not in by_id]
    if unknown:
        typer.echo(f"no parked row {', '.join(unknown)} (see coord outbox list); nothing done")
        raise typer.Exit(1)
    rows = [by_id[i] for i in dict.fromkeys(ids)]
    done = asyncio.run(_apply(settings, admin, action, rows))
    for row in rows:
        if row.message_id not in done:
            typer.echo(f"{row.message_id}: no longer parked (someone else acted on it)")
            continue
        verb = "retried" if action == "retry" else "dropped"
        typer.echo(f"{verb} {row.message_id} ({row.service}, {row.routing_key})")
        if action == "retry" and not is_published(row.routing_key):
            typer.echo(
                f"warning: no queue takes {row.routing_key!r} in this release; "
                "it will be parked again"
            )


def _handled(admin: Person, action: str, row: ParkedRow) -> Envelope:
    """``outbox.retried`` / ``outbox.dropped``: what the router puts on the log."""
    from shared.contracts import OUTBOX_DROPPED, OUTBOX_RETRIED
    from shared.contracts.outbox import OutboxRowHandledV1
    from shared.contracts.registry import CLI
    from shared.envelope import Envelope
    from shared.outbox_parking import thread_of

    return Envelope(
        type=OUTBOX_RETRIED if action == "retry" else OUTBOX_DROPPED,
        producer=CLI,
        actor=admin.id,
        correlation_id=thread_of(row.message_id),
        payload=OutboxRowHandledV1(
            person_id=admin.id,
            service=row.service,
            message_id=row.message_id,
            routing_key=row.routing_key,
            reason=row.reason,
        ).model_dump(mode="json"),
    )


async def _apply(settings: Settings, admin: Person, action: str, rows: list[ParkedRow]) -> set[str]:
    """Retry or drop ``rows``, each with its event for the log, in one transaction.

    The event is staged in the same service's outbox as the change: the log records
    exactly what was done, whether or not the broker is up right now.
    """
    from shared.db import one_session
    from shared.outbox import add_to_outbox
    from shared.outbox_parking import drop_parked, unpark

    outboxes = _outboxes()
    done: set[str] = set()
    async with one_session(settings.database_url) as session, session.begin():
        for row in rows:
            change = unpark if action == "retry" else drop_parked
            if await change(session, outboxes[row.service], row.message_id):
                await add_to_outbox(session, outboxes[row.service], _handled(admin, action, row))
                done.add(row.message_id)
    return done
