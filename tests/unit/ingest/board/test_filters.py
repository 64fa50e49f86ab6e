"""The board's filters (services/ingest/board/filters.py): read from the URL, written back to it.

A filter is the URL of ``/board``: every choice is accepted, an unknown value is refused
naming its parameter, ``url()`` reads back as the same filter, and a counter's link keeps
the other filters while setting its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from services.ingest.alerts.queries import AlertFilter
from services.ingest.board.filters import RECENT, STATUSES, BadFilter, BoardFilter
from shared.contracts.alerts import Category, Component, Severity
from shared.directory import Directory

DIRECTORY = Directory.model_validate(
    {
        "mission": "test",
        "sectors": ["north", "south", "beni", "ituri-east"],
        "people": [{"id": "jo", "name": "Jo", "component": "civilian"}],
    }
)
CHOICES: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "sector": tuple(DIRECTORY.sectors),
    "severity": tuple(s.value for s in Severity),
    "category": tuple(c.value for c in Category),
    "origin": tuple(c.value for c in Component),
}
FLAGS = ("mine", "exhausted", "recent")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def changed(wanted: BoardFilter, **changes: Any) -> BoardFilter:
    return replace(wanted, **changes)


def read(query: str) -> BoardFilter:
    return BoardFilter.from_query(QueryParams(query), DIRECTORY)


def read_url(url: str) -> BoardFilter:
    parts = urlsplit(url)
    assert parts.path == "/board"
    return read(parts.query)


filters = st.builds(
    BoardFilter,
    **{name: st.sampled_from(("", *values)) for name, values in CHOICES.items()},
    **{flag: st.booleans() for flag in FLAGS},
)


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in CHOICES.items() for value in values],
)
def test_every_choice_is_accepted(name: str, value: str) -> None:
    wanted = read(f"{name}={value}")
    assert getattr(wanted, name) == value
    assert changed(wanted, **{name: ""}) == BoardFilter()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "bogus"),
        ("status", "Triggered"),
        ("sector", "atlantis"),
        ("sector", "*"),
        ("severity", "bogus"),
        ("severity", "Extreme"),
        ("category", "riot"),
        ("origin", "navy"),
        ("origin", "community "),
    ],
)
def test_an_unknown_value_is_refused_naming_its_parameter(name: str, value: str) -> None:
    with pytest.raises(BadFilter) as refused:
        read(f"{name}={value}")
    message = str(refused.value)
    assert message.startswith(name)
    assert repr(value) in message
    # ... and says what is accepted instead
    assert all(choice in message for choice in CHOICES[name])


def test_an_empty_value_is_no_filter() -> None:
    assert read("status=&sector=&severity=&category=&origin=&mine=") == BoardFilter()
    assert read("") == BoardFilter()


def test_unknown_parameters_are_ignored() -> None:
    assert read("page=2&utm_source=mail") == BoardFilter()


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), ("on", True), ("", False), ("0", False), ("false", False)],
)
@pytest.mark.parametrize("flag", FLAGS)
def test_flags(flag: str, value: str, on: bool) -> None:
    assert getattr(read(f"{flag}={value}"), flag) is on


# --------------------------------------------------------------------------- writing


def test_the_plain_board_has_no_query() -> None:
    assert BoardFilter().url() == "/board"


@given(filters)
def test_url_reads_back_as_the_same_filter(wanted: BoardFilter) -> None:
    url = wanted.url()
    assert read_url(url) == wanted
    # Only what is set is written: no empty parameter, no flag that is off.
    assert all(value for _, value in parse_qsl(urlsplit(url).query, keep_blank_values=True))


@given(filters, st.sampled_from(tuple(CHOICES)), st.data())
def test_url_with_a_change_changes_only_that(
    wanted: BoardFilter, name: str, data: st.DataObject
) -> None:
    value = data.draw(st.sampled_from(("", *CHOICES[name])))
    assert read_url(wanted.url(**{name: value})) == changed(wanted, **{name: value})


@given(filters)
def test_the_counters_keep_the_other_filters_and_set_their_own(wanted: BoardFilter) -> None:
    for status in ("triggered", "acknowledged"):
        assert read_url(wanted.only(status)) == replace(
            wanted, status=status, exhausted=False, recent=False
        )
    assert read_url(wanted.only("recent")) == replace(
        wanted, status="resolved", exhausted=False, recent=True
    )
    assert read_url(wanted.only("exhausted")) == replace(
        wanted, status="", exhausted=True, recent=False
    )


# --------------------------------------------------------------------------- querying


def test_the_plain_board_queries_everything_visible() -> None:
    assert BoardFilter().query("jo", NOW) == AlertFilter()


def test_the_filter_as_the_api_queries_it() -> None:
    wanted = BoardFilter(
        status="resolved",
        sector="beni",
        severity="extreme",
        category="abduction",
        origin="military",
        mine=True,
        exhausted=True,
        recent=True,
    )
    assert wanted.query("jo", NOW) == AlertFilter(
        status="resolved",
        sector="beni",
        severity="extreme",
        category="abduction",
        origin="military",
        concerning="jo",
        exhausted=True,
        resolved_since=NOW - RECENT,
    )
    assert RECENT.total_seconds() == 24 * 3600
