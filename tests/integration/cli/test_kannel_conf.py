"""deploy/kannel/: the shipped template rendered for the container, and Kannel running on it.

render-conf.sh is the one way from deploy/kannel/kannel.conf to a configuration Kannel
runs (``make sms-demo`` and the compose profile ``kannel`` both use it). A configuration
nobody runs breaks unseen, so the container's entrypoint is run here too, on Debian's
bearerbox and smsbox with the container's environment (tests/support/kannel_container.py):
sendsms answers other hosts, SMS go out to the phones and replies come back through
coord's inbound URL, and a stop is clean.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.compose import compose_config, service_environment
from tests.support.directories import REPO_ROOT
from tests.support.kannel import require_kannel
from tests.support.kannel_container import (
    RENDER,
    TEMPLATE,
    ContainerKannel,
    Phones,
    container_environment,
)
from tests.support.receiver import free_port

pytestmark = pytest.mark.integration

# Another container on the compose network: any loopback address but 127.0.0.1 stands in.
OTHER_HOST = "127.0.0.2"
GATEWAY_NUMBER = "+243990000000"
OFFICER = "+243990000111"
REPLY = "COORD 4821: received. Thank you."


def render(environment: dict[str, str], output: Path, template: Path = TEMPLATE) -> str:
    """render-conf.sh's error output; "" when it rendered ``output``."""
    done = subprocess.run(
        ["sh", str(RENDER), str(template), str(output)],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode == 0) == (done.stderr == ""), done.stderr
    return done.stderr


