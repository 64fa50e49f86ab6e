"""Throw-away infrastructure for one benchmark: a RabbitMQ vhost and a database.

Loopback only; the development defaults of ``make infra`` (guest on RabbitMQ, the
``coord`` role with CREATEDB on PostgreSQL), overridable by COORD_BENCH_RABBIT_API
and COORD_BENCH_PG_URL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

# Development defaults (make infra); never production credentials.
RABBIT_API = os.environ.get("COORD_BENCH_RABBIT_API", "http://guest:guest@127.0.0.1:15672")
PG_ADMIN_URL = os.environ.get(
    "COORD_BENCH_PG_URL", "postgresql+asyncpg://coord:coord@127.0.0.1:5432/postgres"
)


@contextlib.asynccontextmanager
async def vhost() -> AsyncIterator[str]:
    """A fresh vhost, as an AMQP URL; deleted afterwards."""
    name = quote(f"coord-bench-{secrets.token_hex(4)}", safe="")
    async with httpx.AsyncClient(base_url=RABBIT_API, timeout=30) as api:
        (await api.put(f"/api/vhosts/{name}", json={})).raise_for_status()
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        (await api.put(f"/api/permissions/{name}/guest", json=permissions)).raise_for_status()
        try:
            yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
        finally:
            await api.delete(f"/api/vhosts/{name}")


@contextlib.asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A fresh SQLite file or PostgreSQL database, as an SQLAlchemy URL."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    name = f"coord_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
