"""How the broker refused a message, as opposed to a connection failing.

The outbox relay parks a row the broker refuses for good and retries one that
failed for now; this tells the two apart from what aiormq raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import aiormq
from aio_pika.exceptions import DeliveryError


class RefusalKind(StrEnum):
    """How the broker refused a message (as opposed to a connection failing)."""

    UNROUTABLE = "unroutable"  # basic.return: no queue is bound to the routing key
    NACKED = "nacked"  # basic.nack: the broker could not take it (e.g. a queue refused it)


@dataclass(frozen=True)
class Refusal:
    """The broker's answer to one message it did not take."""

    kind: RefusalKind
    detail: str


def refusal_of(error: BaseException) -> Refusal | None:
    """The broker's refusal ``error`` reports; None for a transient failure (connection, timeout).

    aiormq reports both as ``DeliveryError`` and tells them apart by the frame: a
    mandatory message nobody is bound to comes back as ``basic.return`` (raised as
    ``PublishError``, reply code 312 NO_ROUTE, since the channel has ``on_return_raises``),
    a refused one as ``basic.nack`` (or ``basic.reject``) with no message.
    """
    if not isinstance(error, DeliveryError):
        return None
    frame = error.frame
    basic = aiormq.spec.Basic  # pamqp's frames, as aiormq raises them
    if isinstance(frame, basic.Return):
        return Refusal(
            RefusalKind.UNROUTABLE,
            f"unroutable: {frame.reply_text} (reply code {frame.reply_code}), "
            f"no queue bound to routing key {frame.routing_key!r}",
        )
    if isinstance(frame, basic.Nack | basic.Reject):
        return Refusal(RefusalKind.NACKED, f"nacked by the broker ({type(frame).__name__})")
    return None
