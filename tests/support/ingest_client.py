"""An HTTP client on ingest's app in-process, on a test database, without a broker.

The app is built as the service builds it (middleware, problem details, rate
limit, routes); only its context is set by hand instead of by ``start()``.
With ``router=True`` a ``Pump`` does the broker's work in-process, so commands
get the real router's verdict; without it nothing decides them (they answer
``202`` after ``command_wait``) and tests put views into a state through the
projections.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.ingest.cap.profile import CapProfile
from services.ingest.deps import ApiContext
from services.ingest.dispatch import project
from services.ingest.service import IngestService
from services.ingest.stream.hub import StreamHub
from services.ingest.verdicts import VerdictWaiters
from services.ingest.views import ViewKeeper
from shared.auth import Authenticator
from shared.directory import Directory
from shared.directory_store import DirectorySource
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY, example_directory
from tests.support.pump import Pump, pumping

# Without a router nothing decides a command: do not make every such test wait 3 s.
NO_ROUTER_COMMAND_WAIT = 0.2
# With the router pumped in-process the verdict comes as soon as the router decided; the
# bound only matters on a loaded CI machine, where 3 s (the default) was seen to pass.
ROUTER_COMMAND_WAIT = 15.0


class IngestClient(httpx.AsyncClient):
    """A client of the in-process app; ``pump`` delivers what it stages (``router=True``)."""

    pump: Pump


@asynccontextmanager
async def ingest_client(
    db: Database,
    jwt_secret: str,
    *,
    directory: Directory | None = None,
    stream: StreamHub | None = None,
    router: bool = False,
    authenticator: Authenticator | None = None,
    **settings: Any,
) -> AsyncIterator[IngestClient]:
    """A client of ingest's API on ``db``, signing in with HS256 tokens of ``jwt_secret``.

    ``authenticator`` verifies the bearer tokens (and the board's OIDC ID tokens) instead
    of the development one of ``jwt_secret``: e.g. a production one against a test
    identity provider. The caller closes it.
    """
    settings.setdefault("command_wait", ROUTER_COMMAND_WAIT if router else NO_ROUTER_COMMAND_WAIT)
    config = Settings(
        jwt_secret=jwt_secret, directory=EXAMPLE_DIRECTORY, database_url=db.url, **settings
    )
    app = IngestService(config).app
    source = DirectorySource.fixed(directory or example_directory())
    verdicts = VerdictWaiters(db.sessions, poll_interval=0.05)
    app.state.api = ApiContext(
        source,
        db.sessions,
        authenticator or Authenticator(secret=jwt_secret),
        stream or StreamHub(db.sessions),
        SourceKeyRing.from_settings(config),
        verdicts,
        command_wait=config.command_wait,
        cap=CapProfile.from_settings(config),
    )
    views = ViewKeeper(db.sessions, project, verdicts)
    pump = Pump(db.sessions, lambda: source.current, views)
    transport = httpx.ASGITransport(app=app)
    async with (
        IngestClient(transport=transport, base_url="http://ingest.test") as client,
        pumping(pump) if router else contextlib.nullcontext(pump),
    ):
        client.pump = pump
        yield client


def service_context(
    db: Database, directory: Directory, keys: SourceKeyRing, jwt_secret: str
) -> ApiContext:
    """What ingest's service functions are called with, as its routes would call them
    (for tests of a service function without HTTP: the SMS and triage services)."""
    return ApiContext(
        DirectorySource.fixed(directory),
        db.sessions,
        Authenticator(secret=jwt_secret),
        StreamHub(db.sessions),
        keys,
        VerdictWaiters(db.sessions),
    )
