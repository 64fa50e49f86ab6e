"""``coord audit``: verify the event log's hash chain, print its head, export it.

Every command that reads the log first publishes ``audit.accessed`` (the router
puts it on the log), so reading the audit log is itself audited; when that
cannot be recorded (the broker is down) the command refuses to read. Long runs
show a progress bar on a terminal and stay quiet otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from shared.directory import Person
    from shared.event_log import Head
    from shared.settings import Settings
    from shared.source_protection import SourceKeyRing

audit_app = typer.Typer(
    help="The tamper-evident event log (COORD_DATABASE_URL): verify, head, export.",
    no_args_is_help=True,
)


def _auditor(settings: Settings) -> Person:
    """Who runs the command (COORD_TOKEN), if their roles grant audit; exit 2 otherwise."""
    from coord.identity import caller
    from shared.permissions import Action

    return caller(settings, Action.AUDIT)


class ExportFormat(StrEnum):
    """How ``coord audit export`` writes."""

    JSONL = "jsonl"
    CSV = "csv"


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def record_access_or_refuse(
    settings: Settings, person: Person, action: str, filters: dict[str, str], *, revealed: bool
) -> None:
    """Publish ``audit.accessed`` (confirmed by the broker) before the log is read.

    When it cannot be recorded (the broker is down), the command refuses to read: exit 1.
    """
    from shared.audit_export import access_event
    from shared.bus import publish_once

    event = access_event(
        producer="coord-cli",
        person_id=person.id,
        via="cli",
        action=action,
        filters=filters,
        revealed=revealed,
    )
    publishing = publish_once(
        settings.broker_nodes, [event], delivery_limit=settings.delivery_limit, timeout=15
    )
    try:
        asyncio.run(publishing)
    except Exception as error:  # noqa: BLE001 - any failure to record refuses the read
        typer.echo(
            f"cannot record this access on the log (is RabbitMQ up? COORD_AMQP_URL): {error!r}",
            err=True,
        )
        raise typer.Exit(1) from None


def _session(settings: Settings) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
    from shared.db import one_session

    return one_session(settings.database_url, read_only=True)  # never holds the write lock


class _Progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, description: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._bar: Progress | None = None
        if sys.stderr.isatty():
            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task(description, total=total)
            self._bar.start()

    @classmethod
    async def over_the_log(cls, description: str, session: AsyncSession) -> _Progress:
        """A bar over every record of the log; the records are counted only for a terminal."""
        from shared.event_log import head

        # Records are never deleted: the last seq is how many there are.
        total = (await head(session)).seq if sys.stderr.isatty() else 0
        return cls(description, total)

    def advance(self) -> None:
        """One more record done."""
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()


@audit_app.command("verify")
def verify_command(
    head: Annotated[
        str | None,
        typer.Option(help="A head recorded earlier (SEQ:HASH from `coord audit head`)."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="Verify an export (JSON Lines or CSV) instead of the log.")
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            min=0,
            help="Processes checking ranges of the log side by side; 0: one per core "
            "(up to 4) on a log of 50,000 records or more, else one.",
        ),
    ] = 0,
) -> None:
    """Check the whole hash chain; exit 1 naming the first bad sequence number."""
    if file is not None:
        from shared.audit_export import read_export, verify_export

        checked, problem = verify_export(read_export(file.read_text(encoding="utf-8")))
        _report(checked, problem, None)
        return
    from shared.event_log import Head
    from shared.settings import get_settings

    try:
        expected = Head.parse(head) if head else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--head") from None
    settings = get_settings()
    record_access_or_refuse(
        settings, _auditor(settings), "verify", {"head": head or ""}, revealed=False
    )
    asyncio.run(_verify(settings, expected, jobs))


async def _verify(settings: Settings, expected: Head | None, jobs: int) -> None:
    from shared.event_log import head, verify
    from shared.log_verification import jobs_for, verify_in_parallel

    async with _session(settings) as session:
        last = await head(session)
        jobs = jobs or jobs_for(last.seq)
        if jobs > 1:
            checked, problem, end = await verify_in_parallel(
                settings.database_url, last, jobs, expected
            )
            _report(checked, problem, str(end))
            return
        progress = await _Progress.over_the_log("verifying", session)
        try:
            check = await verify(session, expected, on_record=lambda _: progress.advance())
        finally:
            progress.stop()
    _report(check.checked, check.problem, str(check.head))


def _report(checked: int, problem: object, head: str | None) -> None:
    from shared.event_log import Problem

    if isinstance(problem, Problem):
        typer.echo(f"BROKEN at seq {problem.seq}: {problem.reason}")
        raise typer.Exit(1)
    suffix = f", head {head}" if head else ""
    typer.echo(f"ok: {checked} records chained{suffix}")


@audit_app.command("head")
def head_command() -> None:
    """Print the head (SEQ:HASH) to record somewhere the log's writers cannot reach."""
    from shared.event_log import head
    from shared.settings import get_settings

    settings = get_settings()
    record_access_or_refuse(settings, _auditor(settings), "head", {}, revealed=False)

    async def read() -> str:
        async with _session(settings) as session:
            return str(await head(session))

    typer.echo(asyncio.run(read()))


