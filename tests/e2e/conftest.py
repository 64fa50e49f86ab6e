"""Fixtures of the end-to-end tests: the running system and its webhook receiver.

A test gets the system of its :class:`~tests.e2e.pool.SystemSpec` (marker
``system_spec(spec)``; :data:`~tests.e2e.pool.DEFAULT` without one) on its ``backend``
(``sqlite`` and ``postgresql`` unless the test parametrizes it). A shared system is started
for the first test that needs it and stopped after the last one (in the order the session
runs them); a fresh one (``spec.fresh()``) lives for its test alone.

Every e2e test runs in the session's event loop (``pytest.mark.asyncio(loop_scope=
"session")``): the receivers of the shared systems serve their webhooks from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.pool import BACKENDS, DEFAULT, SystemPool, SystemSpec
from tests.e2e.system import System
from tests.support.receiver import WebhookReceiver


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "system_spec(spec): the tests.e2e.pool.SystemSpec of the system the e2e test runs on",
    )


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database of the test's system (parametrize it indirectly to run on one)."""
    return str(request.param)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def system_pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SystemPool]:
    """The systems of the session (see tests/e2e/pool.py); any still running at the end
    are stopped then."""
    pool = SystemPool(Path(tmp_path_factory.mktemp("e2e-systems")))
    try:
        yield pool
    finally:
        await pool.aclose()


def _spec(item: pytest.Item) -> SystemSpec:
    marker = item.get_closest_marker("system_spec")
    if marker is None:
        return DEFAULT
    spec = marker.args[0]
    assert isinstance(spec, SystemSpec), f"{item.nodeid}: system_spec({spec!r})"
    return spec


def _runs_on(item: pytest.Item, spec: SystemSpec, backend: str) -> bool:
    """Whether ``item`` is a test on the shared system of ``spec`` and ``backend``."""
    if "system" not in getattr(item, "fixturenames", ()):
        return False
    other = _spec(item)
    if not other.shared or other.name != spec.name:
        return False
    callspec = getattr(item, "callspec", None)
    params: dict[str, object] = callspec.params if callspec is not None else {}
    return params.get("backend", backend) == backend  # an unparametrized one: any backend


@pytest_asyncio.fixture(loop_scope="session")
async def system(
    request: pytest.FixtureRequest, backend: str, system_pool: SystemPool
) -> AsyncIterator[System]:
    """ingest, router and notifier as separate processes on a vhost and database of their
    own, with the directory's webhooks pointing at their ``receiver``; shared with the
    other tests of the same spec and backend, but as if started for this test."""
    spec = _spec(request.node)
    sut = await system_pool.acquire(spec, backend)
    try:
        await sut.begin_test()
    except BaseException:
        await system_pool.release(sut)
        raise
    try:
        yield sut
    finally:
        await sut.end_test()
        items = request.session.items
        later = items[items.index(request.node) + 1 :] if request.node in items else []
        if not spec.shared or not any(_runs_on(item, spec, backend) for item in later):
            await system_pool.release(sut)


@pytest.fixture
def receiver(system: System) -> WebhookReceiver:
    """The webhook receiver of the test's system: it sees the test's webhooks only."""
    return system.receiver


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
