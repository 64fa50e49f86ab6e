"""An empty ``COORD_*`` variable is an unset one.

docker-compose.yml can only pass an optional setting as ``${COORD_SMS_KANNEL_URL:-}``: an
empty string when the operator set nothing. Read as a value, that would switch SMS on with
no gateway, or make an empty secret a secret.
"""

from __future__ import annotations

import os

import pytest

from services.notifier.sms.gateway import KannelConfig
from shared.settings import (
    DEV_JWT_SECRET,
    DEV_SMS_KANNEL_PASSWORD,
    DEV_SMS_SECRET,
    Settings,
    development_defaults_in_force,
)

GATEWAY = "http://kannel:13013/cgi-bin/sendsms"


@pytest.fixture(autouse=True)
def no_coord_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test sets: the developer's own COORD_* must not decide."""
    for name in [name for name in os.environ if name.startswith("COORD_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("url", "sms_on"),
    [
        pytest.param(None, False, id="unset"),
        pytest.param("", False, id="empty-as-compose-passes-it"),
        pytest.param(GATEWAY, True, id="set"),
    ],
)
def test_sms_is_on_only_with_a_gateway_url(
    monkeypatch: pytest.MonkeyPatch, url: str | None, sms_on: bool
) -> None:
    if url is not None:
        monkeypatch.setenv("COORD_SMS_KANNEL_URL", url)
    monkeypatch.setenv("COORD_SMS_KANNEL_PASSWORD", "")
    settings = Settings()
    assert settings.sms_kannel_url == (GATEWAY if sms_on else None)
    # The notifier's switch (an sms contact) and ingest's (the inbound route) alike.
    assert (KannelConfig.from_settings(settings) is not None) is sms_on
    assert settings.sms_kannel_password is None


@pytest.mark.parametrize(
    ("variable", "field", "default"),
    [
        pytest.param("COORD_ENV", "env", "production", id="env-fails-safe"),
        pytest.param("COORD_SMS_SENDER", "sms_sender", "COORD", id="sms-sender"),
        pytest.param("COORD_OIDC_ISSUER", "oidc_issuer", None, id="oidc-issuer"),
        pytest.param("COORD_SMS_DEFAULT_REGION", "sms_default_region", None, id="sms-region"),
        pytest.param("COORD_SMS_REPORT_URL", "sms_report_url", "http://127.0.0.1:8002", id="dlr"),
    ],
)
def test_an_empty_variable_leaves_the_default(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str, default: object
) -> None:
    monkeypatch.setenv(variable, "")
    assert getattr(Settings(), field) == default


def test_an_empty_secret_is_its_published_default_and_so_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COORD_JWT_SECRET", "")
    monkeypatch.setenv("COORD_SMS_INBOUND_SECRET", "")
    monkeypatch.setenv("COORD_SMS_KANNEL_URL", GATEWAY)
    settings = Settings()
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert settings.sms_inbound_secret.get_secret_value() == DEV_SMS_SECRET
    named = {line.partition(":")[0] for line in development_defaults_in_force(settings)}
    assert {"COORD_JWT_SECRET", "COORD_SMS_INBOUND_SECRET"} <= named


@pytest.mark.parametrize(
    ("url", "password", "refused"),
    [
        pytest.param(GATEWAY, DEV_SMS_KANNEL_PASSWORD, True, id="compose-default-refused"),
        pytest.param(GATEWAY, "own-sendsms-password", False, id="own-password"),
        pytest.param(None, DEV_SMS_KANNEL_PASSWORD, False, id="no-gateway-opens-nothing"),
    ],
)
def test_the_compose_sendsms_password_is_a_published_default(
    monkeypatch: pytest.MonkeyPatch, url: str | None, password: str, refused: bool
) -> None:
    if url is not None:
        monkeypatch.setenv("COORD_SMS_KANNEL_URL", url)
    monkeypatch.setenv("COORD_SMS_KANNEL_PASSWORD", password)
    named = {line.partition(":")[0] for line in development_defaults_in_force(Settings())}
    assert ("COORD_SMS_KANNEL_PASSWORD" in named) is refused
