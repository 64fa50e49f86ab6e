"""``coord cap export``: an alert as a CAP 1.2 message, for operators (docs/cap.md).

The same message as ``GET /v1/alerts/{id}.cap``, read from the database under the same
need-to-know: ``COORD_TOKEN`` names the reader. Heavy imports wait until the command
runs, so ``coord --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

if TYPE_CHECKING:
    from shared.directory import Person
    from shared.settings import Settings

cap_app = typer.Typer(help="CAP 1.2: alerts as partners read them.", no_args_is_help=True)


@cap_app.command("export")
def export_command(
    alert_id: Annotated[UUID, typer.Argument(help="The alert's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the alert as its newest CAP 1.2 message (XML), if COORD_TOKEN's person may read it."""
    from coord.identity import caller
    from shared.permissions import Action
    from shared.settings import Settings

    settings = Settings()
    reader = caller(settings, Action.READ)
    message = asyncio.run(_message(settings, alert_id, reader))
    if message is None:
        typer.echo(f"no alert {alert_id} (or none {reader.id} may see)", err=True)
        raise typer.Exit(1)
    if output is None:
        sys.stdout.buffer.write(message + b"\n")
    else:
        output.write_bytes(message)


async def _message(settings: Settings, alert_id: UUID, reader: Person) -> bytes | None:
    from services.ingest.alerts.cap_export import alert_message
    from services.ingest.alerts.queries import get_alert
    from services.ingest.cap.profile import CapProfile
    from shared.db import one_session

    async with one_session(settings.database_url, read_only=True) as session:
        view = await get_alert(session, alert_id, reader)
    return None if view is None else alert_message(view, CapProfile.from_settings(settings))
