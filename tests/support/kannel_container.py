"""The kannel container's process, run without Docker: deploy/kannel/entrypoint.sh.

The image (deploy/kannel/Dockerfile) is Debian's kannel 1.4.5 plus the scripts beside
it; this machine has the same Debian and the same package (``make infra``), so the tests
run the same scripts on the same boxes with the container's environment - the
Dockerfile's ``ENV`` and Compose's - changing only what a shared test machine needs:
free ports, the directory of the test, and where coord's ingest is.

:class:`ContainerKannel` is the entrypoint (render, bearerbox, smsbox) in a session of
its own; :class:`Phones` is Kannel's fakesmsc on its fake SMS centre, which prints each
SMS the gateway sends and sends each line it is given as an SMS received.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from tests.support.compose import compose_config, service_environment
from tests.support.directories import REPO_ROOT
from tests.support.kannel import FAKESMSC
from tests.support.receiver import distinct_free_ports

KANNEL_DIR = REPO_ROOT / "deploy" / "kannel"
TEMPLATE = KANNEL_DIR / "kannel.conf"
RENDER = KANNEL_DIR / "render-conf.sh"
ENTRYPOINT = KANNEL_DIR / "entrypoint.sh"
HEALTHCHECK = KANNEL_DIR / "healthcheck.sh"

# Seconds for both boxes to be up and joined, and for a stop (bearerbox takes about 2).
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def dockerfile_env(dockerfile: Path = KANNEL_DIR / "Dockerfile") -> dict[str, str]:
    """The ``ENV KEY=VALUE ...`` of ``dockerfile`` (continuation lines joined)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line.removeprefix("ENV ")):
                name, _, value = word.partition("=")
                found[name] = value
    return found


def container_environment(coord_env: str = "development") -> dict[str, str]:
    """What the kannel container's processes see: the image's ENV, then Compose's, for a
    host that exported ``COORD_ENV=coord_env`` and nothing else (so the published
    development secrets: refused unless ``development``)."""
    compose = service_environment(
        compose_config("kannel", host_env={"COORD_ENV": coord_env}), "kannel"
    )
    return {**dockerfile_env(), **compose}


def system_path() -> str:
    """A PATH with the scripts first, as /usr/local/bin is in the image, and the boxes."""
    return f"{KANNEL_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerKannel:
    """entrypoint.sh with ``environment`` (the container's) on free ports in ``workdir``.

    The rendered file is ``workdir/kannel.conf``, the boxes' log files go beside it and
    what the container would log (the entrypoint's and the boxes' stderr) to
    ``workdir/container.log``. ``ingest`` is where smsbox hands SMS received.
    """

    def __init__(self, workdir: Path, environment: Mapping[str, str], *, ingest: str) -> None:
        self.workdir = workdir
        ports = distinct_free_ports(4)
        self.admin_port, self.smsbox_port, self.sendsms_port, self.smsc_port = ports
        self.env = {
            **environment,
            "PATH": system_path(),
            "KANNEL_TEMPLATE": str(TEMPLATE),
            "KANNEL_CONF": str(workdir / "kannel.conf"),
            "KANNEL_LOG_DIR": str(workdir),
            "KANNEL_COORD_INGEST": ingest,
            "KANNEL_ADMIN_PORT": str(self.admin_port),
            "KANNEL_SMSBOX_PORT": str(self.smsbox_port),
            "KANNEL_SENDSMS_PORT": str(self.sendsms_port),
            "KANNEL_SMSC_PORT": str(self.smsc_port),
        }
        self.log_path = workdir / "container.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ContainerKannel:
        """Run the entrypoint and wait until the healthcheck passes."""
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(ENTRYPOINT)],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: every box it started is found by it
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"the entrypoint exited ({self.process.returncode})\n{self}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"not healthy within {START_TIMEOUT}s\n{self}")
            time.sleep(0.1)
        return self

    def healthy(self) -> bool:
        """Whether deploy/kannel/healthcheck.sh, the compose healthcheck, passes."""
        done = subprocess.run(
            [str(HEALTHCHECK)],
            env={"PATH": system_path(), "KANNEL_ADMIN_PORT": str(self.admin_port)},
            capture_output=True,
            timeout=15,
            check=False,
        )
        return done.returncode == 0

    def status(self) -> str:
        """bearerbox's status page (the admin interface, from 127.0.0.1)."""
        return httpx.get(f"http://127.0.0.1:{self.admin_port}/status.txt", timeout=5).text

    def stop(self) -> int:
        """SIGTERM the entrypoint, as ``docker compose stop`` does; its exit status.

        What it leaves behind stays for :meth:`leftovers` to find (the context manager's
        exit kills it)."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the entrypoint did not stop in {STOP_TIMEOUT}s\n{self}"
            ) from None

    def leftovers(self) -> bool:
        """Whether any process of the entrypoint's group is still alive."""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill_leftovers(self) -> None:
        """SIGKILL what the entrypoint left behind, then close its log."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __str__(self) -> str:
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"----- {self.log_path}\n{log[-4000:]}"

    def __enter__(self) -> ContainerKannel:
        try:
            return self.start()
        except BaseException:
            self.kill_leftovers()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.kill_leftovers()


class Phones:
    """fakesmsc on the fake SMS centre's port: the phones, as ``docker compose exec kannel
    fakesmsc ...`` would be (tests/support/kannel.py says how fakesmsc behaves)."""

    def __init__(self, smsc_port: int, log_path: Path) -> None:
        self.smsc_port = smsc_port
        self.log_path = log_path
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Phones:
        # -v 0: "Got message" is a debug line. -m -1: no limit. -i 0.01: no wait between
        # the SMS typed.
        self._process = subprocess.Popen(
            [
                str(FAKESMSC),
                *("-v", "0", "-H", "127.0.0.1", "-r", str(self.smsc_port)),
                *("-i", "0.01", "-m", "-1"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name="fakesmsc", daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.log_path.write_bytes(b"\n".join(self._lines))

    def _read(self) -> None:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self._lines.append(line.rstrip(b"\n"))

    def type(self, sender: str, to: str, text: str) -> None:
        """Send ``text`` from the phone ``sender`` to the gateway's number ``to``."""
        self._write(f"{sender} {to} text {text}\n".encode())

    def wait_for_sms(self, sender: str, to: str, timeout: float = 10.0) -> str:
        """The text of the first SMS from ``sender`` to ``to`` that reached the phones."""
        prefix = f"<{sender} {to} text ".encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self._lines:
                    if b"Got message" in line and prefix in line:
                        return line.partition(prefix)[2].rstrip(b">").decode()
            # fakesmsc reads what bearerbox sent only between its waits on its input.
            self._write(b"\n")
            time.sleep(0.05)
        with self._lock:
            seen = b"\n".join(self._lines).decode(errors="replace")
        raise AssertionError(f"no SMS {sender} -> {to} within {timeout}s; fakesmsc said:\n{seen}")

    def _write(self, data: bytes) -> None:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        process.stdin.write(data)
