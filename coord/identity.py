"""Who runs a ``coord`` command that changes state or reads the log, and whether they may.

The CLI asks the same two things as the API: the bearer token in
``COORD_TOKEN`` (checked like an HTTP request's: HS256 in development, the
OIDC issuer's keys in production) names a person of the directory in force,
and the permissions table (``shared.permissions``) lets that person do it.
Shell access to the database would bypass any CLI check; what this gives is
that the normal tools refuse the wrong person and put the right one on the log.
"""

from __future__ import annotations

import asyncio

import typer
from sqlalchemy.exc import SQLAlchemyError

from coord.deployable import require_or_exit
from shared.auth import Authenticator, IdentityProviderUnavailable, InvalidToken
from shared.db import one_session
from shared.directory import Directory, Person, load_directory
from shared.directory_store import stored_directory
from shared.permissions import Action, allowed, refusal
from shared.settings import Settings

_HOW = (
    "set COORD_TOKEN to your bearer token "
    "(development: export COORD_TOKEN=$(.venv/bin/coord token PERSON_ID))"
)


def caller(settings: Settings, action: Action) -> Person:
    """The person ``COORD_TOKEN`` speaks for, when allowed to ``action``; exit 2 otherwise."""
    # Every such command verifies a token, and some open sources: no published secrets.
    require_or_exit(settings)
    if settings.token is None or not settings.token.get_secret_value().strip():
        typer.echo(f"this command needs to know who you are: {_HOW}", err=True)
        raise typer.Exit(2)
    person_id = _subject(settings, settings.token.get_secret_value().strip())
    directory = directory_in_force(settings)
    person = directory.person(person_id)
    if person is None:
        typer.echo(f"COORD_TOKEN: {person_id!r} is not a person of the directory", err=True)
        raise typer.Exit(2)
    if not allowed(person, action):
        typer.echo(f"refused: {refusal(person, action)}", err=True)
        raise typer.Exit(2)
    return person


def _subject(settings: Settings, token: str) -> str:
    async def check() -> str:
        async with Authenticator.from_settings(settings) as authenticator:
            return await authenticator.subject(token)

    try:
        return asyncio.run(check())
    except InvalidToken as error:
        typer.echo(f"COORD_TOKEN: {error}", err=True)
        raise typer.Exit(2) from None
    except IdentityProviderUnavailable as error:
        typer.echo(f"cannot check COORD_TOKEN: {error}", err=True)
        raise typer.Exit(1) from None


def directory_in_force(settings: Settings) -> Directory:
    """The live directory (the last ``coord directory load``), else the configured file."""

    async def live() -> Directory | None:
        async with one_session(settings.database_url, read_only=True) as session:
            stored = await stored_directory(session)
        return stored.directory if stored is not None else None

    try:
        directory = asyncio.run(live())
    except (SQLAlchemyError, OSError):
        directory = None  # no database yet: the file is what the services would use
    return directory if directory is not None else load_directory(settings.directory)