def groups(conf: str) -> dict[str, dict[str, str]]:
    """Each ``group = NAME`` of a kannel.conf, its ``key = value`` lines (quotes removed);
    the last group of a name wins (the template has one of each)."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in conf.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        value = value.strip('"')
        if key == "group":
            current = found.setdefault(value, {})
        else:
            current[key] = value
    return found


def test_the_container_renders_the_template_with_the_services_secrets(tmp_path: Path) -> None:
    output = tmp_path / "kannel.conf"
    assert render(container_environment(), output) == ""
    conf = output.read_text()
    assert output.stat().st_mode & 0o777 == 0o600  # it holds the secrets
    assert [line for line in conf.splitlines() if "CHANGE-ME" in line.partition("#")[0]] == []
    parsed = groups(conf)
    compose = compose_config("kannel")
    notifier = service_environment(compose, "notifier")
    ingest = service_environment(compose, "ingest")
    # The notifier sends with the password sendsms checks...
    assert parsed["sendsms-user"]["username"] == "coord"
    assert parsed["sendsms-user"]["password"] == notifier["COORD_SMS_KANNEL_PASSWORD"]
    # ...and smsbox hands every SMS received to ingest with the secret ingest checks.
    get_url = urlsplit(parsed["sms-service"]["get-url"])
    assert (get_url.scheme, get_url.netloc, get_url.path) == (
        "http",
        "ingest:8000",
        "/v1/sms/kannel/inbound",
    )
    assert parse_qs(get_url.query)["secret"] == [ingest["COORD_SMS_INBOUND_SECRET"]]
    # sendsms answers the other containers (its password keeps strangers out)...
    assert parsed["smsbox"]["sendsms-interface"] == "0.0.0.0"  # noqa: S104 - the compose network
    assert parsed["sendsms-user"]["user-allow-ip"] == "*.*.*.*"
    # ...while the boxes and the administration stay inside the container.
    assert parsed["smsbox"]["bearerbox-host"] == "127.0.0.1"
    assert parsed["core"]["box-allow-ip"] == "127.0.0.1"
    assert parsed["core"]["admin-allow-ip"] == "127.0.0.1"
    assert parsed["core"]["log-level"] == parsed["smsbox"]["log-level"] == "2"


def test_production_refuses_the_published_secrets_of_the_compose_file(tmp_path: Path) -> None:
    output = tmp_path / "kannel.conf"
    refusal = render(container_environment("production"), output)
    assert "KANNEL_SENDSMS_PASSWORD is a published development default" in refusal
    assert list(tmp_path.iterdir()) == []
    own = {**container_environment("production"), **SECRETS}
    assert render(own, output) == ""


def test_the_demo_renders_the_template_as_it_ships_but_for_its_secrets(tmp_path: Path) -> None:
    # What deploy/scripts/sms-demo.sh gives it: the secrets and its log directory.
    demo = {
        "COORD_ENV": "development",
        "KANNEL_SENDSMS_PASSWORD": "sms-demo-sendsms-password",
        "KANNEL_INBOUND_SECRET": "dev-only-insecure-sms-secret-change-me",
        "KANNEL_ADMIN_PASSWORD": "sms-demo-admin",
        "KANNEL_LOG_DIR": "/tmp/coord-sms-demo",  # noqa: S108 - the demo's, only rendered
    }
    output = tmp_path / "kannel.conf"
    assert render(demo, output) == ""
    template = TEMPLATE.read_text().splitlines()
    rendered = output.read_text().splitlines()
    assert len(rendered) == len(template)
    changed = {old: new for old, new in zip(template, rendered, strict=True) if old != new}
    inbound = "http://127.0.0.1:8000/v1/sms/kannel/inbound"
    fields = "from=%p&to=%P&text=%a&id=%I&ts=%T"
    assert changed == {
        "admin-password = CHANGE-ME": "admin-password = sms-demo-admin",
        "password = CHANGE-ME": "password = sms-demo-sendsms-password",
        f'get-url = "{inbound}?secret=CHANGE-ME&{fields}"': (
            f'get-url = "{inbound}?secret=dev-only-insecure-sms-secret-change-me&{fields}"'
        ),
        'log-file = "/var/log/kannel/bearerbox.log"': (
            'log-file = "/tmp/coord-sms-demo/bearerbox.log"'
        ),
        'log-file = "/var/log/kannel/smsbox.log"': 'log-file = "/tmp/coord-sms-demo/smsbox.log"',
        '#access-log = "/var/log/kannel/access.log"': (
            '#access-log = "/tmp/coord-sms-demo/access.log"'
        ),
    }
    demo_script = (REPO_ROOT / "deploy" / "scripts" / "sms-demo.sh").read_text()
    assert "deploy/kannel/render-conf.sh deploy/kannel/kannel.conf" in demo_script


SECRETS = {
    "KANNEL_SENDSMS_PASSWORD": "sendsms-0123",
    "KANNEL_INBOUND_SECRET": "inbound-4567",
    "KANNEL_ADMIN_PASSWORD": "admin-89ab",
}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        pytest.param({"KANNEL_INBOUND_SECRET": ""}, "KANNEL_INBOUND_SECRET is not set", id="unset"),
        pytest.param(
            {"KANNEL_SENDSMS_PASSWORD": "a&b"}, "may hold only", id="a-character-sed-would-eat"
        ),
        pytest.param(
            {"KANNEL_ADMIN_PASSWORD": "CHANGE-ME"}, "still the template's", id="the-placeholder"
        ),
        pytest.param({"KANNEL_COORD_INGEST": "ingest"}, "host:port", id="ingest-without-port"),
        pytest.param({"KANNEL_SENDSMS_ALLOW_IP": "* ; x"}, "IP patterns", id="allow-ip"),
        pytest.param({"KANNEL_SMSC_PORT": "70000"}, "TCP port", id="port"),
        pytest.param({"KANNEL_LOG_DIR": "logs"}, "absolute path", id="log-dir"),
    ],
)
def test_the_renderer_refuses_a_value_it_cannot_write(
    tmp_path: Path, change: dict[str, str], refusal: str
) -> None:
    output = tmp_path / "kannel.conf"
    assert refusal in render({**SECRETS, **change}, output)
    assert list(tmp_path.iterdir()) == []


def test_no_secret_is_ever_on_a_command_line_of_the_renderer(tmp_path: Path) -> None:
    """Each command the renderer runs is a shim that records its arguments, then runs the
    real one: none of them was given a secret (``ps`` shows arguments to everyone)."""
    shims, seen = tmp_path / "bin", tmp_path / "arguments"
    shims.mkdir()
    for name in ("sed", "awk", "grep", "rm", "mv", "cut", "tr", "cat"):
        real = shutil.which(name)
        assert real is not None, name
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >>{seen}\nexec {real} "$@"\n')
        shim.chmod(0o755)
    done = subprocess.run(
        ["/bin/sh", str(RENDER), str(TEMPLATE), str(tmp_path / "kannel.conf")],
        env={"PATH": str(shims), **SECRETS},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    commands = seen.read_text()
    assert "sed " in commands  # the shims were the commands run
    for secret in SECRETS.values():
        assert secret not in commands
        assert secret in (tmp_path / "kannel.conf").read_text()


def test_the_renderer_refuses_a_placeholder_left_in_the_template(tmp_path: Path) -> None:
    # A mission that swaps the fake SMS centre for its modem but forgets the PIN.
    template = tmp_path / "kannel.conf.in"
    text = TEMPLATE.read_text().replace("#pin = CHANGE-ME", "pin = CHANGE-ME")
    template.write_text(text)
    line = text.splitlines().index("pin = CHANGE-ME") + 1
    refusal = render(SECRETS, tmp_path / "kannel.conf", template)
    assert f"CHANGE-ME left on line(s) {line} " in refusal
    assert not (tmp_path / "kannel.conf").exists()


class Ingest:
    """coord's inbound route as smsbox sees it: records each call, answers with REPLY."""

    def __init__(self) -> None:
        self.calls: list[dict[str, list[str]]] = []
        ingest = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/v1/sms/kannel/inbound":
                    ingest.calls.append(parse_qs(parts.query))
                body = REPLY.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    """A stand-in for ingest's inbound route, on a free port."""
    stand_in = Ingest()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()
    thread.join(timeout=5)


