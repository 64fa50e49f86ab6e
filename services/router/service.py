"""The router as a runnable unit: consumes commands, fires timers, owns alert state and the log."""

from __future__ import annotations

from fastapi import FastAPI

from services.router.handlers import RouterHandler
from services.router.tables import OUTBOX
from services.router.timers import TimerLoop
from shared.bus import ROUTER_QUEUE
from shared.bus_protocol import MessageBus
from shared.directory_store import DirectorySource
from shared.health import health_routes
from shared.problems import install_problem_handlers
from shared.runtime import Infrastructure
from shared.settings import Settings


class RouterService:
    """Router unit for ``shared.runtime.run_units``."""

    name = "router"

    def __init__(
        self, settings: Settings, port: int | None = None, *, bus: MessageBus | None = None
    ) -> None:
        self.settings = settings
        self._bus = bus  # None: RabbitMQ at settings.amqp_url
        self.port = port or settings.router_port
        self.infrastructure: Infrastructure | None = None
        self.app = FastAPI(title="coord router", docs_url=None, redoc_url=None)
        install_problem_handlers(self.app)
        self.app.include_router(health_routes(self._readiness))

    async def _readiness(self) -> dict[str, str]:
        if self.infrastructure is None:
            return {"service": "starting"}
        return await self.infrastructure.readiness()

    async def start(self) -> None:
        """Connect, then consume ``router.inbox``."""
        self.infrastructure = await Infrastructure.open(self.settings, self.name, OUTBOX, self._bus)
        sessions = self.infrastructure.sessions
        directories = await DirectorySource.open(
            sessions, self.settings.directory, refresh_interval=self.settings.directory_refresh
        )
        self.infrastructure.spawn(directories.run())
        await self.infrastructure.bus.consume_batches(
            ROUTER_QUEUE, RouterHandler(sessions, directories.get).batch, self.settings.prefetch
        )
        timers = TimerLoop(
            sessions, directories.get, poll_interval=self.settings.timer_poll_interval
        )
        self.infrastructure.spawn(timers.run())

    def drain(self) -> None:
        """Nothing to end: its HTTP server serves no live stream."""

    async def stop(self) -> None:
        """Release the broker and the database."""
        if self.infrastructure is not None:
            await self.infrastructure.close()
