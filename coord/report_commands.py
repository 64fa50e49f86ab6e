"""``coord report recommendations``: the "is it heeded?" report, read from the database.

The figures come from ``services.ingest.reports.service`` (the same functions as
``GET /v1/reports/recommendations``); this module opens the database and prints
them as rich tables, CSV or JSON. The alerts' table includes the community loop: alerts
raised from a community member's SMS, the shares whose reporter got a receipt and
feedback, and the median time to that feedback. Heavy imports wait until the command runs, so
``coord --help`` stays fast.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from services.ingest.reports.service import Report
    from shared.settings import Settings

report_app = typer.Typer(
    help="Reports read from the database (COORD_DATABASE_URL).", no_args_is_help=True
)

CSV_COLUMNS = (
    "section",
    "sector",
    "addressee_component",
    "issued",
    "undeliverable",
    "raised",
    "acknowledged",
    "acknowledged_in_time",
    "accepted",
    "declined",
    "declined_reasons",
    "done",
    "overdue",
    "median_seconds_to_acknowledge",
    "median_seconds_to_respond",
    "share_acknowledged_at_first_level",
    "escalations",
    "community",
    "share_community_with_receipt",
    "share_community_with_feedback",
    "median_seconds_to_feedback",
)


class OutputFormat(StrEnum):
    """How ``coord report`` prints."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time or date; without a zone it is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-11-01 or 2026-11-01T08:00:00Z)",
            param_hint="--since",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@report_app.command("recommendations")
def recommendations(
    since: Annotated[
        str | None,
        typer.Option(
            help="Count what was submitted/raised at or after this ISO time (UTC if no zone)."
        ),
    ] = None,
    sector: Annotated[str | None, typer.Option(help="One sector only.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv (with a header row) or json.")
    ] = OutputFormat.TABLE,
) -> None:
    """Is it heeded? Recommendations answered and alerts acknowledged, per sector."""
    from sqlalchemy.exc import SQLAlchemyError

    from coord.identity import caller
    from shared.permissions import Action
    from shared.settings import get_settings

    start = parse_since(since)
    settings = get_settings()
    caller(settings, Action.REPORT)
    try:
        result = asyncio.run(_read(settings, start, sector))
    except (SQLAlchemyError, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else repr(error)
        typer.echo(
            f"cannot read the report (COORD_DATABASE_URL; migrated with 'coord db upgrade'?): "
            f"{first}",
            err=True,
        )
        raise typer.Exit(1) from error
    if output is OutputFormat.JSON:
        typer.echo(result.model_dump_json(indent=2))
    elif output is OutputFormat.CSV:
        typer.echo(to_csv(result), nl=False)
    else:
        _print_tables(result)


async def _read(settings: Settings, since: datetime | None, sector: str | None) -> Report:
    from services.ingest.reports.service import report
    from shared.db import one_session
    from shared.envelope import utc_now

    async with one_session(settings.database_url, read_only=True) as session:
        return await report(session, since, sector, utc_now())


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def csv_rows(result: Report) -> list[dict[str, Any]]:
    """One row per group, then per sector; the totals rows have sector ``*``."""
    recommendations, alerts = result.recommendations, result.alerts
    rows = [
        {"section": "recommendations", **group.model_dump()}
        for group in [*recommendations.groups, recommendations.totals]
    ] + [{"section": "alerts", **row.model_dump()} for row in [*alerts.sectors, alerts.totals]]
    return [{column: _cell(row.get(column)) for column in CSV_COLUMNS} for row in rows]


def to_csv(result: Report) -> str:
    """The report as CSV: a header row, then both sections (column ``section``)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(result))
    return buffer.getvalue()


def format_seconds(seconds: float | None) -> str:
    """``95`` -> ``1m 35s``; ``None`` -> ``-``."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


_RECOMMENDATION_COLUMNS = (
    "sector",
    "compo-\nnent",
    "issued",
    "undeli-\nverable",
    "ack'd",
    "in\ntime",
    "accep-\nted",
    "decli-\nned",
    "done",
    "over-\ndue",
    "median\nack",
    "median\nanswer",
)
_ALERT_COLUMNS = (
    "sector",
    "raised",
    "ack'd",
    "median\nack",
    "ack'd at\nlevel 1",
    "escal-\nations",
    # The community loop: alerts from a community member's SMS, and whether they heard back.
    "commu-\nnity",
    "with\nreceipt",
    "with\nfeedback",
    "median\nfeedback",
)
_RECOMMENDATION_COUNTS = (
    "issued",
    "undeliverable",
    "acknowledged",
    "acknowledged_in_time",
    "accepted",
    "declined",
    "done",
    "overdue",
)


def format_share(share: float | None) -> str:
    """``0.5`` -> ``50%``; ``None`` (nothing to divide by) -> ``-``."""
    return "-" if share is None else f"{share:.0%}"


def _print_tables(result: Report) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    window = f"since {result.since.isoformat()}" if result.since else "all time"
    if result.sector:
        window += f", sector {result.sector}"
    console = Console()
    if not console.is_terminal:  # a file or a pipe: do not squeeze the columns to 80
        console = Console(width=160)
    recommendations_table = Table(title=f"Recommendations ({window})")
    for column in _RECOMMENDATION_COLUMNS:
        recommendations_table.add_column(column)
    section = result.recommendations
    for n, group in enumerate([*section.groups, section.totals]):
        recommendations_table.add_row(
            escape(group.sector),
            escape(group.addressee_component or "-"),
            *(str(getattr(group, name)) for name in _RECOMMENDATION_COUNTS),
            format_seconds(group.median_seconds_to_acknowledge),
            format_seconds(group.median_seconds_to_respond),
            end_section=n == len(section.groups) - 1,
        )
    console.print(recommendations_table)
    for group in section.groups:
        for reason in group.declined_reasons:
            where = f"{group.sector}/{group.addressee_component or '-'}"
            console.print(f"declined ({escape(where)}): {escape(reason)}", highlight=False)
    alerts_table = Table(title=f"Alerts ({window})")
    for column in _ALERT_COLUMNS:
        alerts_table.add_column(column)
    alerts = result.alerts
    for n, row in enumerate([*alerts.sectors, alerts.totals]):
        alerts_table.add_row(
            escape(row.sector),
            str(row.raised),
            str(row.acknowledged),
            format_seconds(row.median_seconds_to_acknowledge),
            format_share(row.share_acknowledged_at_first_level),
            str(row.escalations),
            str(row.community),
            format_share(row.share_community_with_receipt),
            format_share(row.share_community_with_feedback),
            format_seconds(row.median_seconds_to_feedback),
            end_section=n == len(alerts.sectors) - 1,
        )
    console.print(alerts_table)
