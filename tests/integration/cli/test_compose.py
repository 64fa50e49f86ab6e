"""docker-compose.yml as Compose reads it: valid with every profile, and what each adds.

Checked with Debian's ``docker-compose`` (1.29: ``config`` needs no engine), which
``make infra`` installs (deploy/scripts/ensure-tools.sh). A deployment file nobody
loads is a deployment file that breaks unseen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.support.directories import REPO_ROOT

pytestmark = pytest.mark.integration

PROFILES = ("cluster", "replicas", "proxy")


def compose_config(*profiles: str) -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    assert binary is not None, "docker-compose is missing: make infra installs it"
    arguments = [binary, "-f", str(REPO_ROOT / "docker-compose.yml")]
    for profile in profiles:
        arguments += ["--profile", profile]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    done = subprocess.run(
        [*arguments, "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


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
