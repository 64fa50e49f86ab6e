"""The ``coord`` command line as users run it: a subprocess of .venv/bin/coord."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.directories import REPO_ROOT


def coord_bin() -> str:
    candidate = Path(sys.executable).parent / "coord"
    return str(candidate if candidate.exists() else REPO_ROOT / ".venv" / "bin" / "coord")


def run_coord(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    return subprocess.run(
        [coord_bin(), *args],
        env={**clean, "COORD_ENV": "development", "COORD_LOG_FORMAT": "console", **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
