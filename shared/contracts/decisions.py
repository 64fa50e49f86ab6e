"""Transport contract, version 1: the router's events of one transaction, for ingest's views.

Every event the router decides in one transaction that ingest's read side takes
travels to it in one ``router.decisions`` message, in the order they were
decided, instead of one message each: a raised alert's ``alert.triggered``,
``notification.requested`` and ``alert.state_changed`` (and, under load, those
of a whole batch of alerts) are one publish and one delivery, not three
(docs/performance.md). It is transport only: each event is on the log as itself,
and consumers see the events (``shared.decisions.unpack``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RouterDecisionsV1(BaseModel):
    """Message ``router.decisions``: envelopes (as JSON), in the order the router decided."""

    model_config = ConfigDict(extra="forbid")

    events: list[dict[str, Any]] = Field(min_length=1)
