"""Outbox contracts, version 1: a row the broker refused for good, and what an operator did.

A relay parks a row the broker will never take (unroutable, too large, nacked
again and again) instead of retrying it forever; ``coord outbox retry|drop``
then puts it back or deletes it. Each step is on the router's event log, with
the parked message's id as correlation id, so a row's story reads in one thread.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OutboxParkedV1(BaseModel):
    """Event ``outbox.parked``: a service moved a row out of its outbox, unpublished."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(max_length=50, description="Whose outbox: ingest, router, notifier")
    message_id: str = Field(max_length=36, description="The parked envelope's id")
    routing_key: str = Field(max_length=100)
    reason: str = Field(max_length=2000, description="Why the broker will not take it")


class OutboxRowHandledV1(BaseModel):
    """Events ``outbox.retried`` / ``outbox.dropped``: an operator acted on a parked row."""

    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(max_length=200, description="Who ran coord outbox retry|drop")
    service: str = Field(max_length=50)
    message_id: str = Field(max_length=36)
    routing_key: str = Field(max_length=100)
    reason: str = Field(max_length=2000, description="Why it had been parked")
