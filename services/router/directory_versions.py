"""Loading a new directory: the router stores each ``directory.load`` as the next version.

The router is the only writer of ``router_directory_versions`` (declared in
``shared.directory_store``, since every service reads it through a
``DirectorySource``). A load is on the event log like any other command: the
``directory.load`` envelope (with the content) and the ``directory.loaded``
event (version and SHA-256), or ``directory.rejected`` (why).

Those two are log-only (``shared.contracts.registry``): nobody consumes them from
the bus. ``coord directory load`` waits for the stored version (or the rejection
on the log), and every service follows ``router_directory_versions`` itself.
Staging them would publish to no queue: unroutable, the outbox's head stuck.
"""

from __future__ import annotations

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.directory import Directory
from shared.directory_store import (
    DIRECTORY_LOADED,
    DIRECTORY_REJECTED,
    DirectoryLoadedV1,
    DirectoryRejectedV1,
    DirectoryVersion,
    LoadDirectoryV1,
    content_sha256,
)
from shared.envelope import Envelope, utc_now
from shared.event_log import append as append_to_log

PRODUCER = "router"
_MAX_REASON = 2000

log = structlog.get_logger(__name__)


async def record_directory(session: AsyncSession, envelope: Envelope) -> None:
    """Store a ``directory.load`` command as the next version, in the caller's transaction.

    The content is validated again (schema and references) and must match its
    SHA-256; otherwise nothing is stored and ``directory.rejected`` says why
    (the command is deterministic: retrying it would fail the same way).
    """
    try:
        command = LoadDirectoryV1.model_validate(envelope.payload)
        directory = Directory.model_validate(command.content)
    except ValidationError as error:
        sha = envelope.payload.get("sha256")
        await _reject(session, envelope, sha if isinstance(sha, str) else "", str(error))
        return
    plain = [c.id for c in directory.community_contacts if not c.is_sealed]
    if plain:
        # Never live with focal points in the clear (coord directory load seals them).
        reason = f"community contacts not sealed: {', '.join(plain)}"
        await _reject(session, envelope, command.sha256, reason)
        return
    if content_sha256(command.content) != command.sha256:
        await _reject(session, envelope, command.sha256, "sha256 does not match the content")
        return
    row = DirectoryVersion(
        content=command.content,
        sha256=command.sha256,
        loaded_by=command.loaded_by,
        loaded_at=utc_now(),
        command_id=str(envelope.id),
    )
    session.add(row)
    await session.flush()  # assigns the version number
    loaded = envelope.caused(
        DIRECTORY_LOADED,
        DirectoryLoadedV1(version=row.version, sha256=command.sha256),
        producer=PRODUCER,
    )
    await append_to_log(session, (envelope, loaded))
    log.info(
        "directory.loaded", version=row.version, sha256=command.sha256, loaded_by=command.loaded_by
    )


async def on_directory_load(
    session: AsyncSession,
    directory: Directory,  # noqa: ARG001 - one signature for every router effect
    envelope: Envelope,
) -> None:
    """``record_directory`` with the signature of ``services.router.handlers.EFFECTS``."""
    await record_directory(session, envelope)


async def _reject(session: AsyncSession, envelope: Envelope, sha256: str, reason: str) -> None:
    rejected = envelope.caused(
        DIRECTORY_REJECTED,
        DirectoryRejectedV1(sha256=sha256, reason=reason[:_MAX_REASON]),
        producer=PRODUCER,
    )
    await append_to_log(session, (envelope, rejected))
    log.warning("directory.rejected", sha256=sha256, reason=reason[:_MAX_REASON])
