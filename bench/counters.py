"""Per-alert counters of one load step: SQL statements, commits, broker operations, CPU.

Issue 17 sets targets per alert (statements, broker operations, service CPU). They are
read around one open-loop step of the running system (bench/run.py): :func:`before`
snapshots the counters each part already keeps, the step runs, :func:`after` snapshots
them again and divides the differences by the alerts delivered in the step.

- PostgreSQL (not SQLite, which keeps no such counters): ``calls`` of
  ``pg_stat_statements`` for the bench's database, BEGIN/COMMIT/ROLLBACK apart from the
  rest, and ``xact_commit`` of ``pg_stat_database``. Both are read from the ``coord``
  database (COORD_BENCH_PG_STATS_DB), where ``make infra`` creates the extension;
- RabbitMQ: the vhost's ``message_stats`` from the management API (publish, deliver_get,
  ack);
- CPU (user + system) of each service process, of the PostgreSQL backends connected to
  the bench's database, of the broker (beam.smp: the whole broker, other vhosts
  included) and of this process (the load generator and the webhook receiver).

The services poll their outboxes and timers even with nothing to do. What that idle
polling costs over the step's duration is measured while the broker's statistics settle
before the step, and given apart (``PerAlert.idle``): at a low rate it is a large part of
a per-alert figure, at issue 17's rates a small one.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.alerts import LatencyResult
from bench.infra import RABBIT_API
from tests.e2e.system import SERVICES, System

# The database where pg_stat_statements is created (deploy/scripts/ensure-postgres.sh):
# the extension's view exists only there, its figures cover every database.
STATS_DATABASE = os.environ.get("COORD_BENCH_PG_STATS_DB", "coord")

# RabbitMQ's management plugin aggregates the statistics every collect_statistics_interval
# (5 s by default), and a channel reports its own counters at the same interval (or when
# it hibernates, idle for a second): a count read right after a step may lack its last
# seconds. A count that did not move for a whole interval has taken everything in.
BROKER_STATS_INTERVAL = 5.0
BROKER_POLL = 1.0
BROKER_WAIT_MAX = 12.0

# pg_stat_database's counters are kept by each backend and added to the shared ones when
# it goes idle, at most once per PGSTAT_MIN_INTERVAL (1 s in PostgreSQL 15); a backend can
# not be made to flush them from another (pg_stat_force_next_flush is for one's own). So
# the commits of the step's last second are read after a little more than that. A backend
# that went idle within the second after its previous flush keeps them until its next
# transaction (or PGSTAT_IDLE_INTERVAL, 10 s): a remainder the snapshot before the step
# has too, from the step before, so that the two largely cancel out.
PGSTAT_WAIT = 1.1

NOT_LOADED = "n/a (pg_stat_statements not loaded: make infra)"
SQLITE = "n/a (SQLite keeps no statement counters)"

# What a transaction's bracket costs apart from the work itself: BEGIN, COMMIT, ROLLBACK
# (and their synonyms and savepoints), by the statement's first word. A PostgreSQL regular
# expression: \y is its word boundary (\b would be a backspace).
_TRANSACTION_CONTROL = r"^\s*(begin|start|commit|end|rollback|abort|savepoint|release)\y"

# CPU groups, in the table's order; "services" is the three services together.
SERVICE_GROUPS = SERVICES
COMBINED = "up"  # the group of `coord up`: the three services in one process
CPU_GROUPS = (*SERVICES, "postgresql", "rabbitmq", "bench")


@dataclass(frozen=True)
class PerAlert:
    """Counters of one load step divided by the alerts it delivered (None: not measured).

    ``idle`` holds, per alert and under the same names (``statements``,
    ``transaction_control``, ``commits`` and the CPU groups), what the idle system used
    over the step's duration: the polling a per-alert figure includes whatever the rate.
    """

    rate: float  # offered, alerts/s
    alerts: int  # delivered
    seconds: float  # the step, its first request to its last delivery
    statements: float | None
    transaction_control: float | None  # of the statements: BEGIN, COMMIT, ROLLBACK
    other_statements: float | None
    commits: float | None
    publishes: float | None
    deliveries: float | None
    acks: float | None
    cpu_ms: dict[str, float]  # group -> ms per alert; "services": the three together
    idle: dict[str, float]
    sql_note: str = ""  # why statements is None


@dataclass(frozen=True)
class _Sql:
    at: float  # time.monotonic() of the reading
    commits: int
    backends: frozenset[int]  # pids of the bench database's backends
    statements: int | None  # None: pg_stat_statements cannot be read
    transaction_control: int | None
    evicted: int | None  # entries pg_stat_statements dropped for room so far


@dataclass(frozen=True)
class _Cpu:
    at: float
    seconds: dict[tuple[str, int], float]  # (group, pid) -> CPU seconds so far


@dataclass(frozen=True)
class _Broker:
    publishes: int
    deliveries: int
    acks: int


@dataclass(frozen=True)
class Before:
    """The counters before a step, and what they did over an idle window just before."""

    cpu: _Cpu
    sql: _Sql | None
    broker: _Broker | None
    idle_cpu: _Cpu
    idle_sql: _Sql | None


# ---------------------------------------------------------------------------- CPU


def _stat_cpu(stat: str) -> float:
    """User + system CPU seconds from the text of /proc/<pid>/stat."""
    # The fields after the command name, which may itself hold spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process on the machine, by name."""
    ticks = float(os.sysconf("SC_CLK_TCK"))
    used: dict[str, float] = collections.defaultdict(float)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat_text = stat.read_text(encoding="utf-8")
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        name = stat_text[stat_text.index("(") + 1 : stat_text.rindex(")")]
        if name.startswith("kworker"):  # their counters are not this load's on a VM
            continue
        if name.startswith(("coord", "python")) and len(cmdline) > 3:
            name = " ".join(a.decode() for a in cmdline[1:4])
        used[name] += _stat_cpu(stat_text)
    line = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()
    busy, idle = sum(int(v) for v in line[1:4] + line[6:9]), int(line[4]) + int(line[5])
    used["(machine: all cores busy)"] = busy / ticks
    used["(machine: all cores idle)"] = idle / ticks
    return dict(used)


