"""The real Kannel gateway (tests/support/kannel.py) does what coord's SMS channel relies on.

A guard, and the record of what coord may assume of Kannel 1.4.5: a text sent through
sendsms reaches the SMS centre intact in GSM 7-bit (French é è à included) and in UCS-2
(when the request says ``charset=UTF-8``); a long text goes concatenated, and is cut at
the account's ``max-messages`` parts while sendsms still answers 202; the delivery
reports call the ``dlr-url`` with ``%d`` 8 (the SMS centre took it) and 1 (delivered);
an SMS received calls the sms-service's ``get-url`` with its sender, number, UTF-8 text,
id and time; a wrong sendsms password is refused and sends nothing.

One gateway (bearerbox, smsbox, fakesmsc on free ports, in a directory of the module's)
serves the whole module, with a recorder of its HTTP calls; each test uses recipients of
its own, so the tests do not see each other's SMS.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.kannel import Kannel, OutboundSms
from tests.support.receiver import free_port

pytestmark = pytest.mark.integration

# The sendsms account and the inbound secret of the module's gateway (tests only).
SENDSMS_PASSWORD = "kannel-test-sendsms-password"  # noqa: S105
INBOUND_SECRET = "kannel-test-inbound-secret"  # noqa: S105
INBOUND_PATH = "/v1/sms/kannel/inbound"
# The gateway's own number, which the phones write to.
GATEWAY_NUMBER = "+243990000000"
SENDER_ID = "COORD"


@dataclass(frozen=True)
class Call:
    """One GET Kannel made: the get-url of an SMS received, or the dlr-url of a report."""

    path: str
    raw_query: str
    query: dict[str, list[str]]  # decoded as UTF-8, strictly
    at: float  # time.time() at arrival

    def one(self, name: str) -> str:
        """The single value of query parameter ``name``."""
        values = self.query.get(name, [])
        assert len(values) == 1, f"{name}: {values!r} in {self.raw_query!r}"
        return values[0]


class CallbackRecorder:
    """An HTTP server on 127.0.0.1:<free port>, in a thread of its own (the module's
    gateway outlives each test's event loop), that answers 200 with an empty body to every
    GET and records it. (tests/support/receiver.py keeps no query string, which is where
    Kannel puts everything.)"""

    def __init__(self) -> None:
        self.port = free_port()
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                try:
                    query = parse_qs(
                        parts.query, keep_blank_values=True, encoding="utf-8", errors="strict"
                    )
                except UnicodeDecodeError:
                    query = {"<not UTF-8>": [parts.query]}
                with recorder._lock:
                    recorder._calls.append(Call(parts.path, parts.query, query, time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the calls are recorded, not printed

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"kannel-callbacks:{self.port}", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CallbackRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a liveness bound
        what: str = "a matching call",
    ) -> Call:
        """The first call recorded (already, or within ``timeout`` s) that satisfies
        ``predicate``; AssertionError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls:
                if predicate(call):
                    return call
            if time.monotonic() >= deadline:
                raise AssertionError(f"no {what} within {timeout}s; calls: {self.calls!r}")
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def callbacks() -> Iterator[CallbackRecorder]:
    """The recorder of the gateway's get-url and dlr-url calls."""
    with CallbackRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def gateway(
    callbacks: CallbackRecorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kannel]:
    """The module's Kannel, its sms-service calling ``callbacks`` as coord's inbound URL."""
    get_url = (
        f"{callbacks.base_url}{INBOUND_PATH}?secret={INBOUND_SECRET}"
        "&from=%p&to=%P&text=%a&id=%I&ts=%T"
    )
    workdir: Path = tmp_path_factory.mktemp("kannel")
    with Kannel(workdir, get_url=get_url, password=SENDSMS_PASSWORD) as started:
        yield started


async def sendsms(
    gateway: Kannel,
    to: str,
    text: str,
    params: Mapping[str, str | int] | None = None,
    *,
    password: str | None = None,
) -> httpx.Response:
    """GET sendsms as coord does: its account, sender id COORD, then ``params``."""
    query: dict[str, str | int] = {
        "username": gateway.username,
        "password": gateway.password if password is None else password,
        "from": SENDER_ID,
        "to": to,
        "text": text,
        **(params or {}),
    }
    async with httpx.AsyncClient(timeout=10.0) as client:
        return await client.get(gateway.sendsms_url, params=query)


def assert_accepted(response: httpx.Response) -> None:
    assert response.status_code == 202, response.text
    assert response.text.startswith("0: Accepted for delivery"), response.text


# sendsms -> SMS centre -------------------------------------------------------------------


async def test_a_7bit_sms_reaches_the_sms_centre_with_its_french_letters(
    gateway: Kannel,
) -> None:
    text = (
        "SEVERE abduction beni Mavivi. Hommes armés près de l'école, fermée à midi. "
        "Répondez ACC 4821"
    )
    assert_accepted(await sendsms(gateway, "+243990000101", text, {"coding": 0}))

    sms = await gateway.wait_for_outbound(to="+243990000101")

    assert sms == OutboundSms(
        sender=SENDER_ID, to="+243990000101", text=text, coding=0, parts=1, payload=text.encode()
    )


async def test_a_7bit_text_of_two_lines_arrives_as_written(gateway: Kannel) -> None:
    text = "SEVERE abduction beni Mavivi\nRépondez ACC 4821"
    assert_accepted(await sendsms(gateway, "+243990000102", text, {"coding": 0}))

    sms = await gateway.wait_for_outbound(to="+243990000102")

    assert (sms.text, sms.coding, sms.parts) == (text, 0, 1)
    assert gateway.unparsed == []


async def test_a_ucs2_sms_sent_with_charset_utf8_arrives_intact(gateway: Kannel) -> None:
    text = "Réponse : êtes-vous sûr ? Le cœur de Mavivi ÊTRE"
    assert_accepted(
        await sendsms(gateway, "+243990000103", text, {"coding": 2, "charset": "UTF-8"})
    )

    sms = await gateway.wait_for_outbound(to="+243990000103")

    assert (sms.text, sms.coding, sms.parts) == (text, 2, 1)
    assert sms.payload == text.encode("utf-16-be")


async def test_a_ucs2_sms_without_charset_goes_out_as_garbage(gateway: Kannel) -> None:
    # Kannel takes the text of a coding=2 request for UTF-16BE already unless charset says
    # otherwise: coord must send charset=UTF-8 with every UCS-2 SMS.
    text = "Réponse ÊTRE"
    assert_accepted(await sendsms(gateway, "+243990000104", text, {"coding": 2}))

    sms = await gateway.wait_for_outbound(to="+243990000104")

    assert sms.coding == 2
    assert sms.payload == text.encode()  # the UTF-8 bytes, sent as if they were UCS-2
    assert sms.text != text


async def test_a_long_text_goes_concatenated_and_is_cut_at_three_parts(gateway: Kannel) -> None:
    two_parts = ("Alerte sévère à Mavivi, réponse attendue. " * 5).strip()  # 209 characters
    assert_accepted(await sendsms(gateway, "+243990000105", two_parts, {"coding": 0}))
    ucs2 = ("Œuvre êtes " * 10).strip()  # 109 characters: two UCS-2 parts of 67
    assert_accepted(
        await sendsms(gateway, "+243990000106", ucs2, {"coding": 2, "charset": "UTF-8"})
    )
    # Over max-messages = 3 parts (3 x 153 = 459 characters): Kannel sends the first three
    # and still answers 202: coord must keep its texts within three parts.
    too_long = "".join(f"{n:03d} Mavivi. " for n in range(60))  # 720 characters
    assert_accepted(await sendsms(gateway, "+243990000107", too_long, {"coding": 0}))

    sms = await gateway.wait_for_outbound(to="+243990000105")
    assert (sms.text, sms.coding, sms.parts) == (two_parts, 0, 2)
    sms = await gateway.wait_for_outbound(to="+243990000106")
    assert (sms.text, sms.coding, sms.parts) == (ucs2, 2, 2)
    sms = await gateway.wait_for_outbound(to="+243990000107")
    assert (sms.text, sms.coding, sms.parts) == (too_long[: 3 * 153], 0, 3)


# delivery reports --------------------------------------------------------------------------


async def test_the_delivery_reports_call_the_dlr_url_with_the_statuses(
    gateway: Kannel, callbacks: CallbackRecorder
) -> None:
    notification = str(uuid.uuid4())
    dlr_url = f"{callbacks.base_url}/dlr?id={notification}&status=%d&ts=%T"
    before = time.time()
    assert_accepted(
        await sendsms(
            gateway,
            "+243990000108",
            "Alerte Mavivi",
            {"coding": 0, "dlr-mask": 31, "dlr-url": dlr_url},
        )
    )

    def report(status: str) -> Callable[[Call], bool]:
        return lambda call: (
            call.path == "/dlr"
            and call.query.get("id") == [notification]
            and call.query.get("status") == [status]
        )

    # 8: the SMS centre took it; 1: delivered to the phone (the fake centre's final word).
    accepted = await callbacks.wait_for(report("8"), what="status 8 (SMSC accepted)")
    delivered = await callbacks.wait_for(report("1"), what="status 1 (delivered)")

    ours = [call for call in callbacks.calls if call.query.get("id") == [notification]]
    assert sorted(call.one("status") for call in ours) == ["1", "8"]
    for call in (accepted, delivered):
        assert before - 2 <= int(call.one("ts")) <= time.time() + 2


# SMS received -> get-url -----------------------------------------------------------------


async def test_an_sms_received_calls_the_get_url_with_its_fields_in_utf8(
    gateway: Kannel, callbacks: CallbackRecorder
) -> None:
    sender, text = "+243990000109", "ALERTE hommes armés à Mavivi, enlèvement"
    before = time.time()

    await gateway.send_inbound(sender, GATEWAY_NUMBER, text)

    call = await callbacks.wait_for(
        lambda call: call.path == INBOUND_PATH and call.query.get("from") == [sender],
        what=f"the get-url call for the SMS of {sender}",
    )
    assert call.one("secret") == INBOUND_SECRET
    assert call.one("to") == GATEWAY_NUMBER
    assert call.one("text") == text
    # URL-encoded UTF-8 (é = %C3%A9), not Latin-1 or UTF-16: what coord's endpoint decodes.
    assert "text=ALERTE+hommes+arm%C3%A9s+%C3%A0+Mavivi%2C+enl%C3%A8vement" in call.raw_query
    uuid.UUID(call.one("id"))
    assert before - 2 <= int(call.one("ts")) <= time.time() + 2


async def test_an_sms_received_in_ucs2_reaches_the_get_url_as_utf8(
    gateway: Kannel, callbacks: CallbackRecorder
) -> None:
    # A phone writes UCS-2 as soon as a character is outside GSM 7-bit (ê, œ, ç): with
    # mo-recode the get-url gets UTF-8 all the same.
    sender, text = "+243990000110", "Reçu, nous êtes en cœur"

    await gateway.send_inbound(sender, GATEWAY_NUMBER, text, ucs2=True)

    call = await callbacks.wait_for(
        lambda call: call.path == INBOUND_PATH and call.query.get("from") == [sender],
        what=f"the get-url call for the SMS of {sender}",
    )
    assert call.one("text") == text


async def test_sms_received_one_after_another_all_reach_the_get_url(
    gateway: Kannel, callbacks: CallbackRecorder
) -> None:
    sender = "+243990000111"
    texts = [f"ACC {n}" for n in range(4821, 4826)]

    for text in texts:
        await gateway.send_inbound(sender, GATEWAY_NUMBER, text)

    def inbound(text: str) -> Callable[[Call], bool]:
        return lambda call: call.query.get("from") == [sender] and call.query.get("text") == [text]

    for text in texts:
        await callbacks.wait_for(inbound(text), what=f"the get-url call for {text!r}")


async def test_send_inbound_refuses_what_fakesmsc_cannot_carry(gateway: Kannel) -> None:
    with pytest.raises(ValueError, match="line break"):
        await gateway.send_inbound("+243990000112", GATEWAY_NUMBER, "one\ntwo")
    with pytest.raises(ValueError, match="at most 255"):
        await gateway.send_inbound("+243990000112", GATEWAY_NUMBER, "é" * 120)
    with pytest.raises(ValueError, match="no spaces"):
        await gateway.send_inbound("+243 990000112", GATEWAY_NUMBER, "ACC")


# refusals ----------------------------------------------------------------------------------


async def test_a_wrong_sendsms_password_is_refused_and_sends_nothing(gateway: Kannel) -> None:
    response = await sendsms(gateway, "+243990000113", "ne doit pas partir", password="wrong")  # noqa: S106

    assert response.status_code == 403, response.text
    assert "Authorization failed" in response.text
    # An SMS sent after it, through the same gateway, arrives: by then the refused one would
    # have too, had it been sent.
    assert_accepted(await sendsms(gateway, "+243990000114", "marker", {"coding": 0}))
    await gateway.wait_for_outbound(to="+243990000114")
    assert [sms for sms in gateway.outbound if sms.to == "+243990000113"] == []
