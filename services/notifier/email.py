"""The email channel: a plain-text mail over SMTP (aiosmtplib), retried with back-off."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from services.notifier.retry import DeliveryResult, RetryPolicy, describe, with_retries
from shared.contracts.notifications import NotificationKind, NotificationRequestedV1
from shared.settings import Settings

SUBJECT_MAX = 200


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


def _one_line(text: str) -> str:
    return " ".join(text.split())


def email_subject(request: NotificationRequestedV1) -> str:
    """E.g. ``[coord] SEVERE abduction in beni: <title>``, the kind first unless a page."""
    alert = request.alert
    kind = "" if request.kind is NotificationKind.PAGE else f"{request.kind.value} "
    subject = (
        f"[coord] {kind.replace('_', ' ').upper()}{alert.severity.upper()} "
        f"{alert.category.replace('_', ' ')} in {alert.sector}: {alert.title}"
    )
    return _one_line(subject)[:SUBJECT_MAX]


def email_text(request: NotificationRequestedV1) -> str:
    """The body: the alert summary (never its source), level, message and ids."""
    alert = request.alert
    location = alert.location.get("name", "")
    lines = [
        f"{request.kind.value.replace('_', ' ').capitalize()}: {alert.title}",
        "",
    ]
    if request.message:
        lines += [request.message, ""]
    lines += [
        f"Category:       {alert.category}",
        f"Severity:       {alert.severity}",
        f"Urgency:        {alert.urgency}",
        f"Certainty:      {alert.certainty}",
        f"Sector:         {alert.sector}",
        f"Location:       {location}",
        f"Origin:         {alert.origin}",
        f"Classification: {alert.classification}",
        f"Raised at:      {alert.raised_at}",
        f"Level:          {request.level}"
        + (f" ({request.policy_id})" if request.policy_id else ""),
        f"Alert id:       {request.alert_id}",
        f"Notification:   {request.notification_id}",
        "",
    ]
    return "\n".join(lines)


def email_message(request: NotificationRequestedV1, recipient: str, sender: str) -> EmailMessage:
    """The whole mail; raises ValueError on an address a header cannot hold."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = email_subject(request)
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    # Stable across retries, like X-Coord-Delivery: receivers may dedup on either.
    message["Message-ID"] = f"<{request.notification_id}@{domain}>"
    message["X-Coord-Delivery"] = str(request.notification_id)
    message["X-Coord-Event"] = f"alert.{request.kind.value}"
    message.set_content(email_text(request))
    return message


async def deliver_email(
    config: SmtpConfig, request: NotificationRequestedV1, recipient: str, retry: RetryPolicy
) -> DeliveryResult:
    """Send the notification to ``recipient``; retry failures, and say how it ended."""
    try:
        message = email_message(request, recipient, config.sender)
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
