"""How a consumed message is settled: handled and acked, or handed back after a back-off.

A handler that raises gets its message again after a pause, until the queue's delivery
limit dead-letters it; ``TryAgainLater`` says so without a traceback (a command ahead
of its subject). A batch (``Bus.consume_batches``) is handled in one call and acked;
if that fails, each of its messages is handled alone, so one poison message is
dead-lettered without sinking the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from pydantic import ValidationError

from shared.envelope import Envelope
from shared.metrics import HANDLER_SECONDS, MESSAGES_CONSUMED

log = structlog.get_logger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]
# Handles several messages in one transaction, in delivery order (``Bus.consume_batches``).
BatchHandler = Callable[[Sequence[Envelope]], Awaitable[None]]


class TryAgainLater(Exception):
    """A handler cannot act on the message yet; it is handed back for a later delivery."""


async def handle_alone(queue: str, message: AbstractIncomingMessage, handler: Handler) -> None:
    """Handle one message and ack it; a failed one is handed back after a back-off."""
    if await attempt(queue, message, handler):
        await hand_back(queue, message)


async def attempt(queue: str, message: AbstractIncomingMessage, handler: Handler) -> bool:
    """Handle one message and ack it; True when it failed (still unsettled, to hand back)."""
    started = time.perf_counter()
    try:
        envelope = Envelope.model_validate_json(message.body)
    except ValidationError as error:
        MESSAGES_CONSUMED.labels(queue=queue, outcome="malformed").inc()
        log.warning(
            "message.malformed", queue=queue, message_id=message.message_id, error=str(error)
        )
        return True
    with structlog.contextvars.bound_contextvars(
        correlation_id=str(envelope.correlation_id),
        message_id=str(envelope.id),
        message_type=envelope.type,
    ):
        try:
            await handler(envelope)
        except TryAgainLater as error:
            # Expected (a command ahead of its subject): no traceback, the same back-off.
            MESSAGES_CONSUMED.labels(queue=queue, outcome="deferred").inc()
            log.info("message.deferred", queue=queue, reason=str(error))
            return True
        except Exception:
            MESSAGES_CONSUMED.labels(queue=queue, outcome="failed").inc()
            log.exception("message.failed", queue=queue)
            return True
    if await _settle(queue, message.ack()):
        MESSAGES_CONSUMED.labels(queue=queue, outcome="ok").inc()
        HANDLER_SECONDS.labels(queue=queue).observe(time.perf_counter() - started)
    return False


async def hand_back(queue: str, message: AbstractIncomingMessage) -> None:
    """Requeue a failed message after a back-off: redelivered until the delivery limit."""
    await _back_off(message)
    await _settle(queue, message.reject(requeue=True))


async def _settle(queue: str, settling: Awaitable[None]) -> bool:
    """Ack or reject; False when the channel went away first (the broker redelivers)."""
    try:
        await settling
    except (AMQPError, ChannelInvalidStateError) as error:
        log.warning("message.settle_failed", queue=queue, error=repr(error))
        return False
    return True


async def handled_together(
    queue: str, messages: Sequence[AbstractIncomingMessage], handler: BatchHandler
) -> bool:
    """Handle ``messages`` (two or more) in one call of ``handler`` and ack them.

    False when they are left to handle alone: a malformed one among them, or a failure.
    """
    started = time.perf_counter()
    envelopes: list[Envelope] = []
    for message in messages:
        try:
            envelopes.append(Envelope.model_validate_json(message.body))
        except ValidationError:
            return False  # the lone path logs it and hands it back
    try:
        await handler(envelopes)
    except Exception as error:  # noqa: BLE001 - any failure: each message on its own
        log.info("batch.failed_handled_alone", queue=queue, size=len(messages), error=repr(error))
        return False
    for message in messages:
        # Not acked: the broker redelivers it, and the handler is idempotent.
        await _settle(queue, message.ack())
    MESSAGES_CONSUMED.labels(queue=queue, outcome="ok").inc(len(messages))
    HANDLER_SECONDS.labels(queue=queue).observe(time.perf_counter() - started)
    return True


async def _back_off(message: AbstractIncomingMessage) -> None:
    # Without a pause a transient fault (say the database restarting) would burn
    # through the delivery limit in milliseconds and dead-letter a good message.
    count = (message.headers or {}).get("x-delivery-count", 0)
    deliveries = count if isinstance(count, int) else 0
    await asyncio.sleep(min(0.1 * 2**deliveries, 5.0))
