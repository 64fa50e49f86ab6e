"""The ``coord`` command line: run the system, migrate, mint tokens, manage the directory."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import structlog
import typer

from coord.audit_commands import audit_app
from coord.cap_commands import cap_app
from coord.deployable import EXIT_CONFIG, deployable_settings
from coord.directory_commands import directory_app, policy_app
from coord.outbox_commands import outbox_app
from coord.report_commands import report_app
from coord.source_key_commands import source_key_app
from shared.auth import mint_token
from shared.logging import configure_logging
from shared.settings import (
    Settings,
    development_defaults_in_force,
    get_settings,
    trusts_development_tokens,
)

if TYPE_CHECKING:
    from shared.runtime import ServiceUnit

app = typer.Typer(help="Coordination and protection-alert system.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(directory_app, name="directory")
app.add_typer(policy_app, name="policy")
app.add_typer(report_app, name="report")
app.add_typer(audit_app, name="audit")
app.add_typer(cap_app, name="cap")
app.add_typer(outbox_app, name="outbox")
app.add_typer(source_key_app, name="source-key")

log = structlog.get_logger(__name__)

PortOption = Annotated[int | None, typer.Option(help="HTTP port (health, metrics, API).")]


class ServiceName(StrEnum):
    """The services ``coord run`` can start."""

    INGEST = "ingest"
    ROUTER = "router"
    NOTIFIER = "notifier"


def _unit(name: ServiceName, settings: Settings, port: int | None) -> ServiceUnit:
    from shared.health import scope_metrics  # FastAPI: imported only when a service runs

    unit = _new_unit(name, settings, port)
    # Under `coord up` the units share one process and its metrics: each port shows its own.
    scope_metrics(unit.app, unit.name)
    return unit


def _new_unit(name: ServiceName, settings: Settings, port: int | None) -> ServiceUnit:
    # Imported here: this module is the one place that knows every service.
    if name is ServiceName.INGEST:
        from services.ingest.service import IngestService

        return IngestService(settings, port)
    if name is ServiceName.ROUTER:
        from services.router.service import RouterService

        return RouterService(settings, port)
    from services.notifier.service import NotifierService

    return NotifierService(settings, port)


def _service_settings() -> Settings:
    """Settings a service may start with (exit 2 otherwise), logging set up."""
    settings = deployable_settings()
    configure_logging(settings)
    defaults = development_defaults_in_force(settings)
    if defaults:  # only in development: require_deployable refuses them elsewhere
        log.warning(
            "settings.development_secrets",
            variables=[line.partition(":")[0] for line in defaults],
            env=settings.env,
        )
    return settings


@app.command()
def up(port: PortOption = None) -> None:
    """Run all three services in this one process (the API on --port)."""
    from shared.http_server import HeaderLimits
    from shared.runtime import serve

    settings = _service_settings()
    units = [
        _unit(ServiceName.INGEST, settings, port),
        _unit(ServiceName.ROUTER, settings, None),
        _unit(ServiceName.NOTIFIER, settings, None),
    ]
    serve(units, settings.host, HeaderLimits.from_settings(settings))


@app.command()
def run(service: ServiceName, port: PortOption = None) -> None:
    """Run one service in this process; run several side by side as replicas."""
    from shared.http_server import HeaderLimits
    from shared.runtime import serve

    settings = _service_settings()
    serve([_unit(service, settings, port)], settings.host, HeaderLimits.from_settings(settings))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database (COORD_DATABASE_URL) to the latest schema."""
    from coord.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at revision {revision}")


@app.command()
def token(
    person_id: str,
    ttl: Annotated[int, typer.Option(help="Validity in seconds.")] = 8 * 3600,
) -> None:
    """Print a development JWT for PERSON_ID (signed with COORD_JWT_SECRET)."""
    settings = deployable_settings()
    if not trusts_development_tokens(settings):
        # Deployable with an OIDC issuer: no service would accept a token of the published secret.
        typer.echo(
            "COORD_JWT_SECRET: the published development secret is not trusted outside "
            "development; sign in with the OIDC issuer (COORD_OIDC_ISSUER), or set a secret",
            err=True,
        )
        raise typer.Exit(EXIT_CONFIG)
    if not 0 < ttl <= settings.token_max_lifetime:
        # Every service would refuse it: say so now rather than with a 401 later.
        raise typer.BadParameter(
            f"must be between 1 and COORD_TOKEN_MAX_LIFETIME ({int(settings.token_max_lifetime)})",
            param_hint="--ttl",
        )
    secret = settings.jwt_secret.get_secret_value()
    typer.echo(mint_token(person_id, secret, timedelta(seconds=ttl)))


@app.command("webhook-sink")
def webhook_sink(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9101,
) -> None:
    """Print the webhooks this machine receives and check their signatures (dev tool)."""
    from coord.webhook_sink import serve

    serve(deployable_settings(), port)
