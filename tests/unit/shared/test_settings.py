"""COORD_ENV: the published development secrets are refused outside development."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from shared.settings import (
    DEV_JWT_SECRET,
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
OWN_KEYS = "prod-1:" + "A" * 43  # 32 bytes of base64url
DEV_KEY = DEV_SOURCE_KEYS.partition(":")[2]
VARIABLES = ("COORD_SOURCE_KEYS", "COORD_JWT_SECRET", "COORD_WEBHOOK_SECRET")


def settings(env: str = "production", **overrides: Any) -> Settings:
    """Settings with secrets of their own unless overridden (whatever the environment says)."""
    values: dict[str, Any] = {
        "env": env,
        "jwt_secret": SecretStr(OWN_JWT),
        "webhook_secret": SecretStr(OWN_WEBHOOK),
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
        pytest.param(
            {
                "source_keys": DEV_SOURCE_KEYS,
                "jwt_secret": DEV_JWT_SECRET,
                "webhook_secret": DEV_WEBHOOK_SECRET,
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
    source, jwt_line, webhook = lines
    assert "coord source-key new" in source
    assert ">= 32 bytes" in jwt_line
    assert "COORD_OIDC_ISSUER" in jwt_line
    assert ">= 32 bytes" in webhook


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
