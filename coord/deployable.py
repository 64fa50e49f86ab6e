"""The settings of a command that runs a service or uses a secret, refused when unfit.

Outside ``COORD_ENV=development`` the published development secrets must not be
used (``shared.settings.require_deployable``, the one rule): such a command
exits 2 with one message on stderr naming each variable to set, never a
traceback. So does one whose environment does not parse (``COORD_ENV=prod``).
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from shared.settings import Settings, UndeployableSettings, get_settings, require_deployable

EXIT_CONFIG = 2


def deployable_settings() -> Settings:
    """The process-wide settings, after ``require_or_exit``; exit 2 when they do not parse."""
    try:
        settings = get_settings()
    except ValidationError as error:
        typer.echo(_invalid(error), err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    require_or_exit(settings)
    return settings


def require_or_exit(settings: Settings) -> None:
    """Return when ``settings`` may be used here; otherwise say why on stderr and exit 2."""
    try:
        require_deployable(settings)
    except UndeployableSettings as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _invalid(error: ValidationError) -> str:
    # The fields are the variables without their prefix; never echo a value (secrets).
    lines = [
        f"  COORD_{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
        for e in error.errors()
    ]
    return "invalid settings:\n" + "\n".join(lines)
