"""docker-compose.yml as Compose reads it: valid with every profile, and what each adds.

Checked with Debian's ``docker-compose`` (1.29: ``config`` needs no engine), which
``make infra`` installs (deploy/scripts/ensure-tools.sh). A deployment file nobody
loads is a deployment file that breaks unseen.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.notifier.sms.gateway import KannelConfig
from shared.settings import Settings, development_defaults_in_force
from tests.support.compose import compose_config, service_environment
from tests.support.directories import REPO_ROOT

pytestmark = pytest.mark.integration

PROFILES = ("cluster", "replicas", "proxy", "kannel")
# What the kannel profile's header comment says to set.
KANNEL_SENDSMS_URL = "http://kannel:13013/cgi-bin/sendsms"


def settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a service reads in its container, given Compose's ``environment``."""
    for name in [name for name in os.environ if name.startswith("COORD_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_default_is_the_one_machine_system() -> None:
    services = compose_config()["services"]
    default = {name for name, service in services.items() if not service.get("profiles")}
    assert default == {"rabbitmq", "postgres", "migrate", "ingest", "router", "notifier"}
    profiles = {p for service in services.values() for p in service.get("profiles", [])}
    assert profiles == set(PROFILES)


def test_every_profile_together_is_a_valid_deployment() -> None:
    config = compose_config(*PROFILES)
    services = config["services"]
    assert {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "proxy"} <= set(services)
    assert {"ingest-2", "router-2", "notifier-2"} <= set(services)
    assert "kannel" in services
    # The nodes are one cluster: the same configuration, their own names and data.
    nodes = [services[f"rabbitmq-{n}"] for n in (1, 2, 3)]
    assert [node["hostname"] for node in nodes] == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
    cluster_conf = (REPO_ROOT / "deploy" / "rabbitmq" / "cluster.conf").read_text()
    for n in (1, 2, 3):
        assert f"classic_config.nodes.{n} = rabbit@rabbitmq-{n}" in cluster_conf
    # A replica runs the same service with the same settings as the first.
    for kind in ("ingest", "router", "notifier"):
        assert services[f"{kind}-2"]["command"] == services[kind]["command"]
        assert services[f"{kind}-2"]["environment"] == services[kind]["environment"]
    # Ports are published on 127.0.0.1 only (the proxy is the way in from the network).
    published = [str(port) for service in services.values() for port in service.get("ports", [])]
    assert published
    assert all(port.startswith("127.0.0.1:") for port in published), published


def test_the_proxy_asks_nothing_of_the_internet() -> None:
    caddyfile = (REPO_ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert "tls internal" in caddyfile  # Caddy's local authority, no ACME call home
    assert "reverse_proxy ingest:8000 ingest-2:8000" in caddyfile
    assert "flush_interval -1" in caddyfile  # server-sent events pass unbuffered


def test_the_kannel_profile_is_the_gateway_built_from_deploy_kannel() -> None:
    kannel = compose_config("kannel")["services"]["kannel"]
    assert kannel["profiles"] == ["kannel"]
    assert Path(kannel["build"]["context"]) == REPO_ROOT / "deploy" / "kannel"
    assert kannel["build"]["dockerfile"] == "Dockerfile"
    # The services reach sendsms on the compose network; the host at most on 127.0.0.1.
    assert all(str(port).startswith("127.0.0.1:") for port in kannel.get("ports", []))
    assert kannel["healthcheck"]["test"] == ["CMD", "healthcheck.sh"]
    dockerfile = (REPO_ROOT / "deploy" / "kannel" / "Dockerfile").read_text()
    assert "\nFROM debian:bookworm-slim\n" in dockerfile
    # The shipped template itself, rendered at start: no second configuration to drift.
    assert "COPY --chmod=0644 kannel.conf " in dockerfile
    assert "render-conf.sh entrypoint.sh healthcheck.sh" in dockerfile
    configurations = sorted(path.name for path in (REPO_ROOT / "deploy" / "kannel").glob("*.conf*"))
    assert configurations == ["kannel.conf"]


@pytest.mark.parametrize(
    "host_env",
    [
        pytest.param({}, id="development-defaults"),
        pytest.param(
            {"COORD_SMS_KANNEL_PASSWORD": "own-sendsms", "COORD_SMS_INBOUND_SECRET": "own-in"},
            id="set-on-the-host",
        ),
    ],
)
def test_kannel_and_the_services_are_given_the_same_sms_secrets(host_env: dict[str, str]) -> None:
    config = compose_config("kannel", "replicas", host_env=host_env)
    kannel = service_environment(config, "kannel")
    for name in ("ingest", "notifier", "ingest-2", "notifier-2"):
        service = service_environment(config, name)
        assert service["COORD_SMS_KANNEL_PASSWORD"] == kannel["KANNEL_SENDSMS_PASSWORD"]
        assert service["COORD_SMS_INBOUND_SECRET"] == kannel["KANNEL_INBOUND_SECRET"]
    if host_env:
        assert kannel["KANNEL_SENDSMS_PASSWORD"] == host_env["COORD_SMS_KANNEL_PASSWORD"]
        assert kannel["KANNEL_INBOUND_SECRET"] == host_env["COORD_SMS_INBOUND_SECRET"]
    # Kannel hands received SMS to ingest, and delivery reports to the notifier.
    assert kannel["KANNEL_COORD_INGEST"] == "ingest:8000"
    ingest = config["services"]["ingest"]
    assert "COORD_INGEST_PORT" not in ingest["environment"]  # so ingest listens on 8000
    assert [str(port).split("/")[0] for port in ingest["ports"]] == ["127.0.0.1:8000:8000"]
    notifier = service_environment(config, "notifier")
    assert notifier["COORD_SMS_REPORT_URL"] == "http://notifier:8002"


@pytest.mark.parametrize(
    ("host_env", "sms_on"),
    [
        pytest.param({}, False, id="url-unset-sms-off"),
        pytest.param({"COORD_SMS_KANNEL_URL": KANNEL_SENDSMS_URL}, True, id="url-set-sms-on"),
    ],
)
def test_sms_is_on_only_once_the_operator_names_the_gateway(
    host_env: dict[str, str], sms_on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = service_environment(compose_config("kannel", host_env=host_env), "notifier")
    # Compose passes an unset variable as an empty one; the settings read that as unset.
    assert environment["COORD_SMS_KANNEL_URL"] == host_env.get("COORD_SMS_KANNEL_URL", "")
    settings = settings_from(environment, monkeypatch)
    assert (KannelConfig.from_settings(settings) is not None) is sms_on
    # On the published defaults, production refuses an SMS gateway (COORD_ENV is unset).
    named = {line.partition(":")[0] for line in development_defaults_in_force(settings)}
    assert ("COORD_SMS_INBOUND_SECRET" in named) is sms_on
    assert ("COORD_SMS_KANNEL_PASSWORD" in named) is sms_on