def _broker_pids() -> list[int]:
    """The RabbitMQ node's processes (beam.smp), found by name: it serves every vhost."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text(encoding="utf-8").strip() == "beam.smp":
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


def _cpu(system: System, backends: frozenset[int]) -> _Cpu:
    """CPU seconds so far of every process a step's figures count, by group and pid."""
    processes = [
        (service.kind, service.process.pid)
        for service in system.services.values()
        if service.process is not None
    ]
    processes += [("postgresql", pid) for pid in backends]
    processes += [("rabbitmq", pid) for pid in _broker_pids()]
    seconds: dict[tuple[str, int], float] = {}
    for group, pid in processes:
        try:
            seconds[group, pid] = _stat_cpu(Path(f"/proc/{pid}/stat").read_text(encoding="utf-8"))
        except OSError:  # ended (a backend whose connection the pool closed)
            continue
    # This process, finer than /proc's clock ticks.
    seconds["bench", os.getpid()] = time.process_time()
    return _Cpu(time.monotonic(), seconds)


def _cpu_used(first: _Cpu, last: _Cpu) -> dict[str, float]:
    """CPU seconds used between two snapshots, by group (and "services", their sum)."""
    used = dict.fromkeys(CPU_GROUPS, 0.0)
    # A process missing from the first snapshot started in between (a new connection of
    # a pool): all it used is the step's. One missing from the last ended: left out.
    # "up" (coord up) is present only when the system runs as one process.
    for (group, pid), seconds in last.seconds.items():
        used[group] = used.get(group, 0.0) + seconds - first.seconds.get((group, pid), 0.0)
    used["services"] = sum(used.get(group, 0.0) for group in (*SERVICE_GROUPS, COMBINED))
    return used


# ---------------------------------------------------------------------------- PostgreSQL


def _stats_engine(database_url: str) -> AsyncEngine:
    """An engine on the stats database of the server holding ``database_url``."""
    url = make_url(database_url).set(database=STATS_DATABASE)
    # Autocommit: each reading is a transaction of its own, so it sees the statistics
    # as they are then (stats_fetch_consistency caches them for a transaction).
    return create_async_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)


