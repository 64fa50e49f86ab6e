"""Shared test infrastructure: a throw-away RabbitMQ vhost and an empty database per test.

Fixtures (names and semantics are relied upon by the unit, integration and e2e suites):

- ``amqp_url``     a fresh RabbitMQ vhost ``coord-test-<hex>`` for the test, as an AMQP URL;
                   the vhost (and everything in it) is deleted afterwards.
- ``amqp_vhost``   the (decoded) name of that vhost, for the management API helpers.
- ``rabbit_api``   a :class:`RabbitAPI`: small async client of the management HTTP API
                   (queue message counts, raw publishing) plus an aio-pika publisher.
- ``database_url`` parametrized ``sqlite`` / ``postgresql``: an EMPTY (not migrated) database
                   as an SQLAlchemy async URL; the PostgreSQL database is dropped afterwards.

Environment overrides:
``COORD_TEST_AMQP_HOST`` (127.0.0.1), ``COORD_TEST_AMQP_PORT`` (5672),
``COORD_TEST_RABBIT_API`` (http://127.0.0.1:15672), ``COORD_TEST_RABBIT_USER`` /
``COORD_TEST_RABBIT_PASSWORD`` (guest/guest),
``COORD_TEST_PG_URL`` (postgresql://coord:coord@127.0.0.1:5432/postgres),
``COORD_TEST_SKIP_PG=1`` skips the ``postgresql`` parameter instead of failing when
PostgreSQL is not available.

The fixtures are synchronous on purpose: they work with ``asyncio_mode = "auto"`` and
``"strict"`` alike, and from sync or async tests.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import structlog

T = TypeVar("T")

# The shared helpers of tests/support assert too: rewrite them as pytest rewrites test
# modules, so that a failing check there explains itself (must run before their import).
pytest.register_assert_rewrite("tests.support")

from tests.support.database import fresh_pg_database  # noqa: E402
from tests.support.rabbit import (  # noqa: E402
    RabbitAPI,
    fresh_vhost,
    vhost_of,
)

# The tests run on the published development secrets (COORD_ENV, shared/settings.py):
# every Settings() built in a test process reads this. Subprocesses get it explicitly.
os.environ.setdefault("COORD_ENV", "development")


# Default per-test timeouts (pytest-timeout), applied unless the test has its own
# ``@pytest.mark.timeout`` or ``--timeout`` was given on the command line.
TIMEOUT_E2E = 180
TIMEOUT_INTEGRATION = 120
TIMEOUT_DEFAULT = 60


# --------------------------------------------------------------------------- pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: black-box end-to-end test (real processes, RabbitMQ, database)"
    )
    config.addinivalue_line(
        "markers", "integration: test against real infrastructure (RabbitMQ and/or a database)"
    )
    config.addinivalue_line(
        "markers",
        "broker_restart: stops the shared RabbitMQ, so it runs when no other test does",
    )
    config.addinivalue_line(
        "markers",
        "faults: the fault suite on a 3-node RabbitMQ cluster (make test-faults; docs/deploy.md)",
    )
    # structlog's default renders an exception with rich and every frame's locals: on an
    # error logged with SQLAlchemy objects in scope that took 20 s a test. The services
    # configure their own logging (shared.logging); in-process tests log plainly.
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("timeout", None) is not None:
        return  # explicit --timeout on the command line wins everywhere
    ini_timeout: Any = None
    try:
        ini_timeout = config.getini("timeout")
    except ValueError:  # pytest-timeout not installed
        return
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_E2E))
        elif item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_INTEGRATION))
        elif not ini_timeout:
            item.add_marker(pytest.mark.timeout(TIMEOUT_DEFAULT))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item as ``item.rep_setup`` / ``item.rep_call`` so
    fixtures can tell at teardown whether the test failed (e.g. to print service logs)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --------------------------------------------------------------------------- RabbitMQ


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A fresh RabbitMQ vhost ``coord-test-<hex>`` as ``amqp://guest:guest@host:5672/<vhost>``."""
    with fresh_vhost() as url:
        yield url


@pytest.fixture
def amqp_vhost(amqp_url: str) -> str:
    """The decoded name of the test's vhost (see ``amqp_url``)."""
    return vhost_of(amqp_url)


@pytest.fixture
def rabbit_api() -> RabbitAPI:
    """Management API helpers (``queue_message_count``, ``wait_for_queue_message_count``,
    ``publish``, ``publish_amqp``)."""
    return RabbitAPI()


# --------------------------------------------------------------------------- databases


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database as an SQLAlchemy async URL, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'coord.db'}"
        return

    with fresh_pg_database() as url:
        yield url
