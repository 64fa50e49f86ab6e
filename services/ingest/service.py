"""Ingest as a runnable unit: the public API, and the consumer keeping its views."""

from __future__ import annotations

from fastapi import FastAPI

from services.ingest.board.install import install_board
from services.ingest.cap.profile import CapProfile
from services.ingest.deps import ApiContext
from services.ingest.dispatch import project
from services.ingest.docs import install_docs
from services.ingest.errors import install_error_handler
from services.ingest.limits import BodySizeLimit
from services.ingest.routes import include_routes
from services.ingest.sms.routes import sms_routes
from services.ingest.stream.hub import STREAM_BINDINGS, StreamHub
from services.ingest.tables import OUTBOX
from services.ingest.verdicts import VerdictWaiters
from services.ingest.views import ViewKeeper
from shared.auth import Authenticator
from shared.bus import INGEST_VIEWS_QUEUE
from shared.bus_protocol import MessageBus
from shared.directory_store import DirectorySource
from shared.health import health_routes
from shared.problems import install_problem_handlers
from shared.request_context import RequestContext
from shared.runtime import Infrastructure
from shared.settings import Settings
from shared.source_protection import SourceKeyRing


class IngestService:
    """Ingest unit for ``shared.runtime.run_units``."""

    name = "ingest"

    def __init__(
        self, settings: Settings, port: int | None = None, *, bus: MessageBus | None = None
    ) -> None:
        self.settings = settings
        self._bus = bus  # None: RabbitMQ at settings.amqp_url
        self.port = port or settings.ingest_port
        self.infrastructure: Infrastructure | None = None
        self.authenticator: Authenticator | None = None
        self._stream: StreamHub | None = None  # the live streams, ended by ``drain``
        self.app = FastAPI(
            title="coord",
            version="1",
            description="Coordination and protection-alert system: public HTTP API v1.",
            docs_url=None,  # install_docs serves them without a CDN
            redoc_url=None,
        )
        self.app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
        self.app.add_middleware(RequestContext)  # outermost: 413s are logged too
        install_problem_handlers(self.app)
        install_error_handler(self.app)
        self.app.include_router(health_routes(self._readiness))
        install_docs(self.app)
        include_routes(self.app, rate_limit=settings.rate_limit)
        install_board(self.app, settings)
        if settings.sms_kannel_url is not None:
            # SMS replies come in through Kannel; without a gateway the route is 404.
            self.app.include_router(sms_routes(settings))

    async def _readiness(self) -> dict[str, str]:
        if self.infrastructure is None:
            return {"service": "starting"}
        return await self.infrastructure.readiness()

    async def start(self) -> None:
        """Connect, serve the API, and keep the views from ``ingest.views``."""
        # A malformed COORD_SOURCE_KEYS stops the start here, before any alert is taken.
        source_keys = SourceKeyRing.from_settings(self.settings)
        self.infrastructure = await Infrastructure.open(self.settings, self.name, OUTBOX, self._bus)
        sessions = self.infrastructure.sessions
        directories = await DirectorySource.open(
            sessions, self.settings.directory, refresh_interval=self.settings.directory_refresh
        )
        self.infrastructure.spawn(directories.run())
        stream = self._stream = StreamHub(sessions)
        self.authenticator = Authenticator.from_settings(self.settings)
        verdicts = VerdictWaiters(sessions)
        self.app.state.api = ApiContext(
            directories,
            sessions,
            self.authenticator,
            stream,
            source_keys,
            verdicts,
            command_wait=self.settings.command_wait,
            cap=CapProfile.from_settings(self.settings),
        )
        views = ViewKeeper(sessions, project, verdicts)
        self.infrastructure.spawn(views.forget_old_verdicts())
        await self.infrastructure.bus.consume_batches(
            INGEST_VIEWS_QUEUE, views.batch, self.settings.prefetch
        )
        stream.attach(await self.infrastructure.bus.subscribe(STREAM_BINDINGS, stream.on_event))

    def drain(self) -> None:
        """End every live stream (clients reconnect to another replica, or after the restart)."""
        if self._stream is not None:
            self._stream.close()

    async def stop(self) -> None:
        """Release the broker, the database and the identity provider's connections."""
        if self.authenticator is not None:
            await self.authenticator.aclose()
        if self.infrastructure is not None:
            await self.infrastructure.close()
