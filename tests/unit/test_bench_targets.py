"""Issue 17's targets as the benchmark checks them (bench/targets.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.targets import (
    BROKER_OPERATIONS,
    BURST_P99,
    BURST_RATE,
    P50_AT_100,
    P99_AT_100,
    SERVICE_CPU,
    STATEMENTS,
    STEADY_P99,
    SUSTAINED,
    VERIFY_RATIO,
    Target,
    figures,
    table_rows,
    timer_and_audit_figures,
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
    assert rows[0] == ("issue 17, sqlite: sustained >= 150 alerts/s", "30.00", "", "not met")
    assert rows[-1] == (
        "issue 17, postgresql: service CPU <= 5 ms per alert, net of idle polling",
        "4.00",
        "",
        "met",
    )


def _burst(rate: float, p99: float, missed: int = 0) -> dict[str, Any]:
    return {"escalations_per_s": rate, "committed": {"p99_ms": p99, "missed": missed}}


@pytest.mark.parametrize(
    ("timers", "audit", "expected"),
    [
        (
            {"burst": _burst(499.4, 396.0), "steady": {"committed": {"p99_ms": 34.0}}},
            {"verify": {"x_select": 0.30}},
            [
                (BURST_RATE, 499.4, "not met"),
                (BURST_P99, 396.0, "met"),
                (STEADY_P99, 34.0, "met"),
                (VERIFY_RATIO, 0.30, "not met"),
            ],
        ),
        # a timer never fired is infinitely late, whatever the p99 of those that did
        (
            {"burst": _burst(510.0, 20.0, missed=3)},
            {},
            [(BURST_RATE, 510.0, "met"), (BURST_P99, math.inf, "not met")],
        ),
        ({}, {"verify": {"x_select": 0.71}}, [(VERIFY_RATIO, 0.71, "met")]),
        ({}, {}, []),
    ],
)
def test_timer_and_audit_targets(
    timers: dict[str, Any], audit: dict[str, Any], expected: list[tuple[Target, float, str]]
) -> None:
    found = timer_and_audit_figures(timers, audit)
    assert found == [(t, v) for t, v, _ in expected]
    assert [verdict(v, t) for t, v in found] == [e for *_, e in expected]


def test_timers_and_audit_rows_follow_a_database_s_system_rows() -> None:
    results = {
        "systems": {"postgresql": _system()},
        "timers": {
            "postgresql": {"burst": _burst(500.0, 10.0)},
            "sqlite": {"burst": _burst(400.0, 10.0)},
        },
        "audit": {},
    }
    kinds_in_order = [row[0].split(":")[0] for row in table_rows(results)]
    assert kinds_in_order == ["issue 17, postgresql"] * 8 + ["issue 17, sqlite"] * 2
