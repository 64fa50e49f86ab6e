"""Ingest as a runnable unit: the public API, and the consumer keeping its views."""

from __future__ import annotations

from fastapi import FastAPI

from services.ingest.api import include_routes
from services.ingest.deps import ApiContext
from services.ingest.limits import BodySizeLimit
from services.ingest.message_projections import apply_message_event
from services.ingest.projections import apply_event
from services.ingest.recommendation_projections import apply_recommendation_event
from services.ingest.stream import STREAM_BINDINGS, StreamHub
from services.ingest.tables import OUTBOX
from shared.auth import Authenticator
from shared.bus import INGEST_VIEWS_QUEUE
from shared.directory_store import DirectorySource
from shared.envelope import Envelope
from shared.health import health_routes
from shared.problems import install_problem_handlers
from shared.request_context import RequestContext
from shared.runtime import Infrastructure
from shared.settings import Settings
from shared.source_protection import SourceKeyRing


class IngestService:
    """Ingest unit for ``shared.runtime.run_units``."""

    name = "ingest"

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or settings.ingest_port
        self.infrastructure: Infrastructure | None = None
        self.authenticator: Authenticator | None = None
        self.app = FastAPI(
            title="coord",
            version="1",
            description="Coordination and protection-alert system: public HTTP API v1.",
        )
        self.app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
        self.app.add_middleware(RequestContext)  # outermost: 413s are logged too
        install_problem_handlers(self.app)
        self.app.include_router(health_routes(self._readiness))
        include_routes(self.app, rate_limit=settings.rate_limit)

    async def _readiness(self) -> dict[str, str]:
        if self.infrastructure is None:
            return {"service": "starting"}
        return await self.infrastructure.readiness()

    async def start(self) -> None:
        """Connect, serve the API, and keep the views from ``ingest.views``."""
        # A malformed COORD_SOURCE_KEYS stops the start here, before any alert is taken.
        source_keys = SourceKeyRing.from_settings(self.settings)
        self.infrastructure = await Infrastructure.open(self.settings, self.name, OUTBOX)
        sessions = self.infrastructure.sessions
        directories = await DirectorySource.open(
            sessions, self.settings.directory, refresh_interval=self.settings.directory_refresh
        )
        self.infrastructure.spawn(directories.run())
        stream = StreamHub(sessions)
        self.authenticator = Authenticator.from_settings(self.settings)
        self.app.state.api = ApiContext(
            directories, sessions, self.authenticator, stream, source_keys
        )
        await self.infrastructure.bus.consume(INGEST_VIEWS_QUEUE, self._on_event)
        await self.infrastructure.bus.subscribe(STREAM_BINDINGS, stream.on_event)

    async def _on_event(self, envelope: Envelope) -> None:
        assert self.infrastructure is not None  # noqa: S101 - consuming starts after open
        async with self.infrastructure.sessions() as session, session.begin():
            if envelope.type.startswith("message."):
                await apply_message_event(session, envelope)
                return
            if envelope.type.startswith("recommendation."):
                await apply_recommendation_event(session, envelope)
                return
            await apply_event(session, envelope)

    async def stop(self) -> None:
        """Release the broker, the database and the identity provider's connections."""
        if self.authenticator is not None:
            await self.authenticator.aclose()
        if self.infrastructure is not None:
            await self.infrastructure.close()
