"""A private Kannel SMS gateway for the tests: bearerbox, smsbox and the fake SMS centre.

The programs are Debian's ``kannel`` and ``kannel-extras`` 1.4.5 (``make infra`` installs
them with deploy/scripts/ensure-kannel.sh). :class:`Kannel` writes a configuration of its
own into a directory of the test's (every port a free one of 127.0.0.1, the logs beside
it), starts ``bearerbox``, then ``smsbox``, then Kannel's test client ``fakesmsc``, which
plays the SMS centre and the phones:

- an SMS sent through smsbox's sendsms interface (:attr:`Kannel.sendsms_url`) reaches
  fakesmsc, which prints it; the harness parses those lines into :class:`OutboundSms`
  (:attr:`Kannel.outbound`, :meth:`Kannel.wait_for_outbound`). The fake SMS centre
  reports each SMS whose ``dlr-mask`` asks for it as accepted by the SMS centre
  (``%d`` = 8) and then delivered (``%d`` = 1) on its ``dlr-url``;
- :meth:`Kannel.send_inbound` types a line on fakesmsc's standard input: bearerbox takes
  it as an SMS received, and smsbox calls the caller's ``get_url`` with it.

Usage::

    with Kannel(tmp_dir, get_url=f"http://127.0.0.1:{port}/in?from=%p&to=%P&text=%a") as gw:
        httpx.get(gw.sendsms_url, params={"username": gw.username, ...})
        sms = await gw.wait_for_outbound(to="+243990000222")
        await gw.send_inbound("+243990000111", "+243990000000", "ACC 4821")

What fakesmsc prints for an SMS sent (``Got message <n>: <<from> <to> <type> ...>``),
by the ``coding`` of the sendsms request, as Kannel 1.4.5 does it:

- ``coding=0`` (GSM 7-bit): ``text`` and the text itself, in UTF-8 (Kannel keeps 7-bit
  text as UTF-8 until a real SMS centre's driver packs it): ``COORD +243990000222 text
  SEVERE abduction beni Mavivi. Répondez ACC 4821``;
- ``coding=1`` (8-bit): ``data`` and the bytes URL-encoded;
- ``coding=2`` (UCS-2): ``ucs-2`` and the UTF-16BE bytes URL-encoded
  (``%00R%00%E9...``). The text must be sent with ``charset=UTF-8``: without it Kannel
  takes the bytes it gets for UTF-16BE already and sends the UTF-8 bytes unconverted
  (fakesmsc then prints ``ucs-2 R%C3%A9ponse``, which a phone would show as garbage);
- a text longer than one SMS (``concatenation = true``) comes as one line per part:
  ``udh <UDH> data <part>``, both URL-encoded, with 153 characters a part in 7-bit and
  67 in UCS-2. The harness joins the parts (by the concatenation header's reference)
  into one :class:`OutboundSms` with ``parts`` > 1. Those lines do not say the coding:
  the parts are read as UCS-2 when their bytes hold a NUL or are not printable UTF-8,
  else as 7-bit (every UCS-2 text of Latin letters has NUL bytes: ``%00`` before each
  ASCII letter or space, so French and English texts are told apart reliably);
- a 7-bit text with a line break: fakesmsc's protocol is one line an SMS, so it prints
  the lines after the first as messages of their own (``Got message 7: <line two>``).
  The harness joins such a line, which does not start ``<from> <to> <type>``, to the
  7-bit text before it, with ``\\n``.

Limits of fakesmsc's standard input, which :meth:`Kannel.send_inbound` checks: one line
an SMS (no line break in a ``text``), and at most 255 bytes a line, newline included
(it reads with ``fgets`` into 256 bytes: the rest of a longer line would stay in its
buffer and be glued to the next one). fakesmsc also reads its standard input through a
stdio buffer but waits for it with ``select``: two lines written at once leave the second
in the buffer until more input comes, so send_inbound writes one line and waits until
fakesmsc says it sent it (``fakesmsc: sent message <n>``) before the next. It must run
with ``-m -1`` (no limit): with ``-m 0`` it sends nothing at all.

fakesmsc reads what bearerbox sends it only between its waits on its standard input,
which last up to a second each; while a test waits for an SMS (or for an inbound line to
go), the harness writes it empty lines (every 50 ms, every 200 ms for an inbound line),
which it skips but wakes up for.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import secrets
import select
import signal
import subprocess
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote_from_bytes, unquote_to_bytes

import httpx
import pytest

from tests.support.receiver import distinct_free_ports

__all__ = [
    "BEARERBOX",
    "FAKESMSC",
    "SMSBOX",
    "Kannel",
    "KannelStartError",
    "OutboundSms",
    "kannel_missing",
    "require_kannel",
]

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")

# Kannel's ``coding`` values.
CODING_7BIT = 0
CODING_8BIT = 1
CODING_UCS2 = 2

# Seconds for all three programs to be up (each takes well under one on an idle machine).
START_TIMEOUT = 30.0
# A start is tried again on fresh ports when a port turns out taken (another test process
# took it between free_port() and the bind): that many times in all.
START_ATTEMPTS = 3
# Seconds between SIGTERM and SIGKILL on stop (bearerbox takes about two to shut down).
STOP_GRACE = 5.0
# fakesmsc reads its standard input with fgets(buffer, 256).
FAKESMSC_LINE_MAX = 255
# Seconds for fakesmsc to take an inbound line and send it to bearerbox.
INBOUND_TIMEOUT = 10.0
# Seconds a 7-bit SMS is held back for the rest of its text (the lines after a line
# break come right behind the first, in the same write of fakesmsc).
_CONTINUATION_WAIT = 0.15

_PORT_TAKEN = b"Address already in use"
_GOT_MESSAGE = re.compile(rb"Got message \d+: <(.*)>$")
_SENT_MESSAGE = re.compile(rb"fakesmsc: sent message (\d+)")
_SMS_LINE = re.compile(rb"(\S+) (\S+) (text|data|ucs-2|udh) (.*)", re.DOTALL)


@dataclass(frozen=True)
class OutboundSms:
    """An SMS that reached the fake SMS centre, as fakesmsc printed it.

    ``coding`` is Kannel's (0 GSM 7-bit, 1 8-bit, 2 UCS-2); ``payload`` the bytes of the
    SMS (UTF-8 for 7-bit, UTF-16BE for UCS-2), joined over its ``parts`` for a
    concatenated SMS; ``text`` is the payload decoded (8-bit data as UTF-8, any invalid
    byte replaced).
    """

    sender: str
    to: str
    text: str
    coding: int
    parts: int = 1
    payload: bytes = b""


class KannelStartError(RuntimeError):
    """Kannel did not start; the message ends with the tails of its logs."""


def kannel_missing() -> list[Path]:
    """The programs of Kannel the harness needs that are not installed."""
    return [path for path in (BEARERBOX, SMSBOX, FAKESMSC) if not os.access(path, os.X_OK)]


def require_kannel() -> None:
    """Fail the test - not skip it - when Kannel is not installed.

    A gateway test that skips on a machine without Kannel would let CI go green without
    ever running it.
    """
    missing = kannel_missing()
    if missing:
        pytest.fail(
            f"Kannel is not installed ({', '.join(map(str, missing))} missing): `make infra` "
            "installs it (as root, with apt-get; deploy/scripts/ensure-kannel.sh), or run "
            "`apt-get install kannel kannel-extras`",
            pytrace=False,
        )


def _conf_string(name: str, value: str) -> str:
    """``value`` as a quoted string of kannel.conf (which has no escape for ``"``)."""
    if any(char in value for char in '"\n\r'):
        raise ValueError(f"{name} {value!r} cannot be written in kannel.conf")
    return f'"{value}"'


def _url_decode(data: bytes) -> bytes:
    """Kannel's octstr_url_decode: ``+`` is a space, ``%XX`` a byte."""
    return unquote_to_bytes(data.replace(b"+", b" "))


def _printable_utf8(payload: bytes) -> bool:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char in "\n\r" or unicodedata.category(char) != "Cc" for char in text)


