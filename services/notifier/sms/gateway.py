"""Sending an SMS through Kannel's smsbox (``sendsms``), with a delivery report asked for.

Kannel answering ``202 0: Accepted for delivery`` means it took the SMS, not that the
phone has it: the delivery report Kannel later sends to the ``dlr-url`` decides
(``services.notifier.sms.reports``). The report URL names the SMS by an id of ours and
carries the shared secret, so a report is tied to one SMS and proven to come from Kannel.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode
from uuid import UUID

import httpx

from shared.settings import Settings
from shared.sms.segments import SmsText

# Ask Kannel for every report: delivered, failed, buffered, SMSC accepted, SMSC rejected.
DLR_MASK = 31
REPORT_PATH = "/v1/sms/kannel/dlr"


@dataclass(frozen=True)
class KannelConfig:
    """Where and as whom to send, where reports come back, and what a report means."""

    sendsms_url: str
    username: str
    password: str
    sender: str
    report_url: str  # the notifier's base URL as Kannel reaches it
    secret: str
    delivered_status: int
    report_wait: float
    default_region: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> KannelConfig | None:
        """The gateway of ``COORD_SMS_*``; None without ``COORD_SMS_KANNEL_URL``."""
        if settings.sms_kannel_url is None:
            return None
        password = settings.sms_kannel_password
        return cls(
            sendsms_url=settings.sms_kannel_url,
            username=settings.sms_kannel_username,
            password=password.get_secret_value() if password is not None else "",
            sender=settings.sms_sender,
            report_url=settings.sms_report_url.rstrip("/"),
            secret=settings.sms_inbound_secret.get_secret_value(),
            delivered_status=settings.sms_delivered_status,
            report_wait=settings.sms_report_wait,
            default_region=settings.sms_default_region,
        )


class GatewayRefused(Exception):
    """Kannel did not take the SMS (its answer says why); worth another try."""


def report_url(config: KannelConfig, sms_id: UUID) -> str:
    """The ``dlr-url`` of one SMS: Kannel puts the report's status where ``%d`` is."""
    query = urlencode({"sms": str(sms_id), "secret": config.secret})
    return f"{config.report_url}{REPORT_PATH}?{query}&status=%d"


async def submit(
    http: httpx.AsyncClient, config: KannelConfig, sms_id: UUID, to: str, text: SmsText
) -> None:
    """Hand one SMS to Kannel; returns once Kannel has taken it.

    Raises:
        GatewayRefused: Kannel answered anything but 2xx.
        httpx.HTTPError: Kannel could not be reached.
    """
    response = await http.get(
        config.sendsms_url,
        params={
            "username": config.username,
            "password": config.password,
            "from": config.sender,
            "to": to,
            "text": text.text,
            "coding": str(int(text.coding)),
            "charset": "UTF-8",
            "dlr-mask": str(DLR_MASK),
            "dlr-url": report_url(config, sms_id),
        },
    )
    if not response.is_success:
        # Kannel's body names the cause ("Authorization failed for sendsms", ...).
        raise GatewayRefused(f"Kannel answered {response.status_code}: {response.text.strip()}")
