"""Retries shared by every channel: exponential back-off, and how a delivery ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_exponential


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
    ``redact`` (the contact address: private) blanked out of it.
    """
    attempts = 0
    try:
        async for trying in AsyncRetrying(
            stop=stop_after_attempt(retry.attempts),
            wait=wait_exponential(multiplier=retry.backoff_initial, max=retry.backoff_max),
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
