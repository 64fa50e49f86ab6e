"""``coord source-key``: keys of the ring that seals alert sources (COORD_SOURCE_KEYS).

The ring is ``kid:key,kid:key``: the first key seals new sources, every key opens.
To rotate, put a new line (``coord source-key new``) first and keep the old keys
after it. Removing a key makes every source it sealed unreadable for good
(crypto-shredding); the event log still verifies. See docs/contract.md, "Source
protection". Nothing here prints a key of the configured ring.
"""

from __future__ import annotations

from typing import Annotated

import typer

source_key_app = typer.Typer(
    help="Keys that seal alert sources (COORD_SOURCE_KEYS): make one, check the ring.",
    no_args_is_help=True,
)


@source_key_app.command("new")
def new_command(
    kid: Annotated[
        str | None,
        typer.Option(help="The key id (letters, digits, '.', '_', '-'). Default: dated."),
    ] = None,
) -> None:
    """Print a new ``kid:key`` line (32 random bytes) for COORD_SOURCE_KEYS."""
    from shared.source_protection import InvalidSourceKeys, new_key_line

    try:
        line = new_key_line(kid)
    except InvalidSourceKeys as error:
        raise typer.BadParameter(str(error), param_hint="--kid") from None
    typer.echo(line)
    # On stderr, so that stdout is the line alone (for a secret store or a pipe).
    typer.echo(
        "Put it FIRST in COORD_SOURCE_KEYS to seal new sources with it; keep the old keys "
        "after it for as long as what they sealed must stay readable.",
        err=True,
    )


@source_key_app.command("check")
def check_command() -> None:
    """Check COORD_SOURCE_KEYS: print its key ids (the sealing one first), or what is wrong."""
    from coord.deployable import deployable_settings
    from shared.source_protection import InvalidSourceKeys, SourceKeyRing

    settings = deployable_settings()  # `new` needs no check: it makes the remedy
    try:
        ring = SourceKeyRing.from_settings(settings)
    except InvalidSourceKeys as error:
        typer.echo(f"COORD_SOURCE_KEYS: {error}", err=True)
        raise typer.Exit(1) from None
    sealing, *opening = ring.kids
    typer.echo(f"seals with: {sealing}")
    if opening:
        typer.echo(f"also opens: {', '.join(opening)}")
