"""COORD_ENV as users meet it: `coord` refuses the published secrets outside development."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from coord.migrate import upgrade
from shared.auth import mint_token
from shared.settings import DEV_JWT_SECRET
from tests.support.cli import coord_bin
from tests.support.directories import REPO_ROOT

pytestmark = pytest.mark.integration

SECRETS = (
    "COORD_SOURCE_KEYS",
    "COORD_JWT_SECRET",
    "COORD_WEBHOOK_SECRET",
    "COORD_LINK_SECRET",
    "COORD_SESSION_SECRET",
)
OWN_SECRETS = {
    "COORD_SOURCE_KEYS": "prod-1:" + "A" * 43,
    "COORD_JWT_SECRET": "deployment-jwt-" + "0123456789abcdef" * 3,
    "COORD_WEBHOOK_SECRET": "deployment-hook-" + "fedcba9876543210" * 3,
    "COORD_LINK_SECRET": "deployment-link-" + "00112233445566778899" * 2,
    "COORD_SESSION_SECRET": "deployment-session-" + "99887766554433221100" * 2,
}


def environment(**env: str) -> dict[str, str]:
    """The test's environment without any COORD_ variable (so COORD_ENV is unset), plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    return {**clean, "COORD_LOG_FORMAT": "console", **env}


def coord(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [coord_bin(), *args],
        env=environment(**env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused_naming_each_secret(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for variable in SECRETS:
        assert f"\n  {variable}: " in result.stderr, result.stderr
    assert "COORD_ENV is 'production' (the default)" in result.stderr
    assert "coord source-key new" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("up",), id="up"),
        pytest.param(("run", "ingest"), id="run-ingest"),
        pytest.param(("run", "router"), id="run-router"),
        pytest.param(("token", "jo.operator"), id="token"),
        pytest.param(("webhook-sink",), id="webhook-sink"),
        pytest.param(("source-key", "check"), id="source-key-check"),
    ],
)
def test_outside_development_the_published_secrets_are_refused(args: tuple[str, ...]) -> None:
    # The broker and the database are never reached: the check comes first.
    result = coord(*args, COORD_AMQP_URL="amqp://guest:guest@127.0.0.1:1/")
    assert_refused_naming_each_secret(result)


def test_commands_acting_as_a_person_are_refused_too(tmp_path: Path) -> None:
    result = coord(
        "audit",
        "head",
        COORD_TOKEN=mint_token("audit.one", DEV_JWT_SECRET),
        COORD_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'coord.db'}",
    )
    assert_refused_naming_each_secret(result)


def test_making_a_source_key_needs_no_secret() -> None:
    result = coord("source-key", "new", "--kid", "prod-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("prod-1:")


def test_only_the_defaults_in_force_are_named() -> None:
    result = coord("token", "jo.operator", COORD_JWT_SECRET=OWN_SECRETS["COORD_JWT_SECRET"])
    assert result.returncode == 2
    assert "COORD_SOURCE_KEYS" in result.stderr
    assert "COORD_WEBHOOK_SECRET" in result.stderr
    assert "COORD_JWT_SECRET" not in result.stderr


def test_production_with_secrets_of_its_own_runs() -> None:
    result = coord("token", "jo.operator", COORD_ENV="production", **OWN_SECRETS)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_misspelt_environment_is_named_without_a_traceback() -> None:
    result = coord("token", "jo.operator", COORD_ENV="prod")
    assert result.returncode == 2
    assert "COORD_ENV: Input should be 'development' or 'production'" in result.stderr
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(url: str, process: subprocess.Popen[str], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, "coord up exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {within}s")


def test_in_development_coord_up_starts_and_each_port_reports_its_service(
    amqp_url: str, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'coord.db'}"
    upgrade(database)
    ports = {"ingest": _free_port(), "router": _free_port(), "notifier": _free_port()}
    log = (tmp_path / "coord.log").open("w")
    process = subprocess.Popen(
        [coord_bin(), "up"],
        env=environment(
            COORD_ENV="development",
            COORD_AMQP_URL=amqp_url,
            COORD_DATABASE_URL=database,
            COORD_INGEST_PORT=str(ports["ingest"]),
            COORD_ROUTER_PORT=str(ports["router"]),
            COORD_NOTIFIER_PORT=str(ports["notifier"]),
        ),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for port in ports.values():
            _wait_until_healthy(f"http://127.0.0.1:{port}/healthz", process)
        for service, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base}/readyz", timeout=5).text.endswith("\n")
            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            assert f'coord_service_info{{service="{service}"}} 1.0' in metrics
            assert metrics.count("coord_service_info{") == 1
            assert ("coord_alerts_accepted_total" in metrics) is (service == "ingest")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
            log.close()
    output = (tmp_path / "coord.log").read_text()
    # It says it runs on the published secrets.
    assert "settings.development_secrets" in output
