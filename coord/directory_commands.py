"""``coord directory check|load`` and ``coord policy dry-run``: the admin's directory tools.

The commands only read their options: the work is in ``coord.directory_admin``
(the printing of a dry run in ``coord.dry_run_output``), imported when a command
runs, so that ``coord --help`` and every other command start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shared.contracts.alerts import Category, Component, Severity
from shared.envelope import Classification

directory_app = typer.Typer(help="The directory and policy file.", no_args_is_help=True)
policy_app = typer.Typer(help="Escalation policies.", no_args_is_help=True)

FileArgument = Annotated[
    Path, typer.Argument(help="Directory YAML file.", exists=True, dir_okay=False, readable=True)
]


@directory_app.command("check")
def check(file: FileArgument) -> None:
    """Check a directory file; name every problem, one per line (exit 1 if any)."""
    from coord import directory_admin

    directory_admin.check(file)


@directory_app.command("load")
def load(
    file: FileArgument,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the router to store it.")
    ] = 15.0,
) -> None:
    """Check a file, then make it the live directory of every service (no restart).

    Refused if the check finds a schema or reference error; coverage problems
    (say, a level paging nobody in a sector) are printed as warnings.
    """
    from coord import directory_admin

    directory_admin.load(file, timeout)


@policy_app.command("dry-run")
def dry_run(
    *,
    category: Annotated[Category, typer.Option(help="The alert's category.")],
    severity: Annotated[Severity, typer.Option(help="The alert's severity.")],
    sector: Annotated[str, typer.Option(help="The alert's sector.")],
    origin: Annotated[Component, typer.Option(help="Who raised it.")] = Component.COMMUNITY,
    classification: Annotated[
        Classification, typer.Option(help="The alert's classification.")
    ] = Classification.UNCLASSIFIED,
    directory_file: Annotated[
        Path | None,
        typer.Option(
            "--directory", help="Directory file (default: COORD_DIRECTORY).", dir_okay=False
        ),
    ] = None,
    live: Annotated[
        bool, typer.Option(help="Use the live directory (the latest loaded version).")
    ] = False,
) -> None:
    """Who is paged for such an alert, on which channels and when, if nobody acknowledges."""
    from coord import directory_admin

    directory_admin.dry_run(
        category=category,
        severity=severity,
        sector=sector,
        origin=origin,
        classification=classification,
        directory_file=directory_file,
        live=live,
    )
