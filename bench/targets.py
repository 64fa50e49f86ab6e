"""Issue 17's targets, checked on a run's results: the limits and the rule, in one place.

Each target is one line of the printed table: the figure it reads, and "met", "not met",
or "n/a" when the run did not measure it. The per-alert targets on statements and on the
services' CPU read the figure net of the idle polling (``PerAlert.idle``): the outboxes
and timers poll whatever the rate, a cost issue 17's rates make small and the rate of
the measured step does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A limit on a figure: met when the figure is at least (or at most) ``limit``."""

    text: str
    limit: float
    at_least: bool = False


def verdict(value: float | None, target: Target) -> str:
    """``met`` or ``not met``; ``n/a`` when the figure is missing (None or NaN)."""
    if value is None or math.isnan(value):
        return "n/a"
    met = value >= target.limit if target.at_least else value <= target.limit
    return "met" if met else "not met"


SUSTAINED = {
    "postgresql": Target("sustained >= 300 alerts/s", 300, at_least=True),
    "sqlite": Target("sustained >= 150 alerts/s", 150, at_least=True),
}
P50_AT_100 = Target("latency at 100/s: p50 <= 20 ms", 20)
P99_AT_100 = Target("latency at 100/s: p99 <= 50 ms", 50)
STATEMENTS = Target("SQL statements <= 12 per alert, net of idle polling", 12)
BROKER_OPERATIONS = Target("broker publishes + deliveries <= 5 per alert", 5)
SERVICE_CPU = Target("service CPU <= 5 ms per alert, net of idle polling", 5)
# The burst offers 500 due/s (10,000 timers due within 20 s), so its committed rate can
# only reach 500/s by keeping up: the rate is shown, the lateness decides.
BURST_RATE = Target("timers burst: >= 500 escalations/s committed", 500, at_least=True)
BURST_P99 = Target("timers burst: lateness p99 <= 1,000 ms (committed)", 1000)
STEADY_P99 = Target("timers steady: lateness p99 <= 100 ms (committed)", 100)
VERIFY_RATIO = Target("audit verify, one process: >= 0.7 x the plain SELECT", 0.7, at_least=True)


def _net(value: float | None, idle: float | None) -> float | None:
    """A per-alert figure less the idle polling's share (none measured: the figure)."""
    return None if value is None else value - (idle or 0.0)


def figures(kind: str, system: dict[str, Any]) -> list[tuple[Target, float | None]]:
    """The targets that apply to a ``kind`` database's system, each with its figure."""
    out: list[tuple[Target, float | None]] = []
    if kind in SUSTAINED:
        out.append((SUSTAINED[kind], system.get("sustained", {}).get("rate")))
    if kind == "postgresql":
        at_100 = system.get("latency_at_100", {})
        out += [(P50_AT_100, at_100.get("p50_ms")), (P99_AT_100, at_100.get("p99_ms"))]
    per_alert: dict[str, Any] = system.get("per_alert") or {}
    idle: dict[str, float] = per_alert.get("idle", {})
    if kind == "postgresql":  # SQLite keeps no statement counters
        out.append((STATEMENTS, _net(per_alert.get("statements"), idle.get("statements"))))
    publishes, deliveries = per_alert.get("publishes"), per_alert.get("deliveries")
    broker = None if publishes is None or deliveries is None else publishes + deliveries
    services_cpu = per_alert.get("cpu_ms", {}).get("services")
    out += [
        (BROKER_OPERATIONS, broker),
        (SERVICE_CPU, _net(services_cpu, idle.get("services"))),
    ]
    return out


def timer_and_audit_figures(
    timers: dict[str, Any], audit: dict[str, Any]
) -> list[tuple[Target, float | None]]:
    """The targets on a database's timers and audit runs (those measured), with figures."""
    out: list[tuple[Target, float | None]] = []
    if "burst" in timers:
        burst = timers["burst"]
        out.append((BURST_RATE, burst.get("escalations_per_s")))
        # A timer never fired counts as infinitely late.
        missed = burst.get("committed", {}).get("missed", 0)
        out.append((BURST_P99, math.inf if missed else burst["committed"].get("p99_ms")))
    if "steady" in timers:
        out.append((STEADY_P99, timers["steady"].get("committed", {}).get("p99_ms")))
    if "verify" in audit:
        out.append((VERIFY_RATIO, audit["verify"].get("x_select")))
    return out


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """One row per target and database of the run: the figure and the verdict."""
    kinds = [*results.get("systems", {})]
    kinds += [k for k in (*results.get("timers", {}), *results.get("audit", {})) if k not in kinds]
    rows = []
    for kind in kinds:
        measured = (
            figures(kind, results["systems"][kind]) if kind in results.get("systems", {}) else []
        )
        measured += timer_and_audit_figures(
            results.get("timers", {}).get(kind, {}), results.get("audit", {}).get(kind, {})
        )
        rows += [
            (
                f"issue 17, {kind}: {target.text}",
                "n/a" if value is None else f"{value:,.2f}",
                "",
                verdict(value, target),
            )
            for target, value in measured
        ]
    return rows
