"""Wiring a private Kannel (tests/support/kannel.py) to the three services of a test.

The gateway and the services call each other: Kannel hands each SMS it receives to
ingest's inbound route and each delivery report to the notifier's report route, and the
notifier sends through Kannel's sendsms. So the services' ports are chosen first, Kannel
is started with a get-url naming ingest's, and the services are started last, with
:func:`sms_env` in their environment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.support.directories import directory_for
from tests.support.kannel import Kannel

# Kannel's escapes for what ingest's route reads: sender, receiver, text, SMS id, time.
_KANNEL_FIELDS = "from=%p&to=%P&text=%a&id=%I&ts=%T"


def kannel_get_url(ingest_port: int, secret: str) -> str:
    """The sms-service get-url that hands each received SMS to ingest on ``ingest_port``."""
    query = urlencode({"secret": secret})
    return f"http://127.0.0.1:{ingest_port}/v1/sms/kannel/inbound?{query}&{_KANNEL_FIELDS}"


def sms_env(kannel: Kannel, *, notifier_port: int, secret: str) -> dict[str, str]:
    """The services' settings for sending through ``kannel`` and hearing back from it."""
    return {
        "COORD_SMS_KANNEL_URL": kannel.sendsms_url,
        "COORD_SMS_KANNEL_USERNAME": kannel.username,
        "COORD_SMS_KANNEL_PASSWORD": kannel.password,
        "COORD_SMS_INBOUND_SECRET": secret,
        "COORD_SMS_REPORT_URL": f"http://127.0.0.1:{notifier_port}",
        "COORD_SMS_DEFAULT_REGION": "CD",
        # A liveness bound: fakesmsc reports at once, and a page must not wait 120 s to
        # fail when a report is lost.
        "COORD_SMS_REPORT_WAIT": "20",
    }


def directory_with_phone(
    receiver_base_url: str, person_id: str, phone: str, language: str
) -> dict[str, Any]:
    """The e2e directory, in which ``person_id`` can be reached only by SMS on ``phone``
    and reads ``language``: each of her pages is an SMS, never a webhook."""
    data = directory_for(receiver_base_url)
    [person] = [p for p in data["people"] if p["id"] == person_id]
    person["contacts"] = [{"channel": "sms", "address": phone}]
    person["language"] = language
    return data
