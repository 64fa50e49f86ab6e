"""docker-compose.yml as Compose reads it, without a Docker engine.

Debian's ``docker-compose`` 1.29 (``make infra`` installs it, deploy/scripts/ensure-tools.sh)
resolves the file's anchors, profiles and ``${VAR:-default}`` in ``config``, which needs no
engine: what the tests assert is what ``docker compose up`` would be given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import yaml

from tests.support.directories import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def compose_config(*profiles: str, host_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``docker-compose config`` with ``profiles``, as a dict.

    The test process's own ``COORD_*`` variables are left out (a developer's shell must
    not change what is checked); ``host_env`` is what the operator set on the host.
    """
    binary = shutil.which("docker-compose")
    assert binary is not None, "docker-compose is missing: make infra installs it"
    arguments = [binary, "-f", str(COMPOSE_FILE)]
    for profile in profiles:
        arguments += ["--profile", profile]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    environment.update(host_env or {})
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


def service_environment(config: Mapping[str, Any], service: str) -> dict[str, str]:
    """The environment Compose gives ``service`` (``config`` writes it as a mapping)."""
    environment = config["services"][service].get("environment") or {}
    return {str(name): "" if value is None else str(value) for name, value in environment.items()}