@audit_app.command("export")
def export_command(  # noqa: PLR0917 - typer options, one per filter of the issue
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = (
        ExportFormat.JSONL
    ),
    since: Annotated[str | None, typer.Option(help="Recorded at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded before (ISO 8601).")] = None,
    alert: Annotated[
        str | None, typer.Option(help="Only this alert's (or thread's) events.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this type.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export the log with its chain links; `coord audit verify --file` re-verifies it."""
    from shared.audit_export import may_see_protected
    from shared.settings import get_settings

    settings = get_settings()
    start, end = _time(since, "--since"), _time(until, "--until")
    person = _auditor(settings)
    # The auditor's clearance decides: only STRICTLY CONFIDENTIAL opens an alert's source.
    reveal = may_see_protected(person.clearance)
    # Only a cleared reader's export opens sources: nobody else's touches the keys.
    keys = _source_keys(settings) if reveal else None
    filters = {
        k: v
        for k, v in {"since": since, "until": until, "alert": alert, "type": type_}.items()
        if v
    }
    record_access_or_refuse(settings, person, "export", filters, revealed=reveal)
    stream = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        asyncio.run(
            _export(settings, stream, fmt, (start, end, alert, type_), reveal=reveal, keys=keys)
        )
    finally:
        if output:
            stream.close()


def _source_keys(settings: Settings) -> SourceKeyRing:
    """The key ring that opens sealed sources; exit 1 naming what is wrong with it."""
    from shared.source_protection import InvalidSourceKeys, SourceKeyRing

    try:
        return SourceKeyRing.from_settings(settings)
    except InvalidSourceKeys as error:
        typer.echo(f"COORD_SOURCE_KEYS: {error}", err=True)
        raise typer.Exit(1) from None


async def _export(
    settings: Settings,
    stream: TextIO,
    fmt: ExportFormat,
    filters: tuple[datetime | None, datetime | None, str | None, str | None],
    *,
    reveal: bool,
    keys: SourceKeyRing | None,
) -> None:
    from shared.audit_export import csv_header, exported, to_csv_line, to_json_line
    from shared.event_log import LogFilter, records

    start, end, alert, type_ = filters
    where = LogFilter(since=start, until=end, correlation_id=alert, type=type_)
    if fmt is ExportFormat.CSV:
        stream.write(csv_header())
    async with _session(settings) as session:
        async for record in records(session, where=where):
            item = exported(record, reveal_protected=reveal, keys=keys)
            stream.write(
                to_csv_line(item) if fmt is ExportFormat.CSV else to_json_line(item) + "\n"
            )


@audit_app.command("replay")
def replay_command(
    as_of: Annotated[
        str | None, typer.Option(help="Replay only what was logged up to this time (ISO 8601).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Also write the rebuilt states here (JSON Lines).")
    ] = None,
) -> None:
    """Rebuild every alert, message and recommendation from the log; compare with the live state.

    Without --as-of, any difference is printed and the exit code is 1. With --as-of the
    rebuilt states (as they were then) are printed or written to --output.
    """
    from shared.settings import get_settings

    settings = get_settings()
    moment = _time(as_of, "--as-of")
    record_access_or_refuse(
        settings, _auditor(settings), "replay", {"as_of": as_of or ""}, revealed=False
    )
    asyncio.run(_replay(settings, moment, output))


async def _replay(settings: Settings, moment: datetime | None, output: Path | None) -> None:
    import json

    from services.router.audit.replay import compare, live_states, rebuild

    async with _session(settings) as session:
        progress = await _Progress.over_the_log("replaying", session)
        try:
            replayed = await rebuild(session, moment, on_record=lambda _: progress.advance())
        finally:
            progress.stop()
        differences = list(replayed.differences)
        if moment is None:
            differences += compare(replayed.states, await live_states(session))
    lines = [
        json.dumps({"kind": kind, "id": id_, "state": state}, sort_keys=True)
        for (kind, id_), state in sorted(replayed.states.items())
    ]
    if output is not None:
        await asyncio.to_thread(
            output.write_text, "".join(line + "\n" for line in lines), encoding="utf-8"
        )
    elif moment is not None:
        typer.echo("\n".join(lines))
    for line in differences:
        typer.echo(f"DIFFERENT {line}")
    counts = {
        kind: sum(1 for k, _ in replayed.states if k == kind)
        for kind in ("alert", "message", "recommendation")
    }
    summary = ", ".join(f"{n} {kind}s" for kind, n in counts.items())
    when = f" as of {moment.isoformat()}" if moment else ""
    typer.echo(f"replayed {replayed.records} records{when}: {summary}", err=moment is not None)
    if differences:
        typer.echo(f"{len(differences)} difference(s) between the log and the live state")
        raise typer.Exit(1)
    if moment is None:
        typer.echo("the live state is exactly what the log says")


@audit_app.command("explain")
def explain_command(
    alert_id: Annotated[str, typer.Argument(help="The alert's id.")],
) -> None:
    """Tell an alert's story from the log: route, policy, pages, deliveries, acks, escalations."""
    from shared.settings import get_settings

    settings = get_settings()
    record_access_or_refuse(
        settings, _auditor(settings), "explain", {"alert": alert_id}, revealed=False
    )

    async def story() -> list[str]:
        from services.router.audit.explain import explain

        async with _session(settings) as session:
            return await explain(session, alert_id)

    lines = asyncio.run(story())
    if not lines:
        typer.echo(f"no alert {alert_id} on the log", err=True)
        raise typer.Exit(1)
    typer.echo("\n".join(lines))