async def _sql(engine: AsyncEngine, database: str) -> _Sql:
    """The bench database's counters; statements None when pg_stat_statements is missing."""
    async with engine.connect() as connection:
        commits = (
            await connection.execute(
                text("SELECT xact_commit FROM pg_stat_database WHERE datname = :db"),
                {"db": database},
            )
        ).scalar_one()
        backends = frozenset(
            (
                await connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": database}
                )
            ).scalars()
        )
        try:
            row = (
                await connection.execute(
                    text(
                        "SELECT coalesce(sum(calls), 0), "
                        "coalesce(sum(calls) FILTER (WHERE query ~* :control), 0), "
                        "(SELECT dealloc FROM pg_stat_statements_info) "
                        "FROM pg_stat_statements "
                        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = :db)"
                    ),
                    {"db": database, "control": _TRANSACTION_CONTROL},
                )
            ).one()
        except DBAPIError:  # not created in the stats database, or not preloaded
            return _Sql(time.monotonic(), commits, backends, None, None, None)
    return _Sql(time.monotonic(), commits, backends, int(row[0]), int(row[1]), int(row[2]))


async def _sql_or_none(engine: AsyncEngine | None, database: str) -> _Sql | None:
    if engine is None:
        return None
    try:
        return await _sql(engine, database)
    except (OSError, DBAPIError):  # no stats database there: the figures are n/a
        return None


# ---------------------------------------------------------------------------- RabbitMQ


def _vhost(amqp_url: str) -> str:
    """The vhost of an AMQP URL, as the management API's path wants it (percent-encoded)."""
    return urlsplit(amqp_url).path.lstrip("/") or "%2F"


async def _broker(api: httpx.AsyncClient, vhost: str) -> _Broker | None:
    """The vhost's cumulative message counts; None when the management API fails."""
    try:
        response = await api.get(f"/api/vhosts/{vhost}")
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    stats: dict[str, Any] = response.json().get("message_stats") or {}  # none yet: all 0
    deliveries = stats.get("deliver_get")
    if deliveries is None:
        deliveries = sum(stats.get(k, 0) for k in ("deliver", "deliver_no_ack", "get"))
    return _Broker(int(stats.get("publish", 0)), int(deliveries), int(stats.get("ack", 0)))


async def _settled_broker(api: httpx.AsyncClient, vhost: str) -> _Broker | None:
    """The vhost's counts once they stopped moving for a statistics interval (or at most
    BROKER_WAIT_MAX s): before that they may lack the last seconds (see above)."""
    started = changed = time.monotonic()
    counts = await _broker(api, vhost)
    while counts is not None:
        await asyncio.sleep(BROKER_POLL)
        now_counts, now = await _broker(api, vhost), time.monotonic()
        if now_counts != counts:
            counts, changed = now_counts, now
        elif now - changed >= BROKER_STATS_INTERVAL or now - started >= BROKER_WAIT_MAX:
            break
    return counts


# ---------------------------------------------------------------------------- the step


def _backends(sql: _Sql | None) -> frozenset[int]:
    return sql.backends if sql else frozenset()


async def before(system: System) -> Before:
    """Wait until the broker's counts took in what came before, then snapshot.

    The wait is idle time: what the counters do over it (from its second second, once
    the step before has finished its last commits and acks) is the idle polling.
    """
    database = make_url(system.database_url).database or ""
    is_pg = system.database_url.startswith("postgresql")
    engine = _stats_engine(system.database_url) if is_pg else None
    try:

        async def idle_from() -> tuple[_Cpu, _Sql | None]:
            await asyncio.sleep(1.0)
            sql = await _sql_or_none(engine, database)
            return _cpu(system, _backends(sql)), sql

        async with httpx.AsyncClient(base_url=RABBIT_API, timeout=10) as api:
            (idle_cpu, idle_sql), broker = await asyncio.gather(
                idle_from(), _settled_broker(api, _vhost(system.amqp_url))
            )
        sql = await _sql_or_none(engine, database)
        cpu = _cpu(system, _backends(sql) | _backends(idle_sql))
    finally:
        if engine is not None:
            await engine.dispose()
    return Before(cpu, sql, broker, idle_cpu, idle_sql)