def _concatenated_coding(payload: bytes) -> int:
    """The coding of a concatenated SMS's joined parts, whose lines do not give it."""
    if len(payload) % 2 == 0 and (b"\x00" in payload or not _printable_utf8(payload)):
        return CODING_UCS2
    return CODING_7BIT


def _decode(payload: bytes, coding: int) -> str:
    if coding == CODING_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    return payload.decode("utf-8", errors="replace")


def _concatenation(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, total, sequence) of a concatenation header in ``udh``, if any."""
    end = 1 + udh[0] if udh else 0
    at = 1
    while at + 1 < min(end, len(udh)):
        iei, length = udh[at], udh[at + 1]
        data = udh[at + 2 : at + 2 + length]
        if iei == 0x00 and len(data) == 3:  # 8-bit reference
            return data[0], data[1], data[2]
        if iei == 0x08 and len(data) == 4:  # 16-bit reference
            return (data[0] << 8) | data[1], data[2], data[3]
        at += 2 + length
    return None


class Kannel:
    """A private Kannel: bearerbox, smsbox and fakesmsc, on free ports of 127.0.0.1.

    ``workdir`` (the test's, e.g. from ``tmp_path_factory``) receives kannel.conf and the
    logs: ``bearerbox.log`` and ``smsbox.log`` (debug level), ``<box>.stderr`` (info
    level, what start-up waits on) and ``fakesmsc.log``. ``get_url`` is the
    sms-service's URL, with Kannel's escapes (``%p`` the sender, ``%P`` the receiver,
    ``%a`` the text, ``%I`` the SMS id, ``%T`` its Unix time). ``username`` and
    ``password`` are the sendsms account's; it may send a text of up to 3 concatenated
    parts (``max-messages = 3``): a longer one is cut to its first 3, though sendsms
    answers 202 all the same.

    Start it with :meth:`start` (blocking: a sync fixture's) or as a context manager,
    sync or async (the async one starts and stops it in a thread). :meth:`stop` ends the
    three processes whatever happened; so does the end of the interpreter, should a
    test process leave without stopping it.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        get_url: str,
        username: str = "coord",
        password: str = "kannel-test-password",  # noqa: S107 - a private test gateway
    ) -> None:
        self.workdir = workdir
        self.get_url = get_url
        self.username = username
        self.password = password
        self.admin_password = secrets.token_urlsafe(16)
        # Set by start(); 0 until then.
        self.admin_port = 0
        self.smsbox_port = 0
        self.smsc_port = 0
        self.sendsms_port = 0
        self._bearerbox: subprocess.Popen[bytes] | None = None
        self._smsbox: subprocess.Popen[bytes] | None = None
        self._fakesmsc: subprocess.Popen[bytes] | None = None
        self._outputs: list[IO[bytes]] = []
        self._reader: threading.Thread | None = None
        self._fakesmsc_log: IO[bytes] | None = None
        # What the reader thread fills, under _lock; _changed is notified on each change.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._outbound: list[OutboundSms] = []
        self._unparsed: list[str] = []
        self._sent = 0  # "fakesmsc: sent message <n>"
        self._held: OutboundSms | None = None  # a 7-bit SMS that may have more lines
        self._held_at = 0.0
        self._parts: dict[tuple[str, str, int, int], dict[int, bytes]] = {}
        # One inbound line at a time (see the module's docstring).
        self._send_lock = threading.Lock()
        self._written = 0

    # addresses ---------------------------------------------------------------------------

    @property
    def sendsms_url(self) -> str:
        """``http://127.0.0.1:<port>/cgi-bin/sendsms``, smsbox's sendsms interface."""
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def conf_path(self) -> Path:
        """The kannel.conf the boxes run on."""
        return self.workdir / "kannel.conf"

    # life cycle --------------------------------------------------------------------------

    def start(self) -> Kannel:
        """Start the three programs and wait until fakesmsc is connected and sendsms
        answers; KannelStartError (with the logs' tails) when they do not."""
        require_kannel()
        self.workdir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        attempt = 1
        while True:
            try:
                self._start_once()
            except _PortTaken:
                self._stop_processes()
                if attempt == START_ATTEMPTS:
                    self.stop()
                    raise KannelStartError(
                        f"a port was taken on each of {START_ATTEMPTS} attempts\n"
                        + self.log_tails()
                    ) from None
                attempt += 1
            except BaseException:
                self.stop()
                raise
            else:
                return self

    def stop(self) -> None:
        """Stop fakesmsc, smsbox and bearerbox: SIGTERM, then SIGKILL after
        :data:`STOP_GRACE` seconds. Idempotent; never raises for a process already gone."""
        atexit.unregister(self.stop)
        self._stop_processes()

    def __enter__(self) -> Kannel:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Kannel:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _start_once(self) -> None:
        self._reset()
        # A new attempt must not read the last one's "Address already in use".
        for box in ("bearerbox", "smsbox"):
            (self.workdir / f"{box}.stderr").unlink(missing_ok=True)
        ports = distinct_free_ports(4)
        self.admin_port, self.smsbox_port, self.smsc_port, self.sendsms_port = ports
        self.conf_path.write_text(self._conf())
        deadline = time.monotonic() + START_TIMEOUT

        # bearerbox logs "entering mainloop" once its ports are bound, the fake SMS
        # centre's listening one included. It is waited on rather than a connection to
        # that port: bearerbox would take the probe for fakesmsc itself, and on a port
        # another process took the probe would succeed all the same.
        self._bearerbox = self._spawn_box(BEARERBOX)
        self._wait(
            deadline,
            "bearerbox to start",
            lambda: b"entering mainloop" in self._stderr("bearerbox"),
        )

        self._smsbox = self._spawn_box(SMSBOX)
        self._wait(
            deadline, "smsbox to connect to bearerbox and answer on sendsms", self._sendsms_ready
        )

        self._spawn_fakesmsc()
        self._wait(
            deadline,
            "fakesmsc to connect to bearerbox",
            lambda: b"Fakesmsc client connected" in self._stderr("bearerbox"),
        )

    def _conf(self) -> str:
        workdir = str(self.workdir)
        return f"""\
# Written by tests/support/kannel.py for one test gateway.
group = core
admin-port = {self.admin_port}
admin-password = {_conf_string("admin password", self.admin_password)}
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = {self.smsbox_port}
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = {_conf_string("workdir", workdir + "/bearerbox.log")}
log-level = 0

# fakesmsc connects to this port: bearerbox listens on it.
group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
mo-recode = true
log-file = {_conf_string("workdir", workdir + "/smsbox.log")}
log-level = 0

group = sendsms-user
username = {_conf_string("username", self.username)}
password = {_conf_string("password", self.password)}
max-messages = 3
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 1
omit-empty = true
get-url = {_conf_string("get_url", self.get_url)}
"""

    def _spawn_box(self, program: Path) -> subprocess.Popen[bytes]:
        # stderr at info level (-v 1): the lines start-up waits on, and the panics of a box
        # that dies before it opens its log file.
        output = (self.workdir / f"{program.name}.stderr").open("wb")
        self._outputs.append(output)
        return subprocess.Popen(
            [str(program), "-v", "1", str(self.conf_path)],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: terminal signals don't reach it
        )

    def _spawn_fakesmsc(self) -> None:
        self._fakesmsc_log = (self.workdir / "fakesmsc.log").open("wb")
        # -v 0: "Got message" and "sent message" are debug lines (info only for the
        # message number -m names). -m -1: no limit (-m 0 would send nothing). -i 0.01:
        # it sends at most one inbound SMS per interval (since its first one), so a burst
        # of replies is not spread over seconds.
        self._fakesmsc = subprocess.Popen(
            [
                str(FAKESMSC),
                *("-v", "0", "-H", "127.0.0.1", "-r", str(self.smsc_port)),
                *("-i", "0.01", "-m", "-1"),
            ],
            cwd=self.workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_fakesmsc, name=f"fakesmsc:{self.smsc_port}", daemon=True
        )
        self._reader.start()

    def _sendsms_ready(self) -> bool:
        if b"Connected to bearerbox" not in self._stderr("smsbox"):
            return False
        try:
            # Any answer will do (403 without credentials): smsbox's HTTP server is up.
            httpx.get(self.sendsms_url, timeout=1.0)
        except httpx.HTTPError:
            return False
        return True

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        while True:
            # A box that could not bind a port says so before it dies, or, for some ports
            # (the admin one), goes on without it: a port taken is a retry either way.
            if any(_PORT_TAKEN in self._stderr(box) for box in ("bearerbox", "smsbox")):
                raise _PortTaken
            for name, process in self._processes():
                if process.poll() is not None:
                    raise KannelStartError(
                        f"{name} exited with code {process.returncode} while waiting for "
                        f"{what}\n{self.log_tails()}"
                    )
            if ready():
                return
            if time.monotonic() >= deadline:
                raise KannelStartError(
                    f"timed out after {START_TIMEOUT}s waiting for {what}\n{self.log_tails()}"
                )
            time.sleep(0.05)

    def _processes(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        named = (
            ("fakesmsc", self._fakesmsc),
            ("smsbox", self._smsbox),
            ("bearerbox", self._bearerbox),
        )
        return [(name, process) for name, process in named if process is not None]

    def _stop_processes(self) -> None:
        if self._fakesmsc is not None and self._fakesmsc.stdin is not None:
            with contextlib.suppress(OSError):
                self._fakesmsc.stdin.close()
        processes = [process for _, process in self._processes()]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # bearerbox sometimes waits on a box or a thread that never comes back.
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=STOP_GRACE)
        if self._reader is not None:
            self._reader.join(timeout=STOP_GRACE)
        for output in self._outputs:
            output.close()
        self._outputs = []
        if self._fakesmsc is not None and self._fakesmsc.stdout is not None:
            self._fakesmsc.stdout.close()
        if self._fakesmsc_log is not None:
            self._fakesmsc_log.close()
        self._bearerbox = self._smsbox = self._fakesmsc = None
        self._reader = None
        self._fakesmsc_log = None

    def _reset(self) -> None:
        with self._lock:
            self._outbound = []
            self._unparsed = []
            self._sent = 0
            self._held = None
            self._parts = {}
        self._written = 0

    # logs ----------------------------------------------------------------------------------

    def _stderr(self, box: str) -> bytes:
        try:
            return (self.workdir / f"{box}.stderr").read_bytes()
        except FileNotFoundError:
            return b""

    def log_tails(self, lines: int = 25) -> str:
        """The last ``lines`` lines of each box's stderr and of fakesmsc's output."""
        tails = []
        for name in ("bearerbox.stderr", "smsbox.stderr", "fakesmsc.log"):
            path = self.workdir / name
            if not path.exists():
                continue
            text = path.read_bytes().decode("utf-8", errors="replace").splitlines()
            tails.append(f"----- {path} (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(tails) or f"(no logs in {self.workdir})"

    # outbound: what fakesmsc printed -------------------------------------------------------

    @property
    def outbound(self) -> list[OutboundSms]:
        """Every SMS that reached the fake SMS centre so far, in arrival order."""
        with self._lock:
            return list(self._outbound)

    @property
    def unparsed(self) -> list[str]:
        """fakesmsc's message lines the harness could not read as an SMS (nor as the next
        line of one)."""
        with self._lock:
            return list(self._unparsed)

    async def wait_for_outbound(
        self,
        predicate: Callable[[OutboundSms], bool] | None = None,
        *,
        to: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a liveness bound
    ) -> OutboundSms:
        """The first SMS that reached the fake SMS centre (already, or within ``timeout``
        seconds) sent to ``to`` and satisfying ``predicate``, whichever are given;
        AssertionError otherwise. Tests sharing a gateway tell theirs apart by recipient
        or text. fakesmsc waits on its standard input a second at a time and reads what
        bearerbox sent it only in between: while it waits here the harness wakes it up
        every 50 ms (:meth:`_poke`), so an SMS shows within moments."""
        deadline = time.monotonic() + timeout
        while True:
            for sms in self.outbound:
                if (to is None or sms.to == to) and (predicate is None or predicate(sms)):
                    return sms
            if time.monotonic() >= deadline:
                wanted = f" to {to}" if to is not None else ""
                raise AssertionError(
                    f"no matching SMS{wanted} reached fakesmsc within {timeout}s; "
                    f"it got {self.outbound!r} (unparsed lines: {self.unparsed!r})"
                )
            self._poke()
            await asyncio.sleep(0.05)

    def _read_fakesmsc(self) -> None:
        process = self._fakesmsc
        if process is None or process.stdout is None:
            return
        fd = process.stdout.fileno()
        pending = b""
        while True:
            readable, _, _ = select.select([fd], [], [], _CONTINUATION_WAIT)
            if not readable:
                self._release_held(force=False)
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            if self._fakesmsc_log is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._fakesmsc_log.write(chunk)
                    self._fakesmsc_log.flush()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._on_line(line.rstrip(b"\r"))
            self._release_held(force=False)
        if pending:
            self._on_line(pending)
        self._release_held(force=True)

    def _on_line(self, line: bytes) -> None:
        sent = _SENT_MESSAGE.search(line)
        if sent is not None:
            with self._changed:
                self._sent = max(self._sent, int(sent.group(1)))
                self._changed.notify_all()
            return
        got = _GOT_MESSAGE.search(line)
        if got is not None:
            self._on_message(got.group(1))

    def _on_message(self, content: bytes) -> None:
        match = _SMS_LINE.fullmatch(content)
        with self._changed:
            if match is None:
                if self._held is not None:
                    # The next line of a 7-bit text that had a line break.
                    extra = b"\n" + content
                    self._held = replace(
                        self._held,
                        text=self._held.text + extra.decode("utf-8", errors="replace"),
                        payload=self._held.payload + extra,
                    )
                    self._held_at = time.monotonic()
                else:
                    self._unparsed.append(content.decode("utf-8", errors="replace"))
                return
            self._release_held_locked()
            sender, to, kind, rest = (
                match.group(1).decode(),
                match.group(2).decode(),
                match.group(3),
                match.group(4),
            )
            if kind == b"text":
                self._held = OutboundSms(
                    sender, to, _decode(rest, CODING_7BIT), CODING_7BIT, 1, rest
                )
                self._held_at = time.monotonic()
            elif kind == b"data":
                payload = _url_decode(rest)
                self._publish(
                    OutboundSms(sender, to, _decode(payload, CODING_8BIT), CODING_8BIT, 1, payload)
                )
            elif kind == b"ucs-2":
                payload = _url_decode(rest)
                self._publish(
                    OutboundSms(sender, to, _decode(payload, CODING_UCS2), CODING_UCS2, 1, payload)
                )
            else:
                self._on_udh(sender, to, rest)

    def _on_udh(self, sender: str, to: str, rest: bytes) -> None:
        # "udh <udh> data <message>" (Kannel 1.4.5); a line without the "data" word is
        # read as "udh <udh> <message>", as fakesmsc's own protocol comment describes it.
        fields = rest.split(b" ", 2)
        if len(fields) == 3 and fields[1] == b"data":
            message = fields[2]
        else:
            message = rest.partition(b" ")[2]
        udh, payload = _url_decode(fields[0]), _url_decode(message)
        concatenation = _concatenation(udh)
        if concatenation is None:
            coding = _concatenated_coding(payload)
            self._publish(OutboundSms(sender, to, _decode(payload, coding), coding, 1, payload))
            return
        reference, total, sequence = concatenation
        key = (sender, to, reference, total)
        parts = self._parts.setdefault(key, {})
        parts[sequence] = payload
        if len(parts) < total:
            return
        del self._parts[key]
        joined = b"".join(parts[number] for number in sorted(parts))
        coding = _concatenated_coding(joined)
        self._publish(OutboundSms(sender, to, _decode(joined, coding), coding, total, joined))

    def _publish(self, sms: OutboundSms) -> None:
        self._outbound.append(sms)
        self._changed.notify_all()

    def _release_held_locked(self) -> None:
        if self._held is not None:
            self._publish(self._held)
            self._held = None

    def _release_held(self, *, force: bool) -> None:
        with self._changed:
            if self._held is not None and (
                force or time.monotonic() - self._held_at >= _CONTINUATION_WAIT
            ):
                self._release_held_locked()

    # inbound: lines typed on fakesmsc's standard input ------------------------------------

    async def send_inbound(self, sender: str, to: str, text: str, *, ucs2: bool = False) -> None:
        """Have the phone ``sender`` send ``text`` to the gateway's number ``to``: the SMS
        reaches bearerbox and smsbox calls the get-url with it. Returns once fakesmsc sent
        it to bearerbox (the get-url call follows within moments).

        7-bit (``text`` line) by default; ``ucs2`` sends it UCS-2 (URL-encoded UTF-16BE, as
        a phone does for a character outside GSM 7-bit), which smsbox recodes to UTF-8
        (``mo-recode``). ValueError for what fakesmsc cannot carry: a line break in a 7-bit
        text, a space in a number, or a line over 255 bytes (a 7-bit text of about 200
        ASCII characters, fewer with accents; UCS-2 takes 4 to 6 bytes a character).
        """
        line = self._inbound_line(sender, to, text, ucs2=ucs2)
        await asyncio.to_thread(self._write_inbound, line)

    @staticmethod
    def _inbound_line(sender: str, to: str, text: str, *, ucs2: bool) -> bytes:
        for name, number in (("sender", sender), ("to", to)):
            if not number or any(char.isspace() for char in number):
                raise ValueError(f"{name} {number!r}: fakesmsc's numbers have no spaces")
        if ucs2:
            body = b"ucs2 " + quote_from_bytes(text.encode("utf-16-be"), safe="").encode()
        else:
            if "\n" in text or "\r" in text:
                raise ValueError("fakesmsc sends one line a SMS: no line break in a 7-bit text")
            body = b"text " + text.encode()
        line = f"{sender} {to} ".encode() + body + b"\n"
        if len(line) > FAKESMSC_LINE_MAX:
            raise ValueError(
                f"the line for fakesmsc is {len(line)} bytes; it reads at most "
                f"{FAKESMSC_LINE_MAX} (newline included)"
            )
        return line

    def _write_inbound(self, line: bytes) -> None:
        with self._send_lock:
            process = self._fakesmsc
            if process is None or process.stdin is None:
                raise RuntimeError("the gateway is not running")
            target = self._written + 1
            try:
                process.stdin.write(line)
                process.stdin.flush()
            except OSError as error:
                raise RuntimeError(
                    f"fakesmsc does not take input ({error})\n{self.log_tails()}"
                ) from error
            self._written = target
            deadline = time.monotonic() + INBOUND_TIMEOUT
            with self._changed:
                while not self._changed.wait_for(lambda: self._sent >= target, timeout=0.2):
                    if time.monotonic() >= deadline:
                        raise RuntimeError(
                            f"fakesmsc did not send inbound line {target} within "
                            f"{INBOUND_TIMEOUT}s\n{self.log_tails()}"
                        )
                    # The line may wait in fakesmsc's stdio buffer behind an empty one.
                    self._poke()

    def _poke(self) -> None:
        """Wake fakesmsc up with an empty line (which it skips), so that it reads what
        bearerbox sent it now rather than after its second of waiting on its input.

        Safe beside inbound lines: a pipe write of up to 4096 bytes is never split, so a
        newline cannot land inside a line. An empty line read together with a real one
        can hold the real one in fakesmsc's stdio buffer until its input moves again:
        the next poke moves it (send_inbound pokes while it waits).
        """
        process = self._fakesmsc
        if process is None or process.stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            process.stdin.write(b"\n")


class _PortTaken(Exception):
    """A box could not bind one of its ports: start again on fresh ones."""
