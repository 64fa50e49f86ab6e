"""The bench's CPU accounting: what each group of processes used between two snapshots."""

from __future__ import annotations

import pytest

from bench.counters import _Cpu, _cpu_used


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # three services as separate processes (PostgreSQL systems)
        (
            {("ingest", 1): 1.0, ("router", 2): 2.0, ("notifier", 3): 0.5, ("postgresql", 9): 4.0},
            {("ingest", 1): 1.5, ("router", 2): 3.0, ("notifier", 3): 0.75, ("postgresql", 9): 6.0},
            {"ingest": 0.5, "router": 1.0, "notifier": 0.25, "services": 1.75, "postgresql": 2.0},
        ),
        # coord up: the three services in one process, counted once as "up"
        (
            {("up", 1): 2.0, ("rabbitmq", 7): 1.0},
            {("up", 1): 5.0, ("rabbitmq", 7): 1.5},
            {"up": 3.0, "services": 3.0, "ingest": 0.0, "rabbitmq": 0.5},
        ),
        # a backend opened during the step counts whole; one that ended is left out
        (
            {("postgresql", 9): 4.0, ("postgresql", 10): 1.0},
            {("postgresql", 9): 4.5, ("postgresql", 11): 0.25},
            {"postgresql": 0.75, "services": 0.0},
        ),
    ],
)
def test_cpu_used_by_group(
    first: dict[tuple[str, int], float],
    last: dict[tuple[str, int], float],
    expected: dict[str, float],
) -> None:
    used = _cpu_used(_Cpu(0.0, first), _Cpu(1.0, last))
    assert {group: used[group] for group in expected} == pytest.approx(expected)