def test_the_container_runs_kannel_and_stops_cleanly(tmp_path: Path, ingest: Ingest) -> None:
    require_kannel()
    environment = container_environment()
    password = environment["KANNEL_SENDSMS_PASSWORD"]
    with ContainerKannel(tmp_path, environment, ingest=ingest.address) as kannel:
        # A service in another container, through the sendsms port on the network.
        sendsms = f"http://{OTHER_HOST}:{kannel.sendsms_port}/cgi-bin/sendsms"
        page = {"from": "COORD", "to": OFFICER, "text": "COORD 4821: SEVERE abduction"}
        with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER_HOST)) as client:
            wrong = client.get(sendsms, params={**page, "username": "coord", "password": "x"})
            assert wrong.status_code == 403, wrong.text
            # No SMS centre is connected yet: Kannel keeps the SMS until one is.
            queued = client.get(sendsms, params={**page, "username": "coord", "password": password})
            assert queued.status_code == 202, queued.text

        with Phones(kannel.smsc_port, tmp_path / "fakesmsc.log") as phones:
            assert phones.wait_for_sms("COORD", OFFICER) == page["text"]
            # The officer's reply reaches coord's inbound route with the secret, and coord's
            # answer goes back to the officer's phone.
            phones.type(OFFICER, GATEWAY_NUMBER, "ACC 4821")
            assert phones.wait_for_sms(GATEWAY_NUMBER, OFFICER) == REPLY
        [call] = ingest.calls
        assert call["secret"] == [environment["KANNEL_INBOUND_SECRET"]]
        assert call["from"] == [OFFICER]
        assert call["to"] == [GATEWAY_NUMBER]
        assert call["text"] == ["ACC 4821"]

        assert kannel.stop() == 0, str(kannel)
        assert not kannel.leftovers()
    # Source protection: no number and no text in what the container logs, nor in its files.
    logs = [kannel.log_path, tmp_path / "bearerbox.log", tmp_path / "smsbox.log"]
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        assert OFFICER not in text, log
        assert "ACC 4821" not in text, log


def test_a_box_that_dies_alone_ends_the_container_for_its_restart(
    tmp_path: Path, ingest: Ingest
) -> None:
    """A lone bearerbox takes no SMS from coord, a lone smsbox answers sendsms 202 and sends
    nothing: either dying ends the other and the container with a failure, so that the
    restart policy brings both back."""
    require_kannel()
    with ContainerKannel(tmp_path, container_environment(), ingest=ingest.address) as kannel:
        assert kannel.process is not None
        found = subprocess.run(
            ["pgrep", "-g", str(kannel.process.pid), "-x", "smsbox"],
            capture_output=True,
            text=True,
            check=False,
        )
        [smsbox] = found.stdout.split()
        os.kill(int(smsbox), signal.SIGKILL)
        assert kannel.process.wait(timeout=30) != 0, str(kannel)
        assert not kannel.leftovers()
        assert not kannel.healthy()