async def after(system: System, start: Before, step: LatencyResult) -> PerAlert:
    """Snapshot again after ``step`` and give the differences per alert it delivered."""
    database = make_url(system.database_url).database or ""
    is_pg = system.database_url.startswith("postgresql")
    engine = _stats_engine(system.database_url) if is_pg else None
    try:
        # CPU at once: what the processes do from now on is not the step's. The backends
        # now connected too, for those the pool opened during the step.
        now = await _sql_or_none(engine, database)
        cpu = _cpu(system, _backends(start.sql) | _backends(now))

        async def sql_later() -> _Sql | None:
            await asyncio.sleep(PGSTAT_WAIT)  # the commits of the last second: see there
            return await _sql_or_none(engine, database)

        async with httpx.AsyncClient(base_url=RABBIT_API, timeout=10) as api:
            sql, broker = await asyncio.gather(
                sql_later(), _settled_broker(api, _vhost(system.amqp_url))
            )
    finally:
        if engine is not None:
            await engine.dispose()
    return _per_alert(start, step, cpu, sql, broker, is_pg=is_pg)


def _per_alert(
    start: Before,
    step: LatencyResult,
    cpu: _Cpu,
    sql: _Sql | None,
    broker: _Broker | None,
    *,
    is_pg: bool,
) -> PerAlert:
    alerts, step_seconds = step.alerts, cpu.at - start.cpu.at
    if not alerts:  # nothing delivered: no figure per alert
        return PerAlert(
            step.rate, 0, step_seconds, None, None, None, None, None, None, None, {}, {}
        )

    # The idle polling over the step's duration: the idle window's rate times that
    # duration (none when the window was too short to say: the broker's API failed).
    idle: dict[str, float] = {}
    idle_seconds = start.cpu.at - start.idle_cpu.at
    for group, seconds in _cpu_used(start.idle_cpu, start.cpu).items():
        if idle_seconds >= 1.0:
            idle[group] = 1000 * seconds / idle_seconds * step_seconds / alerts
    cpu_ms = {group: 1000 * s / alerts for group, s in _cpu_used(start.cpu, cpu).items()}
    if not is_pg:  # no PostgreSQL in this system
        idle.pop("postgresql", None)
        del cpu_ms["postgresql"]

    sql_figures, note = _sql_deltas(start, sql, is_pg=is_pg)
    if (
        sql is not None
        and start.sql is not None
        and start.idle_sql is not None
        and start.sql.at - start.idle_sql.at >= 1.0
    ):
        for name, idle_count in _sql_deltas_between(start.idle_sql, start.sql).items():
            if sql_figures.get(name) is not None:
                # The idle window's count, scaled to the step's window (between the two
                # readings of the statistics) and spread over its alerts.
                scale = (sql.at - start.sql.at) / (start.sql.at - start.idle_sql.at)
                idle[name] = idle_count * scale / alerts

    def per(name: str) -> float | None:
        count = sql_figures.get(name)
        return None if count is None else count / alerts

    moved = _broker_moved(start.broker, broker)
    return PerAlert(
        rate=step.rate,
        alerts=alerts,
        seconds=step_seconds,
        statements=per("statements"),
        transaction_control=per("transaction_control"),
        other_statements=per("other_statements"),
        commits=per("commits"),
        publishes=None if moved is None else moved.publishes / alerts,
        deliveries=None if moved is None else moved.deliveries / alerts,
        acks=None if moved is None else moved.acks / alerts,
        cpu_ms=cpu_ms,
        idle=idle,
        sql_note=note,
    )


