"""Printing a dry run: plain lines for pipes and tests, a rich table on a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services.router.alerts.dry_run import (
    DryRun,
    PlannedPage,
    PlannedStep,
    format_duration,
    format_offset,
)


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
            p.person_id + ("" if p.reachable else " (cannot be told)") for p in plan.joc
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


def print_rich(console: Console, plan: DryRun, source: str) -> None:
    """The dry run for a terminal: the head, a table of the steps, the tail."""
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
