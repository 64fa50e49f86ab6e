"""The message bus as the services use it, whichever broker is behind it.

``shared.bus.Bus`` (RabbitMQ through aio-pika) is the one the services run on;
``shared.memory_bus.MemoryBus`` keeps the same promises in-process, so the
cross-service scenarios run without a broker (tests/scenarios). Both satisfy
``MessageBus``; the services, their infrastructure and the outbox relay name
only this protocol, and a unit is handed another bus through its constructor.

The promises a bus keeps, whatever is behind it:

- ``publish_each`` routes a message by its routing key (the event type) to every
  queue bound to it (AMQP topic matching) and answers per message: None when it
  was taken, else the error; a message no queue takes is refused as unroutable
  (``shared.refusals.refusal_of`` says so), never dropped silently;
- ``consume`` delivers each message of a queue to its handler at least once: a
  handler that raises (``TryAgainLater`` or any error) gets it again after a
  back-off, until the delivery limit dead-letters it;
- ``consume_batches`` does the same with several messages per call (one transaction
  for what arrived meanwhile); a batch that fails is handled message by message;
- ``subscribe`` gives a handler a live copy of what matches, for this process only;
  its ``LiveFeed`` pauses (nothing is routed to it, nothing queued) and resumes, so a
  replica with no live client costs the broker and itself nothing per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shared.bus import OutgoingMessage, PublishOutcome, QueueSpec
from shared.consumer import BatchHandler, Handler


class LiveFeed(Protocol):
    """A subscription's switch: events flow to it only while it is resumed."""

    async def pause(self) -> None:
        """Stop routing events to it; what comes meanwhile is not kept."""

    async def resume(self) -> None:
        """Route events to it again, from now on."""


class MessageBus(Protocol):
    """What a service needs of its bus (``shared.bus.Bus``, ``shared.memory_bus.MemoryBus``)."""

    @property
    def is_connected(self) -> bool:
        """True while messages can be published (readiness, the outbox relay)."""

    async def connect(self) -> None:
        """Connect and declare the topology (every queue of ``shared.bus.TOPOLOGY``)."""

    async def close(self, grace: float = 10.0) -> None:
        """Let handlers under way finish (up to ``grace`` seconds), then disconnect."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish and wait until every message was taken; raise the first failure."""

    async def publish_each(
        self, messages: Sequence[OutgoingMessage], *, within: float | None = None
    ) -> list[PublishOutcome]:
        """Publish; each message's outcome, in order (None = taken), each within ``within`` s."""

    async def consume(self, spec: QueueSpec, handler: Handler) -> None:
        """Deliver every message of ``spec``'s queue to ``handler``, at least once."""

    async def consume_batches(self, spec: QueueSpec, handler: BatchHandler, size: int) -> None:
        """Deliver ``spec``'s messages to ``handler`` up to ``size`` at a time, at least once."""

    async def subscribe(self, bindings: Sequence[str], handler: Handler) -> LiveFeed:
        """Give ``handler`` a live copy of every event matching ``bindings`` (topic patterns)."""
