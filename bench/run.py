"""``make bench``: the raw aio-pika baseline and coord end to end, in one run, one table.

Figures (issue 7), each next to its baseline from the same run, on this machine:
- raw: aio-pika confirmed publishes/s and consumed+acked/s (bench/raw.py);
- per database: alerts/s from HTTP accepted to webhook delivered with 32 clients
  posting back to back (and the backlog left when they stop), as a share of the raw
  confirmed-publish rate; latency p50/p95/p99 at 100 alerts/s and at half the
  measured throughput (bench/alerts.py).
Not measured yet: escalation timer lateness with 10,000 pending timers, and the audit
verify/replay rate on 1,000,000 events (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.alerts import latency_at, throughput
from bench.infra import database, vhost
from bench.raw import raw_baseline
from tests.e2e.harness import System, WebhookReceiver


async def _system_figures(kind: str, seconds: float, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"coord-bench-{kind}-") as tmp:
        workdir = Path(tmp)
        async with (
            vhost() as amqp_url,
            database(kind, workdir) as database_url,
            WebhookReceiver() as receiver,
        ):
            system = System(
                workdir / "system",
                amqp_url,
                database_url,
                receiver,
                # Logging every request costs CPU the benchmark would measure too.
                extra_env={"COORD_LOG_LEVEL": "warning"},
                local_tokens=True,
            )
            await system.start()
            try:
                client = await system.client("jo.operator")
                await latency_at(system, client, rate=20, seconds=2)  # warm up
                most = await throughput(system, client, concurrency, seconds)
                at_100 = await latency_at(system, client, rate=100, seconds=seconds)
                half = max(round(most.delivered_per_s / 2), 1)
                at_half = await latency_at(system, client, rate=half, seconds=seconds)
            finally:
                await system.aclose()
    return {
        "throughput": asdict(most),
        "latency_at_100": asdict(at_100),
        "latency_at_half": asdict(at_half),
    }


async def run(
    databases: list[str], seconds: float, concurrency: int, messages: int
) -> dict[str, Any]:
    """Every figure, as JSON-ready data."""
    async with vhost() as amqp_url:
        raw = await raw_baseline(amqp_url, messages=messages)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "raw": asdict(raw),
        "systems": {},
    }
    for kind in databases:
        results["systems"][kind] = await _system_figures(kind, seconds, concurrency)
    return results


def table(results: dict[str, Any]) -> Table:
    """The results as one table."""
    raw = results["raw"]
    out = Table(title=f"coord benchmark, {results['machine']['cpus']} cores, {results['when']}")
    for column in ("figure", "value", "baseline (same run)", "ratio / target"):
        out.add_column(column)
    out.add_row("raw aio-pika: confirmed publishes/s", f"{raw['published_per_s']:.0f}", "", "")
    out.add_row("raw aio-pika: consumed + acked/s", f"{raw['consumed_per_s']:.0f}", "", "")
    for kind, figures in results["systems"].items():
        most = figures["throughput"]
        ratio = most["delivered_per_s"] / raw["published_per_s"]
        out.add_row(
            f"{kind}: alerts/s accepted -> webhook delivered ({most['concurrency']} clients)",
            f"{most['delivered_per_s']:.0f} (backlog {most['backlog_at_end']})",
            f"{raw['published_per_s']:.0f} raw/s",
            f"{ratio:.3f} x raw (target >= 0.15)",
        )
        for key, target in (("latency_at_100", "p50 <= 15, p99 <= 50"), ("latency_at_half", "")):
            lat = figures[key]
            out.add_row(
                f"{kind}: latency ms at {lat['rate']:.0f}/s (p50/p95/p99)",
                f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} / {lat['p99_ms']:.1f}",
                f"{lat['alerts']} alerts",
                target,
            )
    return out


def main() -> None:
    """Parse the options, run, print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--messages", type=int, default=10_000, help="of the raw baseline")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    results = asyncio.run(
        run(args.databases.split(","), args.seconds, args.concurrency, args.messages)
    )
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    Console().print(table(results))
    print(f"written to {args.out}")
