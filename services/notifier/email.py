"""The email channel: a plain-text mail over SMTP (aiosmtplib), retried with back-off.

What the mail says is ``email_text``'s; this module addresses and sends it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from services.notifier.email_text import email_subject, email_text
from services.notifier.retry import DeliveryResult, RetryPolicy, describe, with_retries
from services.notifier.subjects import event_name
from shared.contracts.notifications import NotificationRequestedV2
from shared.settings import Settings


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail (settings ``COORD_SMTP_*``)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """The SMTP configuration of ``settings``."""
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )


def email_message(
    request: NotificationRequestedV2,
    recipient: str,
    sender: str,
    acknowledge_url: str | None = None,
) -> EmailMessage:
    """The whole mail; raises ValueError on an address a header cannot hold.

    ``acknowledge_url`` is a page's action link, for the body (``email_text``).
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = email_subject(request)
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    # Stable across retries, like X-Coord-Delivery: receivers may dedup on either.
    message["Message-ID"] = f"<{request.notification_id}@{domain}>"
    message["X-Coord-Delivery"] = str(request.notification_id)
    message["X-Coord-Event"] = event_name(request)
    message.set_content(email_text(request, acknowledge_url))
    return message


async def deliver_email(
    config: SmtpConfig,
    request: NotificationRequestedV2,
    recipient: str,
    retry: RetryPolicy,
    *,
    acknowledge_url: str | None = None,
) -> DeliveryResult:
    """Send the notification to ``recipient``; retry failures, and say how it ended.

    ``acknowledge_url`` is a page's action link, for the body; every retry sends the same mail.
    """
    try:
        message = email_message(request, recipient, config.sender, acknowledge_url)
    except (ValueError, TypeError) as error:  # no retry can fix a malformed address
        return DeliveryResult(delivered=False, attempts=1, error=describe(error, recipient))

    async def send() -> None:
        # aiosmtplib's timeout is per operation: bound the whole conversation too.
        async with asyncio.timeout(config.timeout):
            await aiosmtplib.send(
                message,
                sender=parseaddr(config.sender)[1] or config.sender,
                recipients=[recipient],
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                start_tls=config.starttls,
                timeout=config.timeout,
            )

    return await with_retries(retry, send, redact=recipient)
