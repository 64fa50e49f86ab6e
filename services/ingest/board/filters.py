"""The board's filters: read from the URL (so a filtered board can be bookmarked and shared)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from services.ingest.alerts.queries import AlertFilter
from shared.contracts.alerts import Category, Component, Severity
from shared.directory import Directory

STATUSES = ("triggered", "acknowledged", "resolved")
RECENT = timedelta(hours=24)  # "resolved, last 24 h": a shift's worth, whatever the time zone


class BadFilter(ValueError):
    """A filter value the board does not know (400, naming it)."""


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows: every field is a query parameter of ``/board``."""

    status: str = ""
    sector: str = ""
    severity: str = ""
    category: str = ""
    origin: str = ""
    mine: bool = False
    exhausted: bool = False
    recent: bool = False  # resolved in the last 24 hours

    @classmethod
    def from_query(cls, query: QueryParams, directory: Directory) -> BoardFilter:
        """The filter the URL asks for.

        Raises:
            BadFilter: a value that is not one of the field's choices (named).
        """
        choices = {
            "status": STATUSES,
            "sector": tuple(directory.sectors),
            "severity": tuple(s.value for s in Severity),
            "category": tuple(c.value for c in Category),
            "origin": tuple(c.value for c in Component),
        }
        values: dict[str, str | bool] = {}
        for name, allowed in choices.items():
            value = query.get(name, "")
            if value and value not in allowed:
                raise BadFilter(f"{name} {value!r} is not one of: {', '.join(allowed)}")
            values[name] = value
        for flag in ("mine", "exhausted", "recent"):
            values[flag] = query.get(flag, "") in ("1", "true", "on")
        return cls(**values)  # type: ignore[arg-type]

    def query(self, person_id: str, now: datetime) -> AlertFilter:
        """The same filter for the alert queries the API uses."""
        return AlertFilter(
            status=self.status or None,
            sector=self.sector or None,
            severity=self.severity or None,
            category=self.category or None,
            origin=self.origin or None,
            concerning=person_id if self.mine else None,
            exhausted=True if self.exhausted else None,
            resolved_since=now - RECENT if self.recent else None,
        )

    def url(self, **changes: str | bool) -> str:
        """``/board`` with this filter, changed by ``changes`` (empty values left out)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        kept = {k: ("1" if v is True else v) for k, v in values.items() if v}
        return "/board" + (f"?{urlencode(kept)}" if kept else "")

    def only(self, counter: str) -> str:
        """The URL a counter links to: the other filters kept, the counter's own set."""
        if counter == "exhausted":
            return self.url(status="", exhausted=True, recent=False)
        if counter == "recent":
            return self.url(status="resolved", exhausted=False, recent=True)
        return self.url(status=counter, exhausted=False, recent=False)
