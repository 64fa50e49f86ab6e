"""``coord directory check|load`` and ``coord policy dry-run``: the admin's directory tools.

The logic is elsewhere and pure (``shared.directory_check``,
``services.router.dry_run``); this module reads files, talks to the bus and the
database, and prints.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from services.router.dry_run import (
    DryRun,
    PlannedPage,
    PlannedStep,
    format_duration,
    format_offset,
    plan_dry_run,
)
from services.router.routing import SUPPORTED_CHANNELS, AlertFacts
from services.router.tables import EventRecord
from shared.bus import Bus, to_outgoing
from shared.contracts.alerts import Category, Component, Severity
from shared.db import create_engine, session_factory
from shared.directory import Directory, load_directory
from shared.directory_check import Problem, check_text
from shared.directory_store import (
    DIRECTORY_REJECTED,
    load_command,
    stored_directory,
    version_of_command,
)
from shared.envelope import Classification
from shared.settings import Settings, get_settings

directory_app = typer.Typer(help="The directory and policy file.", no_args_is_help=True)
policy_app = typer.Typer(help="Escalation policies.", no_args_is_help=True)

FileArgument = Annotated[
    Path, typer.Argument(help="Directory YAML file.", exists=True, dir_okay=False, readable=True)
]
POLL_SECONDS = 0.2


def _echo_problems(path: Path, problems: Sequence[Problem], prefix: str = "") -> None:
    for problem in problems:
        where = f"{path}:{problem.line}" if problem.line is not None else str(path)
        typer.echo(f"{prefix}{where}: {problem.location}: {problem.message}")


def _summary(directory: Directory) -> str:
    return (
        f"{len(directory.people)} people, {len(directory.escalation_policies)} policies, "
        f"{len(directory.routes)} routes"
    )


@directory_app.command("check")
def check(file: FileArgument) -> None:
    """Check a directory file; name every problem, one per line (exit 1 if any)."""
    problems = check_text(file.read_text(encoding="utf-8"), SUPPORTED_CHANNELS)
    if problems:
        _echo_problems(file, problems)
        typer.echo(f"{len(problems)} problem(s) in {file}")
        raise typer.Exit(1)
    typer.echo(f"ok: {_summary(load_directory(file))}")


@directory_app.command("load")
def load(
    file: FileArgument,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the router to store it.")
    ] = 15.0,
) -> None:
    """Check a file, then make it the live directory of every service (no restart).

    Refused if the check finds a schema or reference error; coverage problems
    (say, a level paging nobody in a sector) are printed as warnings.
    """
    text = file.read_text(encoding="utf-8")
    problems = check_text(text, SUPPORTED_CHANNELS)
    blocking = [p for p in problems if p.blocking]
    if blocking:
        _echo_problems(file, problems)
        typer.echo(f"refused: {len(blocking)} error(s) in {file}; nothing was loaded")
        raise typer.Exit(1)
    _echo_problems(file, problems, prefix="warning: ")
    directory = Directory.model_validate(yaml.safe_load(text))
    loaded_by = os.environ.get("USER") or "admin"
    settings = get_settings()
    try:
        outcome = asyncio.run(_load(settings, directory, loaded_by, timeout))
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
    bus = Bus(settings.amqp_url, prefetch=1, delivery_limit=settings.delivery_limit)
    await asyncio.wait_for(bus.connect(), timeout)
    try:
        await asyncio.wait_for(bus.publish([to_outgoing(command)]), timeout)  # confirmed
    finally:
        await bus.close()
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


# --------------------------------------------------------------------------- policy dry-run


@policy_app.command("dry-run")
def dry_run(
    *,
    category: Annotated[Category, typer.Option(help="The alert's category.")],
    severity: Annotated[Severity, typer.Option(help="The alert's severity.")],
    sector: Annotated[str, typer.Option(help="The alert's sector.")],
    origin: Annotated[Component, typer.Option(help="Who raised it.")] = Component.COMMUNITY,
    classification: Annotated[
        Classification, typer.Option(help="The alert's classification.")
    ] = Classification.UNCLASSIFIED,
    directory_file: Annotated[
        Path | None,
        typer.Option(
            "--directory", help="Directory file (default: COORD_DIRECTORY).", dir_okay=False
        ),
    ] = None,
    live: Annotated[
        bool, typer.Option(help="Use the live directory (the latest loaded version).")
    ] = False,
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
        _print_rich(console, plan, source)
    else:
        for line in plain_lines(plan, source):
            typer.echo(line)


async def _live_directory(settings: Settings) -> tuple[Directory, str]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            stored = await stored_directory(session)
    finally:
        await engine.dispose()
    if stored is None:
        typer.echo("no directory was loaded yet (coord directory load FILE)", err=True)
        raise typer.Exit(1)
    return stored.directory, f"live version {stored.version} (loaded by {stored.loaded_by})"


def _person(page: PlannedPage) -> str:
    return f"{page.person_id} ({page.name}, {page.component})"


def _channels(page: PlannedPage) -> str:
    if not page.contacts:
        return "no supported contact: JOC told instead"
    return ", ".join(f"{c.channel} {c.address}" for c in page.contacts)


def _match(match: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in match.items()) or "every alert"


def _head(plan: DryRun, source: str) -> list[str]:
    facts = plan.facts
    lines = [
        f"alert: {facts.category}, {facts.severity}, sector {facts.sector}, "
        f"origin {facts.origin}, {facts.classification}",
        f"directory: {source}",
    ]
    for n, route in enumerate(plan.routes):
        role = "snapshotted policy" if n == 0 else "adds its level-1 targets to level 1"
        more = ", continue" if route.continue_ else ""
        lines.append(
            f"route: routes[{route.index}] ({_match(route.match)}{more}) "
            f"-> {route.policy_id} ({role})"
        )
    if plan.unrouted:
        lines.append("route: no route matches: nobody is paged; the JOC sees alert.unrouted")
        return lines
    levels = len({step.level for step in plan.steps})
    ack = format_duration(plan.ack_timeout) if plan.ack_timeout else "none"
    lines.append(
        f"policy: {plan.policy_id}, {levels} level(s), {plan.loops} loop(s) "
        f"(repeat {plan.loops - 1}), ack timeout {ack}"
    )
    return lines


def _step_label(step: PlannedStep) -> str:
    quorum = " (quorum: one ack per component)" if step.quorum else ""
    return f"loop {step.loop} level {step.level}{quorum}"


def _tail(plan: DryRun) -> list[str]:
    lines: list[str] = []
    if plan.exhausted_at is not None:
        joc = ", ".join(
            p.person_id + ("" if p.reachable else " (no supported contact)") for p in plan.joc
        )
        lines.append(
            f"{format_offset(plan.exhausted_at)}  escalation exhausted: nobody acknowledged "
            f"in {plan.loops} loop(s); JOC told: {joc or 'nobody (no joc_operator)'}"
        )
    if plan.ack_timeout is not None:
        lines.append(
            f"ack timeout: acknowledged but not resolved within "
            f"{format_duration(plan.ack_timeout)} -> re-triggered, paged again from level 1"
        )
    lines.extend(f"warning: {w}" for w in plan.warnings)
    return lines


def plain_lines(plan: DryRun, source: str) -> list[str]:
    """The dry run as plain text lines (for pipes, files and tests)."""
    lines = _head(plan, source)
    width = max((len(format_offset(s.at)) for s in plan.steps), default=3)
    for step in plan.steps:
        when = format_offset(step.at).ljust(width)
        if step.pages_nobody:
            lines.append(
                f"{when}  {_step_label(step)}: nobody (no target in sector {plan.facts.sector!r})"
            )
        lines.extend(
            f"{when}  {_step_label(step)}: {_person(page)}: {_channels(page)}"
            for page in step.pages
        )
    return lines + _tail(plan)


def _print_rich(console: Console, plan: DryRun, source: str) -> None:
    for line in _head(plan, source):
        key, _, rest = line.partition(": ")
        console.print(f"[bold]{key}:[/bold] {escape(rest)}", highlight=False)
    if plan.steps:
        table = Table(show_lines=False)
        for column in ("when", "loop", "level", "paged", "channels (in order)"):
            table.add_column(column)
        for step in plan.steps:
            level = f"{step.level}" + (" quorum" if step.quorum else "")
            if step.pages_nobody:
                table.add_row(
                    format_offset(step.at),
                    str(step.loop),
                    level,
                    "[red]nobody[/red]",
                    "",
                    end_section=True,
                )
            for n, page in enumerate(step.pages):
                last = n == len(step.pages) - 1
                channels = escape(_channels(page))
                table.add_row(
                    format_offset(step.at) if n == 0 else "",
                    str(step.loop) if n == 0 else "",
                    level if n == 0 else "",
                    escape(_person(page)),
                    channels if page.reachable else f"[red]{channels}[/red]",
                    end_section=last,
                )
        console.print(table)
    for line in _tail(plan):
        style = "yellow" if line.startswith("warning:") else "bold"
        console.print(f"[{style}]{escape(line)}[/{style}]", highlight=False)
