"""The webhook channel: a signed JSON POST, retried with exponential back-off."""

from __future__ import annotations

import json

import httpx

from services.notifier.retry import DeliveryResult, RetryPolicy, with_retries
from services.notifier.subjects import event_name, public_summary, subject_id_field
from shared.contracts.notifications import NotificationRequestedV2, SubjectType
from shared.signing import SIGNATURE_HEADER, sign


class WebhookRejected(Exception):
    """The receiver answered with a non-2xx status."""


def webhook_body(request: NotificationRequestedV2, acknowledge_url: str | None = None) -> bytes:
    """The JSON the receiver gets: who and why, and the subject's summary (never its source).

    ``<subject_type>_id`` names the subject. An alert's body is the one receivers
    knew before version 2, so it has no ``subject_type``; any other has one.
    ``acknowledge_url`` (a page's action link, ``services.notifier.links``) is added as a
    field of that name when given; without one the body is as before.
    """
    identity: dict[str, object] = {
        "notification_id": str(request.notification_id),
        subject_id_field(request): str(request.subject_id),
        "person_id": request.person_id,
        "kind": request.kind.value,
        "message": request.message,
        "policy_id": request.policy_id,
        "level": request.level,
    }
    if request.subject_type is not SubjectType.ALERT:
        identity["subject_type"] = request.subject_type.value
    if acknowledge_url is not None:
        identity["acknowledge_url"] = acknowledge_url
    # The identity wins over a summary field of the same name: a summary cannot pass
    # the notification off as another's (an alert summary has no such field anyway).
    body = {**public_summary(request), **identity}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def webhook_headers(
    request: NotificationRequestedV2, body: bytes, secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of the POST: signature, stable delivery id, and ``<subject_type>.<kind>``.

    The signature covers ``timestamp`` (unix seconds, now by default) and the body.
    """
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret, timestamp),
        "X-Coord-Delivery": str(request.notification_id),
        "X-Coord-Event": event_name(request),
    }


async def deliver_webhook(
    client: httpx.AsyncClient,
    request: NotificationRequestedV2,
    url: str,
    secret: str,
    retry: RetryPolicy,
    *,
    acknowledge_url: str | None = None,
) -> DeliveryResult:
    """POST the notification to ``url``; retry failures, and say how it ended.

    ``acknowledge_url`` goes into the body (see ``webhook_body``); every retry sends the
    same body, link included.
    """
    body = webhook_body(request, acknowledge_url)

    async def post() -> None:
        # Signed at each attempt: a late retry carries a fresh timestamp, so receivers that
        # refuse stale ones (replays) still take it. The body and delivery id stay the same.
        headers = webhook_headers(request, body, secret)
        response = await client.post(url, content=body, headers=headers)
        if not response.is_success:
            raise WebhookRejected(f"HTTP {response.status_code}")

    return await with_retries(retry, post, redact=url)
