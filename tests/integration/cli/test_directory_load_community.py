"""Community contacts leave the administrator's machine sealed, and live only sealed.

``coord directory load`` seals each focal point's name and phone with the source key
ring before publishing, so neither the ``directory.load`` command on the log nor the
stored version holds them; the router refuses a load whose contacts are in the clear
(``directory.rejected`` says which). Real databases (both backends) and RabbitMQ, the
router running in-process as ``coord run router`` runs it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from services.router.directory_versions import record_directory
from services.router.service import RouterService
from services.router.tables import EventRecord
from shared.auth import mint_token
from shared.bus import publish_once
from shared.community_contacts import opened
from shared.directory import Directory
from shared.directory_store import (
    DIRECTORY_LOAD,
    DIRECTORY_LOADED,
    DIRECTORY_REJECTED,
    DirectoryVersion,
    load_command,
)
from shared.settings import DEV_JWT_SECRET, Settings
from shared.source_protection import SourceKeyRing
from tests.support.cli import run_coord
from tests.support.database import Database
from tests.support.directories import DEMO_DIRECTORY

pytestmark = pytest.mark.integration

ADMIN_TOKEN = mint_token("ops.admin", DEV_JWT_SECRET)
SOURCE_KEYS = "k-load:" + base64.urlsafe_b64encode(bytes(range(96, 128))).decode()
NAME, PHONE = "Kavira Masika", "+243990000444"
PHONE_FORMS = (PHONE, "990000444", "990 000 444")


def with_contacts() -> dict[str, Any]:
    """The demo directory with two focal points, in plaintext as an administrator writes it."""
    data: dict[str, Any] = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    data["community_contacts"] = [
        {
            "id": "can.mavivi",
            "name": NAME,
            "phone": "+243 990 000 444",
            "location": "Mavivi",
            "sector": "beni",
            "language": "fr",
        },
        {
            "id": "can.oicha",
            "name": "Paluku Kasereka",
            "phone": "+243990000555",
            "location": "Oicha",
            "sector": "beni",
        },
    ]
    return data


def shows_a_contact(text: str) -> bool:
    return NAME in text or any(form in text for form in PHONE_FORMS)


async def event_log(db: Database) -> list[EventRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all())


async def versions(db: Database) -> list[DirectoryVersion]:
    async with db.sessions() as session:
        query = select(DirectoryVersion).order_by(DirectoryVersion.version)
        return list((await session.scalars(query)).all())


# --------------------------------------------------------------------------- the router alone


async def test_the_router_rejects_a_load_with_plaintext_contacts(db: Database) -> None:
    plaintext = Directory.model_validate(with_contacts())
    command = load_command(plaintext, "ops.admin")
    async with db.sessions.begin() as session:
        await record_directory(session, command)

    assert await versions(db) == []
    log = await event_log(db)
    assert [e.type for e in log] == [DIRECTORY_LOAD, DIRECTORY_REJECTED]
    assert log[1].payload["reason"] == "community contacts not sealed: can.mavivi, can.oicha"
    assert log[1].causation_id == str(command.id)
    assert not shows_a_contact(log[1].payload["reason"])
    # The refused command is on the log, but not who the focal points are.
    assert not shows_a_contact(json.dumps(log[0].payload))
    assert [c["id"] for c in log[0].payload["content"]["community_contacts"]] == [
        "can.mavivi",
        "can.oicha",
    ]


async def test_a_refused_contact_is_not_quoted_in_the_reason(db: Database) -> None:
    # A hand-made load with a contact the schema refuses (a number without its country
    # code): the reason names the field, never the name or the number.
    content = with_contacts()
    content["community_contacts"][0]["phone"] = "0990000111"
    command = load_command(Directory.model_validate(with_contacts()), "ops.admin")
    command = command.model_copy(update={"payload": {**command.payload, "content": content}})
    async with db.sessions.begin() as session:
        await record_directory(session, command)

    log = await event_log(db)
    assert [e.type for e in log] == [DIRECTORY_LOAD, DIRECTORY_REJECTED]
    assert "community_contacts.0" in log[1].payload["reason"]
    assert not shows_a_contact(log[1].payload["reason"])
    assert "0990000111" not in json.dumps([e.payload for e in log])


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
async def running_router(amqp_url: str, db: Database) -> AsyncIterator[RouterService]:
    settings = Settings(
        amqp_url=amqp_url,
        database_url=db.url,
        directory=DEMO_DIRECTORY,
        outbox_poll_interval=0.1,
        source_keys=SOURCE_KEYS,
    )
    router = RouterService(settings)
    await router.start()
    try:
        yield router
    finally:
        await router.stop()


async def test_load_seals_the_contacts_and_a_plaintext_load_is_rejected(
    amqp_url: str, db: Database, running_router: RouterService, tmp_path: Path
) -> None:
    file = tmp_path / "directory.yaml"
    file.write_text(yaml.safe_dump(with_contacts(), sort_keys=False), encoding="utf-8")
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(file),
        COORD_AMQP_URL=amqp_url,
        COORD_DATABASE_URL=db.url,
        COORD_TOKEN=ADMIN_TOKEN,
        COORD_SOURCE_KEYS=SOURCE_KEYS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded: version 1" in result.stdout
    assert not shows_a_contact(result.stdout + result.stderr)

    [row] = await versions(db)
    assert not shows_a_contact(json.dumps(row.content))
    stored = Directory.model_validate(row.content)
    assert [(c.id, c.is_sealed) for c in stored.community_contacts] == [
        ("can.mavivi", True),
        ("can.oicha", True),
    ]
    keys = SourceKeyRing.parse(SOURCE_KEYS)
    mavivi = stored.community_contact("can.mavivi")
    assert mavivi is not None
    assert (opened(mavivi, keys).name, opened(mavivi, keys).contact) == (NAME, PHONE)
    log = await event_log(db)
    assert [e.type for e in log] == [DIRECTORY_LOAD, DIRECTORY_LOADED]
    assert not shows_a_contact(json.dumps(log[0].payload))  # the command, as logged

    # A load published by hand, contacts in the clear: refused, version 1 stays.
    plaintext = load_command(Directory.model_validate(with_contacts()), "ops.admin")
    await publish_once(amqp_url, [plaintext], delivery_limit=10, timeout=10)
    deadline = time.monotonic() + 15
    while DIRECTORY_REJECTED not in [e.type for e in await event_log(db)]:
        assert time.monotonic() < deadline, "the router did not log the rejection"
        await asyncio.sleep(0.1)
    rejected = [e for e in await event_log(db) if e.type == DIRECTORY_REJECTED]
    assert [e.causation_id for e in rejected] == [str(plaintext.id)]
    assert rejected[0].payload["reason"] == "community contacts not sealed: can.mavivi, can.oicha"
    assert [v.version for v in await versions(db)] == [1]
