"""Coordination-message contracts, version 1 (docs/design.md#kinds-of-content).

Ingest accepts a message and publishes ``message.sent``; the router, the
authority, resolves the addressees against the directory, filters them by
clearance, and answers with ``message.addressed``. Read receipts and
acknowledgements are commands (``message.mark_read``, ``message.acknowledge``)
the router records; an unacknowledged ``requires_ack`` message escalates to the
addressee's superior (``message.escalated``). ``message.state_changed`` carries
the whole state for the read side.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.commands import Refusal
from shared.contracts.scalars import Flag, Integer
from shared.envelope import Classification, Moment


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Addressees(_Contract):
    """Who a message is for: any mix of components, roles, persons and sectors.

    ``persons`` are always included. The selectors combine as people read them:
    ``components`` and ``roles`` and ``sectors`` narrow each other (AND), each
    list is a choice (OR). ``{components: [military], sectors: [beni]}`` is the
    military in Beni; ``{roles: [sector_commander]}`` is every sector commander.
    """

    components: list[str] = Field(default_factory=list, max_length=10)
    roles: list[str] = Field(default_factory=list, max_length=50)
    persons: list[str] = Field(default_factory=list, max_length=500)
    sectors: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _names_someone(self) -> Addressees:
        if not (self.components or self.roles or self.persons or self.sectors):
            raise ValueError("name at least one component, role, person or sector")
        return self


class MessageSentV1(_Contract):
    """Event ``message.sent`` (ingest accepted a message)."""

    message_id: UUID
    sender: str
    to: Addressees
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    classification: Classification
    thread_id: UUID
    in_reply_to: UUID | None = None
    requires_ack: Flag = False
    ack_due_at: Moment | None = None

    @model_validator(mode="after")
    def _due_time_with_ack(self) -> MessageSentV1:
        if self.requires_ack and self.ack_due_at is None:
            raise ValueError("requires_ack needs ack_due_at")
        return self


class MarkReadV1(_Contract):
    """Command ``message.mark_read``: an addressee opened the message."""

    message_id: UUID
    person_id: str


class AcknowledgeMessageV1(_Contract):
    """Command ``message.acknowledge``."""

    message_id: UUID
    person_id: str


class Delivery(_Contract):
    """Whether one resolved addressee gets the message, and if not why."""

    person_id: str
    delivered: Flag
    reason: str | None = None


class MessageAddressedV1(_Contract):
    """Event ``message.addressed``: who gets it; the rest are named with the reason."""

    message_id: UUID
    deliveries: list[Delivery]


class MessageReadV1(_Contract):
    """Event ``message.read``: the first read of one addressee."""

    message_id: UUID
    person_id: str


class MessageAcknowledgedV1(_Contract):
    """Event ``message.acknowledged``: one addressee acknowledged."""

    message_id: UUID
    person_id: str
    late: Flag


class MessageEscalatedV1(_Contract):
    """Event ``message.escalated``: an addressee did not acknowledge in time."""

    message_id: UUID
    person_id: str = Field(description="The addressee who has not acknowledged")
    level: Integer = Field(ge=1, description="1: their superior; 2: the superior's superior...")
    superiors: list[str] = Field(description="Who was told; empty: nobody, the JOC was told")
    next_escalation_at: Moment | None


class MessageCommandRejectedV1(_Contract):
    """Event ``message.command_rejected``: the router refused a command, and why."""

    message_id: UUID
    command: str
    person_id: str
    reason: str
    refusal: Refusal = Refusal.WRONG_STATE


class AddresseeState(_Contract):
    """One addressee's status, as readers see it."""

    person_id: str
    delivered: Flag
    reason: str | None = None
    read_at: Moment | None = None
    acknowledged_at: Moment | None = None
    escalation_level: Integer = 0
    escalated_to: list[str] = Field(default_factory=list)
    escalation_ended: Flag = Field(
        default=False, description="The chain of command ran out; the JOC was told"
    )


class MessageStateV1(_Contract):
    """Event ``message.state_changed``: the whole per-addressee state after a change.

    ``version`` grows with every change, so a reader keeps the newest state.
    """

    message_id: UUID
    version: Integer = Field(ge=1)
    addressees: list[AddresseeState]
    next_escalation_at: Moment | None
