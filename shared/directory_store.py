"""The live directory: versions loaded with ``coord directory load``, and a source following them.

``coord directory load FILE`` checks a file and sends its content to the router
as a ``directory.load`` command; the router stores it as the next version of
``router_directory_versions`` (and logs the command and a ``directory.loaded``
event). Every service reads the directory through a ``DirectorySource``: the
latest stored version (the ``COORD_DIRECTORY`` file until one is loaded),
swapped in while running, so a load restarts nothing.

The table belongs to the router: it is its only writer
(``services.router.directory_versions``). It is declared here, in ``shared``,
because ingest and the notifier read it too and services never import each other.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import JSON, Integer, String, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime
from shared.directory import Directory, load_directory
from shared.envelope import Classification, Envelope

log = structlog.get_logger(__name__)

# Message types. (Payload models are below: shared/contracts may take them over.)
DIRECTORY_LOAD = "directory.load"  # command: coord CLI -> router
DIRECTORY_LOADED = "directory.loaded"  # event: the router stored a new version
DIRECTORY_REJECTED = "directory.rejected"  # event: the router refused a load

CLI_PRODUCER = "coord-cli"


class DirectoryVersion(Base):
    """One loaded version of the directory. Written by the router only, never updated."""

    __tablename__ = "router_directory_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # Directory.content()
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # content_sha256(content)
    loaded_by: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    command_id: Mapped[str] = mapped_column(String(36), unique=True)  # the directory.load id


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadDirectoryV1(_Contract):
    """Command ``directory.load``: make ``content`` the live directory."""

    content: dict[str, Any]
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    loaded_by: str = Field(min_length=1, max_length=200)


class DirectoryLoadedV1(_Contract):
    """Event ``directory.loaded``: version ``version`` is the live directory."""

    version: int = Field(ge=1)
    sha256: str


class DirectoryRejectedV1(_Contract):
    """Event ``directory.rejected``: a load the router refused (the live one is unchanged)."""

    sha256: str
    reason: str


def content_sha256(content: dict[str, Any]) -> str:
    """The SHA-256 of directory content, independent of key order and formatting."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_command(directory: Directory, loaded_by: str) -> Envelope:
    """The ``directory.load`` command for a validated directory."""
    content = directory.content()
    command_id = uuid4()
    return Envelope(
        id=command_id,
        type=DIRECTORY_LOAD,
        producer=CLI_PRODUCER,
        actor=loaded_by,
        correlation_id=command_id,
        # Names and contacts of mission staff: not for everyone's eyes.
        classification=Classification.CONFIDENTIAL,
        payload=LoadDirectoryV1(
            content=content, sha256=content_sha256(content), loaded_by=loaded_by
        ).model_dump(mode="json"),
    )


@dataclass(frozen=True)
class StoredDirectory:
    """A stored version, validated."""

    version: int
    sha256: str
    loaded_by: str
    loaded_at: datetime
    directory: Directory


async def latest_version_number(session: AsyncSession) -> int | None:
    """The number of the newest stored version; None before the first load."""
    number = (await session.execute(select(func.max(DirectoryVersion.version)))).scalar_one()
    return int(number) if number is not None else None


async def stored_directory(
    session: AsyncSession, version: int | None = None
) -> StoredDirectory | None:
    """A stored version (the newest by default), validated; None when there is none.

    Raises ``pydantic.ValidationError`` if this code cannot read the stored content.
    """
    query = select(DirectoryVersion)
    if version is None:
        query = query.order_by(DirectoryVersion.version.desc()).limit(1)
    else:
        query = query.where(DirectoryVersion.version == version)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        return None
    return StoredDirectory(
        version=row.version,
        sha256=row.sha256,
        loaded_by=row.loaded_by,
        loaded_at=row.loaded_at,
        directory=Directory.model_validate(row.content),
    )


async def latest_directory(session: AsyncSession) -> Directory | None:
    """The newest stored directory; None before the first ``coord directory load``."""
    stored = await stored_directory(session)
    return stored.directory if stored is not None else None


async def version_of_command(session: AsyncSession, command_id: str) -> DirectoryVersion | None:
    """The version a ``directory.load`` command created, once the router stored it."""
    query = select(DirectoryVersion).where(DirectoryVersion.command_id == command_id)
    return (await session.execute(query)).scalar_one_or_none()


class DirectorySource:
    """The directory a service uses now; follows the loaded versions while running.

    Read ``current`` (or call ``get``) once per message or request and use that
    one directory throughout: a swap may happen between two reads.
    """

    def __init__(
        self,
        directory: Directory,
        *,
        version: int | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        refresh_interval: float = 2.0,
    ) -> None:
        self._directory = directory
        self._version = version
        self._sessions = sessions
        self._refresh_interval = refresh_interval
        self._unusable: int | None = None  # a stored version this code cannot read
        self._failing = False

    @classmethod
    def fixed(cls, directory: Directory) -> DirectorySource:
        """A source that never changes (tests, tools)."""
        return cls(directory)

    @classmethod
    async def open(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        fallback: Path,
        *,
        refresh_interval: float = 2.0,
    ) -> DirectorySource:
        """The latest stored version, else the ``fallback`` file (``COORD_DIRECTORY``).

        When the database cannot answer now, the file is used and ``run`` swaps
        in the stored version once it can.
        """
        stored: StoredDirectory | None = None
        try:
            async with sessions() as session:
                stored = await stored_directory(session)
        except (SQLAlchemyError, OSError, ValidationError) as error:
            log.warning("directory.store_unreadable", error=repr(error), fallback=str(fallback))
        if stored is None:
            source = cls(
                load_directory(fallback), sessions=sessions, refresh_interval=refresh_interval
            )
            log.info("directory.from_file", path=str(fallback))
            return source
        log.info("directory.from_store", version=stored.version, sha256=stored.sha256)
        return cls(
            stored.directory,
            version=stored.version,
            sessions=sessions,
            refresh_interval=refresh_interval,
        )

    @property
    def current(self) -> Directory:
        """The directory in force now."""
        return self._directory

    def get(self) -> Directory:
        """The directory in force now (``current``, as a callable)."""
        return self._directory

    @property
    def version(self) -> int | None:
        """The stored version in force; None while it is the file's directory."""
        return self._version

    async def refresh(self) -> bool:
        """Swap in the newest stored version if it is newer; True when swapped."""
        if self._sessions is None:
            return False
        async with self._sessions() as session:
            newest = await latest_version_number(session)
            if newest is None or newest == self._unusable:
                return False
            if self._version is not None and newest <= self._version:
                return False
            try:
                stored = await stored_directory(session, newest)
            except ValidationError:
                self._unusable = newest
                log.exception("directory.version_unusable", version=newest)
                return False
        if stored is None:
            return False
        self._directory, self._version = stored.directory, stored.version
        log.info(
            "directory.swapped",
            version=stored.version,
            sha256=stored.sha256,
            loaded_by=stored.loaded_by,
        )
        return True

    async def run(self) -> None:
        """Refresh every ``refresh_interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self._refresh_interval)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the database may be down: retry
                if not self._failing:
                    log.warning("directory.refresh_failing", error=repr(error))
                self._failing = True
            else:
                if self._failing:
                    log.info("directory.refresh_recovered")
                self._failing = False
