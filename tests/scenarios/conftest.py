"""Fixtures of the cross-service scenarios: the services on one bus (tests/support/scenario.py).

Every scenario runs twice: on the in-memory bus in the fast phase (marked ``integration``:
it has a real SQLite database), and on RabbitMQ in the end-to-end phase (marked ``e2e``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coord.migrate import upgrade
from tests.support.scenario import MEMORY, RABBITMQ, Mission, copy_database, running_mission


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per session; each scenario gets a copy."""
    path = tmp_path_factory.mktemp("scenario-template") / "coord.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(
    params=[
        pytest.param(MEMORY, marks=pytest.mark.integration),
        pytest.param(RABBITMQ, marks=pytest.mark.e2e),
    ]
)
def bus_kind(request: pytest.FixtureRequest) -> str:
    """Which bus the services share: ``memory`` or ``rabbitmq``."""
    kind: str = request.param
    return kind


@pytest.fixture
def broker_url(bus_kind: str, request: pytest.FixtureRequest) -> str | None:
    """The test's RabbitMQ vhost when the scenario runs on RabbitMQ, else None."""
    if bus_kind == RABBITMQ:
        url: str = request.getfixturevalue("amqp_url")
        return url
    return None


@pytest.fixture
def level_delay() -> str:
    """How long poc-urgent's level 1 waits for an acknowledgement (parametrize to change)."""
    return "10m"


@pytest.fixture
async def mission(
    bus_kind: str,
    broker_url: str | None,
    migrated_template: Path,
    tmp_path: Path,
    level_delay: str,
) -> AsyncIterator[Mission]:
    """ingest, the router and the notifier running on one bus and one SQLite database."""
    database_url = copy_database(migrated_template, tmp_path / "coord.db")
    async with running_mission(
        bus_kind, database_url, tmp_path, level_delay, amqp_url=broker_url
    ) as running:
        yield running
