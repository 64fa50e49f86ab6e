"""What ``coord directory check|load`` and ``coord policy dry-run`` do.

The logic is elsewhere and pure (``shared.directory_check``,
``services.router.alerts.dry_run``); this module reads files, talks to the bus and the
database, and prints. ``coord.directory_commands`` imports it when a command runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
import yaml
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from coord.dry_run_output import plain_lines, print_rich
from coord.identity import caller
from services.router.alerts.dry_run import plan_dry_run
from services.router.alerts.routing import AlertFacts
from shared.bus import publish_once
from shared.contracts.alerts import Category, Component, Severity
from shared.contracts.notifications import SUPPORTED_CHANNELS
from shared.db import create_engine, one_session, session_factory
from shared.directory import Directory, load_directory
from shared.directory_check import Problem, check_text
from shared.directory_store import (
    DIRECTORY_REJECTED,
    load_command,
    stored_directory,
    version_of_command,
)
from shared.envelope import Classification
from shared.event_log import EventRecord
from shared.permissions import Action, allowed
from shared.settings import Settings, get_settings
from shared.source_protection import SourceKeyRing

POLL_SECONDS = 0.2


def _echo_problems(path: Path, problems: Sequence[Problem], prefix: str = "") -> None:
    for problem in problems:
        where = f"{path}:{problem.line}" if problem.line is not None else str(path)
        typer.echo(f"{prefix}{where}: {problem.location}: {problem.message}")


def _summary(directory: Directory) -> str:
    return (
        f"{len(directory.people)} people, {len(directory.escalation_policies)} policies, "
        f"{len(directory.routes)} routes"
        + (
            f", {len(directory.community_contacts)} community contacts"
            if directory.community_contacts
            else ""
        )
    )


def check(file: Path) -> None:
    """Check a directory file; name every problem, one per line (exit 1 if any)."""
    problems = check_text(file.read_text(encoding="utf-8"), SUPPORTED_CHANNELS)
    if problems:
        _echo_problems(file, problems)
        typer.echo(f"{len(problems)} problem(s) in {file}")
        raise typer.Exit(1)
    typer.echo(f"ok: {_summary(load_directory(file))}")


def load(file: Path, timeout: float) -> None:
    """Check a file, then make it the live directory of every service (no restart).

    Refused if the check finds a schema or reference error; coverage problems
    (say, a level paging nobody in a sector) are printed as warnings.
    """
    settings = get_settings()
    admin = caller(settings, Action.ADMINISTER_DIRECTORY)
    text = file.read_text(encoding="utf-8")
    problems = check_text(text, SUPPORTED_CHANNELS)
    blocking = [p for p in problems if p.blocking]
    if blocking:
        _echo_problems(file, problems)
        typer.echo(f"refused: {len(blocking)} error(s) in {file}; nothing was loaded")
        raise typer.Exit(1)
    _echo_problems(file, problems, prefix="warning: ")
    directory = Directory.model_validate(yaml.safe_load(text))
    # Focal points' names and phones leave this machine sealed: the command is logged.
    keys = SourceKeyRing.from_settings(settings)
    directory = directory.with_sealed_contacts(keys)
    if not any(allowed(p, Action.ADMINISTER_DIRECTORY) for p in directory.people):
        # The live directory decides who may load the next one: this would lock everyone out.
        typer.echo(
            f"refused: nobody in {file} may administer the directory (role directory_admin); "
            "loading it would leave no one able to load another; nothing was loaded"
        )
        raise typer.Exit(1)
    try:
        outcome = asyncio.run(_load(settings, directory, admin.id, timeout))
    except (OSError, TimeoutError) as error:
        typer.echo(f"cannot reach the broker (COORD_AMQP_URL): {error!r}", err=True)
        raise typer.Exit(1) from error
    except SQLAlchemyError as error:
        typer.echo(_database_problem(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(outcome.message)
    if not outcome.ok:
        raise typer.Exit(1)


def _database_problem(error: Exception) -> str:
    first = str(error).splitlines()[0] if str(error) else repr(error)
    return (
        f"cannot read the directory versions (COORD_DATABASE_URL; migrated with "
        f"'coord db upgrade'?): {first}"
    )


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    message: str


async def _load(
    settings: Settings,
    directory: Directory,
    loaded_by: str,
    timeout: float,  # noqa: ASYNC109 - a polling bound for the router's answer
) -> _Outcome:
    command = load_command(directory, loaded_by)
    sha256 = command.payload["sha256"]
    await publish_once(  # confirmed by the broker
        settings.broker_nodes, [command], delivery_limit=settings.delivery_limit, timeout=timeout
    )
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    deadline = time.monotonic() + timeout
    try:
        while True:
            async with sessions() as session:
                row = await version_of_command(session, str(command.id))
                if row is not None:
                    return _Outcome(
                        ok=True,
                        message=(
                            f"loaded: version {row.version} ({_summary(directory)}), "
                            f"sha256 {row.sha256}, by {row.loaded_by}"
                        ),
                    )
                rejected = (
                    await session.execute(
                        select(EventRecord.payload).where(
                            EventRecord.causation_id == str(command.id),
                            EventRecord.type == DIRECTORY_REJECTED,
                        )
                    )
                ).scalar_one_or_none()
                if rejected is not None:
                    return _Outcome(
                        ok=False, message=f"rejected by the router: {rejected['reason']}"
                    )
            if time.monotonic() >= deadline:
                return _Outcome(
                    ok=False,
                    message=(
                        f"timed out after {timeout:g}s: the router has not stored sha256 {sha256} "
                        "(is the router running?). The command stays queued."
                    ),
                )
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await engine.dispose()


def dry_run(
    *,
    category: Category,
    severity: Severity,
    sector: str,
    origin: Component,
    classification: Classification,
    directory_file: Path | None,
    live: bool,
) -> None:
    """Who is paged for such an alert, on which channels and when, if nobody acknowledges."""
    settings = get_settings()
    if live:
        try:
            directory, source = asyncio.run(_live_directory(settings))
        except (SQLAlchemyError, OSError) as error:
            typer.echo(_database_problem(error), err=True)
            raise typer.Exit(1) from error
    else:
        path = directory_file or settings.directory
        try:
            directory = load_directory(path)
        except (OSError, ValueError) as error:
            typer.echo(f"cannot use {path}: {error}", err=True)
            raise typer.Exit(1) from error
        source = str(path)
    facts = AlertFacts(
        category=category.value,
        severity=severity.value,
        sector=sector,
        origin=origin.value,
        classification=classification.value,
    )
    try:
        plan = plan_dry_run(directory, facts)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    console = Console()
    if console.is_terminal:
        print_rich(console, plan, source)
    else:
        for line in plain_lines(plan, source):
            typer.echo(line)


async def _live_directory(settings: Settings) -> tuple[Directory, str]:
    async with one_session(settings.database_url, read_only=True) as session:
        stored = await stored_directory(session)
    if stored is None:
        typer.echo("no directory was loaded yet (coord directory load FILE)", err=True)
        raise typer.Exit(1)
    return stored.directory, f"live version {stored.version} (loaded by {stored.loaded_by})"
