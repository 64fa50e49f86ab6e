"""Settings of every service, read from the environment (prefix ``COORD_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults only: any real deployment sets these from its secret store.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"  # noqa: S105 - marked development default
DEV_WEBHOOK_SECRET = "dev-only-insecure-webhook-secret-change-me"  # noqa: S105 - marked development default
# A key ring of one development key ("key id:base64url of 32 bytes"): shared/source_protection.py.
DEV_SOURCE_KEYS = "dev-2026:kuzF2ajm2XFFIHbvP7izwjo65Xw8j7C1lZkB4BNUeuk="


class Settings(BaseSettings):
    """All configuration; see the configuration table in the README."""

    model_config = SettingsConfigDict(env_prefix="COORD_", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    database_url: str = "sqlite+aiosqlite:///./coord.db"
    directory: Path = Path("deploy/directory.yaml")
    directory_refresh: float = Field(default=2.0, gt=0)  # seconds between live-directory checks
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    # Production sign-in: tokens signed by this OpenID Connect issuer (RS256/ES256 from its
    # JWKS). When set, development HS256 tokens are refused.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    # The CLI's identity for commands that change state or read the log (a bearer token).
    token: SecretStr | None = None
    # Source protection: "kid:key,kid:key" - the first key seals, every key opens.
    source_keys: SecretStr = SecretStr(DEV_SOURCE_KEYS)
    # Requests per person per ingest replica, in the `limits` notation ("120/minute").
    rate_limit: str = "120/minute"
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)

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

    webhook_attempts: int = Field(default=5, ge=1)
    webhook_backoff_initial: float = Field(default=0.5, ge=0)
    webhook_backoff_max: float = Field(default=10.0, ge=0)
    webhook_timeout: float = Field(default=5.0, gt=0)
    # A receiver refuses a signed webhook whose timestamp is further off than this (replays).
    webhook_tolerance: float = Field(default=300.0, gt=0)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "coord@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)

    max_body_bytes: int = Field(default=65536, ge=1024)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
