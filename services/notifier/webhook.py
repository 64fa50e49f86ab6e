"""The webhook channel: a signed JSON POST, retried with exponential back-off."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_exponential

from shared.contracts.notifications import NotificationRequestedV1
from shared.signing import SIGNATURE_HEADER, sign


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one delivery."""

    attempts: int
    backoff_initial: float
    backoff_max: float


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one delivery."""

    delivered: bool
    attempts: int
    error: str | None = None


class WebhookRejected(Exception):
    """The receiver answered with a non-2xx status."""


def webhook_body(request: NotificationRequestedV1) -> bytes:
    """The JSON the receiver gets (the alert summary, never the source)."""
    body = {
        "notification_id": str(request.notification_id),
        "alert_id": str(request.alert_id),
        "person_id": request.person_id,
        "policy_id": request.policy_id,
        "level": request.level,
        **request.alert.model_dump(mode="json"),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


async def deliver_webhook(
    client: httpx.AsyncClient,
    request: NotificationRequestedV1,
    secret: str,
    retry: RetryPolicy,
) -> DeliveryResult:
    """POST the notification; retry failures, and say how it ended."""
    body = webhook_body(request)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        "X-Coord-Delivery": str(request.notification_id),
        "X-Coord-Event": "alert.notification",
    }
    attempts = 0
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(retry.attempts),
            wait=wait_exponential(multiplier=retry.backoff_initial, max=retry.backoff_max),
        ):
            with attempt:
                attempts += 1
                response = await client.post(request.address, content=body, headers=headers)
                if not response.is_success:
                    raise WebhookRejected(f"HTTP {response.status_code}")
    except RetryError as error:
        cause = error.last_attempt.exception()
        return DeliveryResult(delivered=False, attempts=attempts, error=_describe(cause))
    return DeliveryResult(delivered=True, attempts=attempts)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
