"""Fixtures of the end-to-end tests: a webhook receiver and the running system."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.harness import System, WebhookReceiver


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """An in-process webhook receiver on 127.0.0.1:<free port>, in the test's event loop."""
    async with WebhookReceiver() as webhook_receiver:
        yield webhook_receiver


@pytest_asyncio.fixture
async def system(
    tmp_path: Path, amqp_url: str, database_url: str, receiver: WebhookReceiver
) -> AsyncIterator[System]:
    """ingest, router and notifier as separate processes on a fresh vhost and database,
    with the demo directory's webhooks pointing at ``receiver``. Stopped at teardown."""
    sut = System(tmp_path / "system", amqp_url, database_url, receiver)
    try:
        await sut.start()
    except BaseException:
        await sut.aclose()
        raise
    try:
        yield sut
    finally:
        await sut.aclose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the services' logs to the report of a failed e2e test."""
    report = yield
    if report.when == "call" and report.failed:
        sut = getattr(item, "funcargs", {}).get("system")
        if isinstance(sut, System):
            report.sections.append(("coord service logs", sut.dump_logs()))
    return report
