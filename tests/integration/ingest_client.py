"""An HTTP client on ingest's app in-process, on a test database, without a broker.

The app is built as the service builds it (middleware, problem details, rate
limit, routes); only its context is set by hand instead of by ``start()``, so
the tests put views into a state through the projections, not the router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.ingest.deps import ApiContext
from services.ingest.service import IngestService
from services.ingest.stream import StreamHub
from shared.auth import Authenticator
from shared.directory import Directory
from shared.directory_store import DirectorySource
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from tests.integration.conftest import Database
from tests.unit.helpers import EXAMPLE_DIRECTORY, example_directory


@asynccontextmanager
async def ingest_client(
    db: Database,
    jwt_secret: str,
    *,
    directory: Directory | None = None,
    stream: StreamHub | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ingest's API on ``db``, signing in with HS256 tokens of ``jwt_secret``."""
    config = Settings(
        jwt_secret=jwt_secret, directory=EXAMPLE_DIRECTORY, database_url=db.url, **settings
    )
    app = IngestService(config).app
    app.state.api = ApiContext(
        DirectorySource.fixed(directory or example_directory()),
        db.sessions,
        Authenticator(secret=jwt_secret),
        stream or StreamHub(db.sessions),
        SourceKeyRing.from_settings(config),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        yield client
