"""Issue 17's targets as the benchmark checks them (bench/targets.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.targets import (
    BROKER_OPERATIONS,
    P50_AT_100,
    P99_AT_100,
    SERVICE_CPU,
    STATEMENTS,
    SUSTAINED,
    Target,
    figures,
    table_rows,
    verdict,
)

AT_LEAST_300 = Target("sustained >= 300", 300, at_least=True)
AT_MOST_12 = Target("statements <= 12", 12)


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (300.0, AT_LEAST_300, "met"),  # the limit itself meets it
        (310.0, AT_LEAST_300, "met"),
        (299.9, AT_LEAST_300, "not met"),
        (0.0, AT_LEAST_300, "not met"),
        (12.0, AT_MOST_12, "met"),
        (3.5, AT_MOST_12, "met"),
        (12.1, AT_MOST_12, "not met"),
        (math.inf, AT_MOST_12, "not met"),  # nothing delivered: latency percentiles are inf
        (None, AT_MOST_12, "n/a"),  # not measured (SQLite, pg_stat_statements missing)
        (None, AT_LEAST_300, "n/a"),
        (math.nan, AT_MOST_12, "n/a"),
    ],
)
def test_verdict(value: float | None, target: Target, expected: str) -> None:
    assert verdict(value, target) == expected


def _system(**per_alert: Any) -> dict[str, Any]:
    return {
        "sustained": {"rate": 30.0},
        "latency_at_100": {"p50_ms": 18.0, "p99_ms": 51.0},
        "per_alert": {
            "statements": 40.0,
            "publishes": 2.0,
            "deliveries": 3.0,
            "cpu_ms": {"services": 9.0},
            "idle": {"statements": 30.0, "services": 5.0},
            **per_alert,
        },
    }


@pytest.mark.parametrize(
    ("kind", "system", "expected"),
    [
        (
            "postgresql",
            _system(),
            [
                (SUSTAINED["postgresql"], 30.0, "not met"),
                (P50_AT_100, 18.0, "met"),
                (P99_AT_100, 51.0, "not met"),
                (STATEMENTS, 10.0, "met"),  # 40 less 30 of idle polling
                (BROKER_OPERATIONS, 5.0, "met"),  # publishes + deliveries
                (SERVICE_CPU, 4.0, "met"),  # 9 less 5 of idle polling
            ],
        ),
        (
            "postgresql",
            _system(statements=None, idle={}),  # pg_stat_statements not loaded
            [
                (SUSTAINED["postgresql"], 30.0, "not met"),
                (P50_AT_100, 18.0, "met"),
                (P99_AT_100, 51.0, "not met"),
                (STATEMENTS, None, "n/a"),
                (BROKER_OPERATIONS, 5.0, "met"),
                (SERVICE_CPU, 9.0, "not met"),  # no idle window measured: the whole figure
            ],
        ),
        (
            "sqlite",  # no statements; no latency target
            _system(statements=None, deliveries=None),
            [
                (SUSTAINED["sqlite"], 30.0, "not met"),
                (BROKER_OPERATIONS, None, "n/a"),  # the management API failed
                (SERVICE_CPU, 4.0, "met"),
            ],
        ),
        (
            "sqlite",
            {"sustained": {"rate": 150.0}},  # results of a run before the counters
            [
                (SUSTAINED["sqlite"], 150.0, "met"),
                (BROKER_OPERATIONS, None, "n/a"),
                (SERVICE_CPU, None, "n/a"),
            ],
        ),
    ],
)
def test_figures_read_each_target_from_the_results(
    kind: str, system: dict[str, Any], expected: list[tuple[Target, float | None, str]]
) -> None:
    found = figures(kind, system)
    assert [(target, value) for target, value in found] == [(t, v) for t, v, _ in expected]
    assert [verdict(value, target) for target, value in found] == [e for *_, e in expected]


def test_one_table_row_per_target_and_database() -> None:
    results = {"systems": {"sqlite": _system(), "postgresql": _system()}}
    rows = table_rows(results)
    assert len(rows) == 3 + 6
    assert rows[0] == ("issue 17, sqlite: sustained >= 150 alerts/s", "30.0", "", "not met")
    assert rows[-1] == (
        "issue 17, postgresql: service CPU <= 5 ms per alert, net of idle polling",
        "4.0",
        "",
        "met",
    )
