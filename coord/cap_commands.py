"""``coord cap export`` and ``coord cap import``: CAP 1.2 for operators (docs/cap.md).

The same as ``GET /v1/alerts/{id}.cap`` and ``POST /v1/cap``, on the database directly,
as the person ``COORD_TOKEN`` names: need-to-know for exports, the right to raise
alerts for imports. Heavy imports wait until the command runs, so ``coord --help``
stays fast.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

if TYPE_CHECKING:
    from shared.directory import Directory, Person
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


@cap_app.command("import")
def import_command(
    files: Annotated[
        list[Path], typer.Argument(help="CAP 1.2 messages, one per file.", exists=True)
    ],
) -> None:
    """Import partners' CAP 1.2 messages as alerts; one line per file (exit 1 if any refused)."""
    from coord.identity import caller, directory_in_force
    from shared.permissions import Action
    from shared.settings import Settings

    settings = Settings()
    person = caller(settings, Action.RAISE_ALERT)
    directory = directory_in_force(settings)
    lines = asyncio.run(_import_all(settings, directory, person, files))
    for path, (refused, line) in zip(files, lines, strict=True):
        typer.echo(f"{path}: {line}", err=refused)
    if any(refused for refused, _ in lines):
        raise typer.Exit(1)


async def _import_all(
    settings: Settings, directory: Directory, person: Person, files: list[Path]
) -> list[tuple[bool, str]]:
    """Each file imported in turn, on one engine: (refused, what to say) per file."""
    from services.ingest.alerts.partner_import import import_message
    from services.ingest.cap.parsing import parse
    from shared.db import create_engine, session_factory
    from shared.source_protection import SourceKeyRing

    engine = create_engine(settings.database_url)
    sessions, keys = session_factory(engine), SourceKeyRing.from_settings(settings)
    lines = []
    try:
        for path in files:
            try:
                imported = await import_message(
                    sessions,
                    directory,
                    person.id,
                    parse(path.read_bytes()),
                    language=settings.cap_language,
                    keys=keys,
                )
            except ValueError as error:  # CapRefused, InvalidRequest: the sender's problem
                lines.append((True, f"refused: {error}"))
                continue
            ids = " ".join(map(str, imported.alert_ids))
            lines.append((False, f"{'imported' if imported.created else 'imported before'}: {ids}"))
    finally:
        await engine.dispose()
    return lines


@cap_app.command("partner-token")
def partner_token_command(
    partner_id: Annotated[str, typer.Argument(help="The partner's id in the directory.")],
) -> None:
    """Make a partner's feed token: the token (for the partner) and its directory entry.

    The token is shown once and kept nowhere: the directory keeps only its SHA-256.
    """
    from shared.partners import new_token, token_digest

    token = new_token()
    typer.echo(f"token for {partner_id} (give it to the partner; it is shown only once):")
    typer.echo(f"  {token}")
    typer.echo("the directory's entry (under partners:):")
    typer.echo(f"  - id: {partner_id}")
    typer.echo(f"    name: {partner_id}")
    typer.echo(f"    token_sha256: {token_digest(token)}")
