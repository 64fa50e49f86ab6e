"""COORD_ENV: the published development secrets are refused outside development."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from shared.settings import (
    DEV_JWT_SECRET,
    DEV_LINK_SECRET,
    DEV_SESSION_SECRET,
    DEV_SOURCE_KEYS,
    DEV_WEBHOOK_SECRET,
    Settings,
    UndeployableSettings,
    development_defaults_in_force,
    require_deployable,
    trusts_development_tokens,
)

OWN_JWT = "jwt-" + "0123456789abcdef" * 3
OWN_WEBHOOK = "hook-" + "fedcba9876543210" * 3
OWN_LINK = "link-" + "0123456789abcdef" * 3
OWN_SESSION = "session-" + "fedcba9876543210" * 3
OWN_KEYS = "prod-1:" + "A" * 43  # 32 bytes of base64url
DEV_KEY = DEV_SOURCE_KEYS.partition(":")[2]
VARIABLES = (
    "COORD_SOURCE_KEYS",
    "COORD_JWT_SECRET",
    "COORD_WEBHOOK_SECRET",
    "COORD_LINK_SECRET",
    "COORD_SESSION_SECRET",
)


def settings(env: str = "production", **overrides: Any) -> Settings:
    """Settings with secrets of their own unless overridden (whatever the environment says)."""
    values: dict[str, Any] = {
        "env": env,
        "jwt_secret": SecretStr(OWN_JWT),
        "webhook_secret": SecretStr(OWN_WEBHOOK),
        "link_secret": SecretStr(OWN_LINK),
        "session_secret": SecretStr(OWN_SESSION),
        "source_keys": SecretStr(OWN_KEYS),
        "oidc_issuer": None,
        "oidc_audience": None,
    }
    values.update(
        {k: SecretStr(v) if k.endswith(("_secret", "_keys")) else v for k, v in overrides.items()}
    )
    return Settings(**values)


def named(lines: list[str]) -> list[str]:
    return [line.partition(":")[0] for line in lines]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, [], id="all-set"),
        pytest.param({"source_keys": DEV_SOURCE_KEYS}, ["COORD_SOURCE_KEYS"], id="source-keys"),
        pytest.param({"jwt_secret": DEV_JWT_SECRET}, ["COORD_JWT_SECRET"], id="jwt-secret"),
        pytest.param(
            {"webhook_secret": DEV_WEBHOOK_SECRET}, ["COORD_WEBHOOK_SECRET"], id="webhook-secret"
        ),
        pytest.param({"link_secret": DEV_LINK_SECRET}, ["COORD_LINK_SECRET"], id="link-secret"),
        pytest.param(
            {"session_secret": DEV_SESSION_SECRET}, ["COORD_SESSION_SECRET"], id="session-secret"
        ),
        pytest.param(
            {
                "source_keys": DEV_SOURCE_KEYS,
                "jwt_secret": DEV_JWT_SECRET,
                "webhook_secret": DEV_WEBHOOK_SECRET,
                "link_secret": DEV_LINK_SECRET,
                "session_secret": DEV_SESSION_SECRET,
            },
            list(VARIABLES),
            id="none-set",
        ),
        pytest.param(
            {"source_keys": f"renamed:{DEV_KEY.rstrip('=')}"},
            ["COORD_SOURCE_KEYS"],
            id="published-key-under-another-id",
        ),
        pytest.param(
            {"source_keys": f"{OWN_KEYS},{DEV_SOURCE_KEYS}"},
            [],
            id="published-key-only-opens",
        ),
        pytest.param(
            {
                "jwt_secret": DEV_JWT_SECRET,
                "oidc_issuer": "https://idp.example",
                "oidc_audience": "coord",
            },
            [],
            id="jwt-unused-with-oidc",
        ),
    ],
)
def test_each_development_default_in_force_is_named(
    overrides: dict[str, Any], expected: list[str]
) -> None:
    assert named(development_defaults_in_force(settings(**overrides))) == expected


def test_each_line_says_how_to_set_the_variable() -> None:
    lines = development_defaults_in_force(Settings(env="production", oidc_issuer=None))
    assert named(lines) == list(VARIABLES)
    source, jwt_line, webhook, link, session = lines
    assert "coord source-key new" in source
    assert ">= 32 bytes" in jwt_line
    assert "COORD_OIDC_ISSUER" in jwt_line
    for line in (webhook, link, session):
        assert ">= 32 bytes" in line


def test_production_refuses_the_defaults_naming_each_variable() -> None:
    with pytest.raises(UndeployableSettings) as refused:
        require_deployable(Settings(env="production", oidc_issuer=None))
    message = str(refused.value)
    for variable in VARIABLES:
        assert f"\n  {variable}: " in message
    assert "COORD_ENV=development" in message


def test_production_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COORD_ENV", raising=False)
    unset = Settings()
    assert unset.env == "production"
    with pytest.raises(UndeployableSettings, match=r"'production' \(the default\)"):
        require_deployable(unset)


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param(settings(), id="production-all-set"),
        pytest.param(Settings(env="development"), id="development-on-defaults"),
        pytest.param(settings(env="development"), id="development-all-set"),
    ],
)
def test_deployable(candidate: Settings) -> None:
    require_deployable(candidate)  # does not raise


@pytest.mark.parametrize(
    ("env", "jwt_secret", "trusted"),
    [
        ("development", DEV_JWT_SECRET, True),
        ("development", OWN_JWT, True),
        ("production", OWN_JWT, True),
        ("production", DEV_JWT_SECRET, False),
    ],
)
def test_hs256_tokens_are_trusted_in_development_or_with_a_secret_of_ones_own(
    env: str, jwt_secret: str, trusted: bool
) -> None:
    assert trusts_development_tokens(settings(env, jwt_secret=jwt_secret)) is trusted


def test_the_link_and_session_settings_default_to_a_day_and_a_shift() -> None:
    defaults = Settings(env="development")
    assert defaults.public_url == "http://127.0.0.1:8000"
    assert defaults.link_secret.get_secret_value() == DEV_LINK_SECRET
    assert defaults.session_secret.get_secret_value() == DEV_SESSION_SECRET
    assert (defaults.link_ttl, defaults.session_ttl) == (24 * 3600, 12 * 3600)


@pytest.mark.parametrize(
    "url",
    [
        "https://coord.mission.example",
        "https://coord.mission.example/",
        "http://127.0.0.1:8000",
        "https://mission.example/coord",
    ],
)
def test_public_url_takes_an_http_url(url: str) -> None:
    assert settings(public_url=url).public_url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        pytest.param("coord.mission.example", "http:// or https://", id="no-scheme"),
        pytest.param("ftp://coord.mission.example", "http:// or https://", id="ftp"),
        pytest.param("https://", "http:// or https://", id="no-host"),
        pytest.param(" https://coord.mission.example", "http:// or https://", id="spaces"),
        pytest.param("https://coord.mission.example:99999", "Port", id="bad-port"),
        pytest.param("https://u:p@coord.mission.example", "user or password", id="credentials"),
        pytest.param("https://coord.mission.example/?a=1", "no query", id="query"),
        pytest.param("https://coord.mission.example/#top", "no query", id="fragment"),
    ],
)
def test_public_url_refuses_anything_else(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        settings(public_url=url)


@pytest.mark.parametrize("field", ["link_secret", "session_secret"])
def test_a_short_signing_secret_is_refused(field: str) -> None:
    overrides: dict[str, Any] = {field: "too-short"}
    with pytest.raises(ValidationError, match="at least 32 characters") as refused:
        settings(**overrides)
    assert "too-short" not in str(refused.value)  # a refused secret is not echoed


def test_a_short_signing_secret_from_the_environment_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COORD_LINK_SECRET", "short-but-secret")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "short-but-secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("link_ttl", 0), ("link_ttl", 31 * 24 * 3600), ("session_ttl", 0), ("session_ttl", -1)],
)
def test_lifetimes_out_of_range_are_refused(field: str, value: float) -> None:
    overrides: dict[str, Any] = {field: value}
    with pytest.raises(ValidationError):
        settings(**overrides)


@pytest.mark.parametrize(
    ("amqp_urls", "nodes"),
    [
        ("", ["amqp://one/"]),  # COORD_AMQP_URL alone
        ("amqp://a/,amqp://b/", ["amqp://a/", "amqp://b/"]),
        (" amqp://a/ , amqp://b/ ,, amqp://c/ ", ["amqp://a/", "amqp://b/", "amqp://c/"]),
        (" , ", ["amqp://one/"]),
    ],
)
def test_the_broker_nodes_are_the_cluster_s_or_the_one_url(
    amqp_urls: str, nodes: list[str]
) -> None:
    settings = Settings(amqp_url="amqp://one/", amqp_urls=amqp_urls)
    assert settings.broker_nodes == nodes
