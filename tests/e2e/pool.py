"""The systems of an end-to-end session: started once, shared by the tests that can share one.

Starting a system (a vhost, a database, ``coord db upgrade`` and three processes) takes
longer on a small CI machine than most tests take. So a test names the
:class:`SystemSpec` it runs on (marker ``system_spec``; :data:`DEFAULT` when it names
none) and its database backend (fixture ``backend``), and gets the :class:`SystemPool`'s
system of that spec and backend: started for the first test that needs it, stopped after
the last (tests/e2e/conftest.py). The tests sharing a system do not see each other's
effects (``System.begin_test``): each sees only the webhooks about subjects it created,
and each finds the services as started. What they share is the database: a test that
asserts on every alert or on an aggregate (the listing of all alerts, a report that counts
a sector's recommendations) must not share it with tests that create such subjects, or
run on a system of its own: ``spec.fresh()``, a system started for the test alone and
stopped after it (for the tests that kill the broker, too).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.system import System
from tests.support.database import fresh_pg_database
from tests.support.rabbit import fresh_vhost
from tests.support.receiver import WebhookReceiver

BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class SystemSpec:
    """How to build a system: ``name`` identifies it (the tests of one name and backend
    share a system); ``directory(receiver_base_url)`` is its directory (default: the e2e
    directory), ``extra_env`` and ``local_tokens`` as for :class:`System`; ``shared``:
    False for a system of the test's own. ``before_start(system)`` is awaited once the
    system's ports are chosen and before its services start: it may add to ``system.env``
    what depends on them (a gateway that must call the services back, say)."""

    name: str
    directory: Callable[[str], Mapping[str, Any]] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    local_tokens: bool = False
    shared: bool = True
    before_start: Callable[[System], Awaitable[None]] | None = None

    def fresh(self) -> SystemSpec:
        """The same system, but started for one test alone."""
        return dataclasses.replace(self, shared=False)


DEFAULT = SystemSpec("default")


@dataclass
class _Running:
    system: System
    resources: contextlib.ExitStack  # its vhost and database


class SystemPool:
    """The running systems of the session, by (spec name, backend); a fresh one is never
    reused. Must be used from one event loop (that of the receivers)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._shared: dict[tuple[str, str], _Running] = {}
        self._fresh: dict[int, _Running] = {}
        self._count = 0

    async def acquire(self, spec: SystemSpec, backend: str) -> System:
        """The running shared system of ``spec`` on ``backend`` (started if need be), or a
        new one when ``spec`` is not shared."""
        if spec.shared and (spec.name, backend) in self._shared:
            return self._shared[(spec.name, backend)].system
        running = await self._start(spec, backend)
        if spec.shared:
            self._shared[(spec.name, backend)] = running
        else:
            self._fresh[id(running.system)] = running
        return running.system

    async def release(self, system: System) -> None:
        """Stop the system and drop its vhost and database."""
        for key, running in list(self._shared.items()):
            if running.system is system:
                del self._shared[key]
                await self._stop(running)
        running_fresh = self._fresh.pop(id(system), None)
        if running_fresh is not None:
            await self._stop(running_fresh)

    async def aclose(self) -> None:
        for running in [*self._shared.values(), *self._fresh.values()]:
            await self._stop(running)
        self._shared.clear()
        self._fresh.clear()

    async def _start(self, spec: SystemSpec, backend: str) -> _Running:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")
        self._count += 1
        workdir = self.root / f"{self._count:02d}-{spec.name}-{backend}"
        workdir.mkdir(parents=True)
        resources = contextlib.ExitStack()
        receiver: WebhookReceiver | None = None
        system: System | None = None
        try:
            amqp_url = resources.enter_context(fresh_vhost())
            database_url = (
                resources.enter_context(fresh_pg_database())
                if backend == "postgresql"
                else f"sqlite+aiosqlite:///{workdir / 'coord.db'}"
            )
            receiver = await WebhookReceiver().start()
            system = System(
                workdir / "system",
                amqp_url,
                database_url,
                receiver,
                extra_env=spec.extra_env,
                directory=spec.directory(receiver.base_url) if spec.directory else None,
                local_tokens=spec.local_tokens,
            )
            if spec.before_start is not None:
                await spec.before_start(system)
            await system.start()
        except BaseException:
            await self._stop_parts(system, receiver, resources)
            raise
        return _Running(system, resources)

    async def _stop(self, running: _Running) -> None:
        await self._stop_parts(running.system, running.system.receiver, running.resources)

    @staticmethod
    async def _stop_parts(
        system: System | None, receiver: WebhookReceiver | None, resources: contextlib.ExitStack
    ) -> None:
        try:
            if system is not None:
                await system.aclose()
        finally:
            try:
                if receiver is not None:
                    await receiver.stop()
            finally:
                resources.close()
