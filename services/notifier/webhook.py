"""The webhook channel: a signed JSON POST, retried with exponential back-off."""

from __future__ import annotations

import json

import httpx

from services.notifier.retry import DeliveryResult, RetryPolicy, with_retries
from shared.contracts.notifications import NotificationRequestedV1
from shared.signing import SIGNATURE_HEADER, sign


class WebhookRejected(Exception):
    """The receiver answered with a non-2xx status."""


def webhook_body(request: NotificationRequestedV1) -> bytes:
    """The JSON the receiver gets (the alert summary, never the source)."""
    body = {
        "notification_id": str(request.notification_id),
        "alert_id": str(request.alert_id),
        "person_id": request.person_id,
        "kind": request.kind.value,
        "message": request.message,
        "policy_id": request.policy_id,
        "level": request.level,
        **request.alert.model_dump(mode="json"),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def webhook_headers(request: NotificationRequestedV1, body: bytes, secret: str) -> dict[str, str]:
    """The headers of the POST: signature, stable delivery id, and the event kind."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        "X-Coord-Delivery": str(request.notification_id),
        "X-Coord-Event": f"alert.{request.kind.value}",
    }


async def deliver_webhook(
    client: httpx.AsyncClient,
    request: NotificationRequestedV1,
    url: str,
    secret: str,
    retry: RetryPolicy,
) -> DeliveryResult:
    """POST the notification to ``url``; retry failures, and say how it ended."""
    body = webhook_body(request)
    headers = webhook_headers(request, body, secret)

    async def post() -> None:
        response = await client.post(url, content=body, headers=headers)
        if not response.is_success:
            raise WebhookRejected(f"HTTP {response.status_code}")

    return await with_retries(retry, post, redact=url)