def _sql_deltas(start: Before, sql: _Sql | None, *, is_pg: bool) -> tuple[dict[str, int], str]:
    """The SQL counts over the step, and why the statements are missing if they are."""
    if not is_pg:
        return {}, SQLITE
    if start.sql is None or sql is None:
        return {}, "n/a (PostgreSQL's statistics could not be read)"
    deltas = _sql_deltas_between(start.sql, sql)
    if "statements" in deltas:
        return deltas, ""
    if start.sql.evicted != sql.evicted:  # the sums lost entries: not comparable
        return deltas, "n/a (pg_stat_statements dropped entries: raise pg_stat_statements.max)"
    return deltas, NOT_LOADED


def _sql_deltas_between(first: _Sql, last: _Sql) -> dict[str, int]:
    """Commits, and statements when both readings have them and lost no entry between."""
    deltas = {"commits": last.commits - first.commits}
    if (
        first.statements is not None
        and last.statements is not None
        and first.transaction_control is not None
        and last.transaction_control is not None
        and first.evicted == last.evicted
    ):
        deltas["statements"] = last.statements - first.statements
        deltas["transaction_control"] = last.transaction_control - first.transaction_control
        deltas["other_statements"] = deltas["statements"] - deltas["transaction_control"]
    return deltas


def _broker_moved(first: _Broker | None, last: _Broker | None) -> _Broker | None:
    if first is None or last is None:
        return None
    return _Broker(
        last.publishes - first.publishes,
        last.deliveries - first.deliveries,
        last.acks - first.acks,
    )


# ---------------------------------------------------------------------------- the table


def _f(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def table_rows(kind: str, figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the printed table from a ``PerAlert`` as JSON: each figure per alert, with
    what the idle polling makes of it at the step's rate."""
    idle: dict[str, float] = figures["idle"]
    cpu: dict[str, float] = figures["cpu_ms"]
    step = f"{figures['alerts']:,} alerts at {figures['rate']:.0f}/s in {figures['seconds']:.1f} s"
    sql_rows: list[tuple[str, str, str, str]]
    if figures["statements"] is None:
        note = figures["sql_note"] or NOT_LOADED
        sql_rows = [(f"{kind}: SQL statements / alert", note, f"{step}", "")]
    else:
        sql_rows = [
            (
                f"{kind}: SQL statements / alert: all (BEGIN/COMMIT/ROLLBACK + other)",
                f"{_f(figures['statements'])} ({_f(figures['transaction_control'])} + "
                f"{_f(figures['other_statements'])})",
                f"{step}; idle polling {_f(idle.get('statements'))} "
                f"({_f(idle.get('transaction_control'))} + "
                f"{_f(idle.get('other_statements'))})",
                "",
            )
        ]
    if figures["commits"] is not None:
        sql_rows.append(
            (
                f"{kind}: commits / alert (pg_stat_database)",
                _f(figures["commits"]),
                f"idle polling {_f(idle.get('commits'))}",
                "",
            )
        )
    groups = [g for g in ("postgresql", "rabbitmq", "bench") if g in cpu]
    names = {"postgresql": "PostgreSQL", "rabbitmq": "RabbitMQ (whole)", "bench": "bench"}
    return [
        *sql_rows,
        (
            f"{kind}: broker publishes / deliveries / acks per alert",
            f"{_f(figures['publishes'])} / {_f(figures['deliveries'])} / {_f(figures['acks'])}",
            "",
            "",
        ),
        (
            f"{kind}: CPU ms / alert: coord up (the three services in one process)",
            _f(cpu.get("services"), 2),
            f"idle polling {_f(idle.get('services'), 2)}",
            "",
        )
        if COMBINED in cpu
        else (
            f"{kind}: CPU ms / alert: ingest / router / notifier (services)",
            " / ".join(_f(cpu.get(g), 2) for g in SERVICE_GROUPS)
            + f" ({_f(cpu.get('services'), 2)})",
            "idle polling "
            + " / ".join(_f(idle.get(g), 2) for g in SERVICE_GROUPS)
            + f" ({_f(idle.get('services'), 2)})",
            "",
        ),
        (
            f"{kind}: CPU ms / alert: " + " / ".join(names[g] for g in groups),
            " / ".join(_f(cpu.get(g), 2) for g in groups),
            "idle " + " / ".join(_f(idle.get(g), 2) for g in groups),
            "",
        ),
    ]
