"""Retries shared by every channel: exponential back-off, and how a delivery ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    stop_after_attempt,
    wait_exponential,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one delivery on one channel."""

    attempts: int
    backoff_initial: float
    backoff_max: float


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one delivery on one channel."""

    delivered: bool
    attempts: int
    error: str | None = None


async def with_retries(
    retry: RetryPolicy, attempt: Callable[[], Awaitable[None]], *, redact: str = ""
) -> DeliveryResult:
    """Await ``attempt`` until it returns, at most ``retry.attempts`` times.

    Any exception is a failed attempt. The error reported is the last one, with
    ``redact`` (the contact address: private) blanked out of it. Each failed attempt that
    is retried is logged: a receiver that answers slowly or fails now and then shows there
    long before a delivery fails for good (and a retry may re-send a page it took).
    """
    attempts = 0

    def retrying(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "notification.attempt_failed",
            attempt=state.attempt_number,
            error=describe(error, redact),
            retry_in=round(state.upcoming_sleep, 2),
        )

    try:
        async for trying in AsyncRetrying(
            stop=stop_after_attempt(retry.attempts),
            wait=wait_exponential(multiplier=retry.backoff_initial, max=retry.backoff_max),
            before_sleep=retrying,
        ):
            with trying:
                attempts += 1
                await attempt()
    except RetryError as error:
        cause = error.last_attempt.exception()
        return DeliveryResult(delivered=False, attempts=attempts, error=describe(cause, redact))
    return DeliveryResult(delivered=True, attempts=attempts)


def describe(error: BaseException | None, redact: str = "") -> str:
    """A short, address-free description of an error for events and logs."""
    if error is None:
        return "unknown error"
    text = str(error) or type(error).__name__
    if redact:
        text = text.replace(redact, "<address>")
    return f"{type(error).__name__}: {text}"[:500]
