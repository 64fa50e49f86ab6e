"""Settings of every service, read from the environment (prefix ``COORD_``).

The secrets have published development defaults, so that ``make run`` works on a
fresh clone. ``COORD_ENV`` (``development`` | ``production``, default
``production``) decides whether those may be used: outside development,
``require_deployable`` refuses to start a service or a command that needs a
secret while any of them is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults only: any real deployment sets these from its secret store.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"  # noqa: S105 - marked development default
DEV_WEBHOOK_SECRET = "dev-only-insecure-webhook-secret-change-me"  # noqa: S105 - marked development default
DEV_LINK_SECRET = "dev-only-insecure-link-secret-change-me"  # noqa: S105 - marked development default
DEV_SESSION_SECRET = "dev-only-insecure-session-secret-change-me"  # noqa: S105 - marked development default
DEV_SMS_SECRET = "dev-only-insecure-sms-secret-change-me"  # noqa: S105 - marked development default
# docker-compose.yml's sendsms password (the kannel profile's), for both Kannel and the notifier.
DEV_SMS_KANNEL_PASSWORD = "dev-only-insecure-sendsms-password-change-me"  # noqa: S105 - marked development default
# A key ring of one development key ("key id:base64url of 32 bytes"): shared/source_protection.py.
DEV_SOURCE_KEYS = "dev-2026:kuzF2ajm2XFFIHbvP7izwjo65Xw8j7C1lZkB4BNUeuk="
# The shortest COORD_LINK_SECRET / COORD_SESSION_SECRET accepted.
MIN_SIGNING_SECRET = 32


class Settings(BaseSettings):
    """All configuration; see the configuration table in the README."""

    # Inputs are kept out of validation errors: a refused value may be (part of) a secret.
    # An empty variable is an unset one: Compose can only pass `${COORD_X:-}`, and an empty
    # COORD_SMS_KANNEL_URL must leave SMS off, an empty secret its (refused) default.
    model_config = SettingsConfigDict(
        env_prefix="COORD_", extra="ignore", hide_input_in_errors=True, env_ignore_empty=True
    )

    # Production unless said otherwise: forgetting COORD_ENV must fail safe, not run a
    # deployment on the published secrets.
    env: Literal["development", "production"] = "production"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Every node of one RabbitMQ cluster, comma-separated: tried in order at start and on
    # every reconnect (shared.broker_nodes). Empty: COORD_AMQP_URL alone.
    amqp_urls: str = ""
    database_url: str = "sqlite+aiosqlite:///./coord.db"
    directory: Path = Path("deploy/directory.yaml")
    directory_refresh: float = Field(default=2.0, gt=0)  # seconds between live-directory checks
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    # Production sign-in: tokens signed by this OpenID Connect issuer (RS256/ES256 from its
    # JWKS). When set, development HS256 tokens are refused.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    # The board signs people in at the issuer as client ``oidc_audience`` (authorization
    # code flow with PKCE); a confidential client also sends this secret.
    oidc_client_secret: SecretStr | None = None
    oidc_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    # Longest a bearer token may live (exp - iat): a stolen token with exp=1e20 is not a key
    # for life. 12 h is one JOC shift.
    token_max_lifetime: float = Field(default=12 * 3600.0, gt=0)
    # The CLI's identity for commands that change state or read the log (a bearer token).
    token: SecretStr | None = None
    # Source protection: "kid:key,kid:key" - the first key seals, every key opens.
    source_keys: SecretStr = SecretStr(DEV_SOURCE_KEYS)
    # Requests per person per ingest replica, in the `limits` notation ("120/minute").
    rate_limit: str = "120/minute"
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    # Where people reach ingest (its board and action links), as they would type it: the
    # base of every link a page carries. Behind a proxy, the proxy's address.
    public_url: str = "http://127.0.0.1:8000"
    # Signs the action links pages carry (shared/action_links.py): whoever holds it can mint
    # a link acting as anyone. Changing it voids every link in flight.
    link_secret: SecretStr = SecretStr(DEV_LINK_SECRET)
    # How long a page's link stays valid, seconds; at most 30 days (a page is about now).
    link_ttl: float = Field(default=24 * 3600.0, gt=0, le=30 * 24 * 3600.0)
    # Signs the board's session cookies: whoever holds it can sign in as anyone.
    session_secret: SecretStr = SecretStr(DEV_SESSION_SECRET)
    # How long a board session lasts, seconds (12 h, one shift, like a bearer token).
    session_ttl: float = Field(default=12 * 3600.0, gt=0)
    # The mission's own map tiles under the board's map, as {z}/{x}/{y} in a URL
    # ("https://tiles.mission.example/{z}/{x}/{y}.png"). None: sector outlines and points only.
    map_tiles_url: str | None = None

    # CAP 1.2 (docs/cap.md): the mission's sender id (no spaces, commas, < or &, e.g.
    # "joc@monusco.un.org"), the name partners see, and the language its alerts are written in.
    cap_sender: str = Field(default="coord@mission.example", pattern=r"^[^\s,<&]+$")
    cap_sender_name: str = Field(default="Peacekeeping mission JOC", min_length=1)
    cap_language: str = Field(default="en", pattern=r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")

    host: str = "127.0.0.1"
    ingest_port: int = 8000
    router_port: int = 8001
    notifier_port: int = 8002

    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    # PostgreSQL connections each service keeps open (10 more are opened in a burst).
    db_pool_size: int = Field(default=20, ge=1)
    prefetch: int = Field(default=64, ge=1)
    delivery_limit: int = Field(default=10, ge=1)
    outbox_poll_interval: float = Field(default=0.5, gt=0)
    outbox_batch_size: int = Field(default=256, ge=1)
    timer_poll_interval: float = Field(default=0.25, gt=0)
    # How long a command's request waits for the router's verdict before answering 202.
    command_wait: float = Field(default=3.0, ge=0, le=30)

    webhook_attempts: int = Field(default=5, ge=1)
    webhook_backoff_initial: float = Field(default=0.5, ge=0)
    webhook_backoff_max: float = Field(default=10.0, ge=0)
    webhook_timeout: float = Field(default=5.0, gt=0)
    # A receiver refuses a signed webhook whose timestamp is further off than this (replays).
    webhook_tolerance: float = Field(default=300.0, gt=0)
    # How long the notifier's claim on a notification lasts unless renewed (it is renewed
    # every third of it while the delivery runs): how late a crashed notifier's page can be.
    notifier_claim_seconds: float = Field(default=6.0, gt=0)

    # SMS through Kannel (docs/sms.md). Without a sendsms URL there is no SMS gateway: an
    # sms contact fails at once and the next contact is tried, and the SMS routes are 404.
    sms_kannel_url: str | None = None  # smsbox's sendsms, http://127.0.0.1:13013/cgi-bin/sendsms
    sms_kannel_username: str = "coord"
    sms_kannel_password: SecretStr | None = None
    sms_sender: str = "COORD"  # the "from" of every SMS (a short code or number the SMSC allows)
    # Where Kannel reaches this notifier for delivery reports (its base URL, as Kannel sees it).
    sms_report_url: str = "http://127.0.0.1:8002"
    # Kannel proves it is Kannel with this (a "secret" query parameter, or basic auth).
    sms_inbound_secret: SecretStr = SecretStr(DEV_SMS_SECRET)
    # When set, SMS routes answer only this address (the gateway's): anything else is 401.
    sms_gateway_address: str | None = None
    # The delivery report status that means "delivered": 1 (the phone has it) where the
    # SMSC reports it, 8 (the SMSC took it) where an SMSC never reports more.
    sms_delivered_status: Literal[1, 8] = 1
    # With no final report this long after Kannel took an SMS, it failed: the next contact.
    sms_report_wait: float = Field(default=120.0, gt=0)
    # Read numbers without a country code (a local modem's "0990000111") in this region.
    sms_default_region: str | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "coord@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)

    max_body_bytes: int = Field(default=65536, ge=1024)
    # Request line and headers together (431 beyond); an OIDC token is a few KB.
    max_header_bytes: int = Field(default=32768, ge=4096)
    max_headers: int = Field(default=100, ge=16)

    @property
    def broker_nodes(self) -> list[str]:
        """The broker's node URLs: ``COORD_AMQP_URLS`` (comma-separated) or ``COORD_AMQP_URL``."""
        listed = [url.strip() for url in self.amqp_urls.split(",") if url.strip()]
        return listed or [self.amqp_url]

    @field_validator("public_url")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        # Checked at start: a bad base would otherwise be found only in the links people get.
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or value != value.strip():
            raise ValueError("must be an http:// or https:// URL, e.g. https://coord.example.org")
        _ = parts.port  # raises ValueError on a port that is not one
        if parts.username is not None:
            raise ValueError("must hold no user or password: every page would carry them")
        if parts.query or parts.fragment:
            raise ValueError("must have no query or fragment: links are added to its path")
        return value

    @field_validator("map_tiles_url")
    @classmethod
    def _a_tile_url(cls, value: str | None) -> str | None:
        # {z}, {x} and {y} once each and no other placeholder: a {s} or {key} would be
        # requested as written, and the map would show no tile at all.
        if value is None:
            return None
        rest = value
        for name in ("{z}", "{x}", "{y}"):
            if rest.count(name) != 1:
                raise ValueError(
                    f"must hold {name} once, as in https://tiles.example/{{z}}/{{x}}/{{y}}.png"
                )
            rest = rest.replace(name, "")
        if (
            "{" in rest
            or "}" in rest
            or not rest.startswith(("http://", "https://"))
            or " " in rest
        ):
            raise ValueError("must be an http(s) URL whose only placeholders are {z}, {x} and {y}")
        return value

    @field_validator("link_secret", "session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        # These let whoever holds them act as anyone without a password: a short one could
        # be guessed offline from a single link or cookie.
        if len(value.get_secret_value()) < MIN_SIGNING_SECRET:
            raise ValueError(f"must be at least {MIN_SIGNING_SECRET} characters (random)")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


class UndeployableSettings(Exception):
    """Published development secrets are in force outside development (the message says which)."""


def _published_source_key(settings: Settings) -> bool:
    # Only the sealing (first) key matters: new sources must not be sealed with a published
    # key. Kept after a real one, it opens only what it sealed, which anyone could open anyway.
    sealing = settings.source_keys.get_secret_value().split(",", 1)[0]
    published = DEV_SOURCE_KEYS.partition(":")[2]
    return sealing.partition(":")[2].strip().rstrip("=") == published.rstrip("=")


def _published_jwt_secret(settings: Settings) -> bool:
    # With an OIDC issuer, HS256 tokens are refused whatever the secret (shared/auth.py).
    return settings.oidc_issuer is None and _is_published_jwt_secret(settings)


def _is_published_jwt_secret(settings: Settings) -> bool:
    return settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def _published_webhook_secret(settings: Settings) -> bool:
    return settings.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET


def _published_link_secret(settings: Settings) -> bool:
    return settings.link_secret.get_secret_value() == DEV_LINK_SECRET


def _published_session_secret(settings: Settings) -> bool:
    return settings.session_secret.get_secret_value() == DEV_SESSION_SECRET


def _published_sms_secret(settings: Settings) -> bool:
    # Without a gateway the SMS routes do not exist, so the secret opens nothing.
    return (
        settings.sms_kannel_url is not None
        and settings.sms_inbound_secret.get_secret_value() == DEV_SMS_SECRET
    )


def _published_sms_kannel_password(settings: Settings) -> bool:
    # Whoever holds it sends SMS as the mission: pages officers would trust.
    password = settings.sms_kannel_password
    return (
        settings.sms_kannel_url is not None
        and password is not None
        and password.get_secret_value() == DEV_SMS_KANNEL_PASSWORD
    )


_MAKE_ONE = (
    "set a random secret of >= 32 bytes "
    "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
)

# (variable, whether its published development value is in force, how to set a real one)
_DEVELOPMENT_SECRETS: tuple[tuple[str, Callable[[Settings], bool], str], ...] = (
    (
        "COORD_SOURCE_KEYS",
        _published_source_key,
        "run 'coord source-key new' and set COORD_SOURCE_KEYS to the line it prints "
        "(first, to seal new sources with it)",
    ),
    (
        "COORD_JWT_SECRET",
        _published_jwt_secret,
        f"{_MAKE_ONE}, or COORD_OIDC_ISSUER and COORD_OIDC_AUDIENCE for OIDC sign-in",
    ),
    (
        "COORD_WEBHOOK_SECRET",
        _published_webhook_secret,
        f"{_MAKE_ONE}, the same one the webhook receivers verify with",
    ),
    (
        "COORD_LINK_SECRET",
        _published_link_secret,
        f"{_MAKE_ONE}, the same one on every notifier and ingest",
    ),
    (
        "COORD_SESSION_SECRET",
        _published_session_secret,
        f"{_MAKE_ONE}, the same one on every ingest",
    ),
    (
        "COORD_SMS_INBOUND_SECRET",
        _published_sms_secret,
        f"{_MAKE_ONE}, the same one in Kannel's get-url (deploy/kannel/kannel.conf)",
    ),
    (
        "COORD_SMS_KANNEL_PASSWORD",
        _published_sms_kannel_password,
        f"{_MAKE_ONE}, the same one as Kannel's sendsms-user (deploy/kannel/kannel.conf)",
    ),
)


def trusts_development_tokens(settings: Settings) -> bool:
    """Whether HS256 tokens signed with ``jwt_secret`` may be accepted.

    Always in development; elsewhere only with a secret of the deployment's own, since
    anyone can mint tokens with the published one.
    """
    return settings.env == "development" or not _is_published_jwt_secret(settings)


def development_defaults_in_force(settings: Settings) -> list[str]:
    """``"VARIABLE: how to set it"`` for each secret still at its published development value.

    Whatever ``env`` says: ``require_deployable`` decides what that means.
    """
    return [
        f"{variable}: {remedy}"
        for variable, in_force, remedy in _DEVELOPMENT_SECRETS
        if in_force(settings)
    ]


def require_deployable(settings: Settings) -> None:
    """Refuse published development secrets outside development (``COORD_ENV``).

    Every service and every command that needs a secret calls this before it starts.

    Raises:
        UndeployableSettings: naming each variable to set, and how.
    """
    if settings.env == "development":
        return
    defaults = development_defaults_in_force(settings)
    if not defaults:
        return
    lines = "\n".join(f"  {line}" for line in defaults)
    default = "" if "env" in settings.model_fields_set else " (the default)"
    raise UndeployableSettings(
        f"refused: COORD_ENV is {settings.env!r}{default}, but these secrets still have "
        f"their published development values (anyone can read them in the source):\n{lines}\n"
        "Set them, or set COORD_ENV=development on a development machine."
    )
