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
        # The errors' messages, not str(error): that quotes the input, which may be a
        # community contact's name and number.
        reason = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        await _reject(session, _redacted(envelope), sha if isinstance(sha, str) else "", reason)
        return
    plain = [c.id for c in directory.community_contacts if not c.is_sealed]
    if plain:
        # Never live with focal points in the clear (coord directory load seals them), nor
        # on the log: the command is kept without their names and numbers.
        reason = f"community contacts not sealed: {', '.join(plain)}"
        await _reject(session, _redacted(envelope), command.sha256, reason)
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


_CONTACT_SECRETS = ("name", "phone")


def _redacted(envelope: Envelope) -> Envelope:
    """The refused command as the log keeps it: community contacts without name and phone.

    Only a command that is refused ever holds them (the CLI seals them): the log keeps
    that it came and why it was refused, not who the focal points are.
    """
    content = envelope.payload.get("content")
    if not isinstance(content, dict):
        return envelope
    contacts = content.get("community_contacts")
    if not isinstance(contacts, list):
        return envelope
    kept = [
        {k: v for k, v in c.items() if k not in _CONTACT_SECRETS} if isinstance(c, dict) else c
        for c in contacts
    ]
    payload = {**envelope.payload, "content": {**content, "community_contacts": kept}}
    return envelope.model_copy(update={"payload": payload})


async def _reject(session: AsyncSession, envelope: Envelope, sha256: str, reason: str) -> None:
    rejected = envelope.caused(
        DIRECTORY_REJECTED,
        DirectoryRejectedV1(sha256=sha256, reason=reason[:_MAX_REASON]),
        producer=PRODUCER,
    )
    await append_to_log(session, (envelope, rejected))
    log.warning("directory.rejected", sha256=sha256, reason=reason[:_MAX_REASON])
