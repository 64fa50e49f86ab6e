"""Alert lifecycle contracts, version 1: commands to the router and its events.

Commands (imperative, from ingest): ``alert.acknowledge``, ``alert.resolve``,
``alert.add_note``, ``alert.release``. The router is the authority: it re-checks each
against the alert's policy snapshot and answers with an event, or with
``alert.command_rejected``.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.commands import Refusal
from shared.contracts.scalars import Flag, Integer
from shared.envelope import Moment


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


# An SMS to a village: one GSM-7 segment and a little (the board counts as you type).
COMMUNITY_MESSAGE_MAX = 300


class AcknowledgeAlertV1(_Contract):
    """Command ``alert.acknowledge``."""

    alert_id: UUID
    person_id: str
    community_message: str | None = Field(
        default=None,
        min_length=1,
        max_length=COMMUNITY_MESSAGE_MAX,
        description="What the officer releases to the community member who reported the "
        "alert (SMS); only alerts raised by a community contact have someone to tell",
    )


class SmsReceivedV1(_Contract):
    """Event ``sms.received``: an SMS reached the gateway, and what coord did with it.

    Staged by ingest, with the command it carries if any, in one transaction. It names
    the person the number belongs to, never the number, and not the text (a reply is a
    keyword and a code: ``action`` and ``code`` say it all).
    """

    gateway_id: str = Field(description="Kannel's id of the SMS (%I)")
    person_id: str | None = Field(description="Whose sms contact sent it; None: unknown")
    outcome: Literal[
        "staged",
        "unknown_sender",
        "not_understood",
        "unknown_alert",
        "which_alert",
        "none_open",
        "community_alert",  # from a community contact: alert_id raised, receipt sent
        "triaged",  # from an unknown number: triage_id waits for a CLA
    ]
    contact_id: str | None = Field(
        default=None, description="The community contact who sent it (never their number)"
    )
    triage_id: UUID | None = None
    action: Literal["acknowledge", "resolve"] | None = None
    code: str | None = None
    alert_id: UUID | None = None
    command_id: UUID | None = None


class SmsTriagedV1(_Contract):
    """Event ``sms.triaged``: a CLA decided on an SMS from an unknown number.

    ``promoted``: raised as ``alert_id``, the sender sealed as its source. ``dismissed``:
    with the CLA's reason. Neither the number nor the text: they stay sealed in triage.
    """

    triage_id: UUID
    person_id: str
    outcome: Literal["promoted", "dismissed"]
    reason: str = Field(default="", max_length=500)
    alert_id: UUID | None = None


class ActionLinkUsedV1(_Contract):
    """Event ``alert.link_used``: a person confirmed the one-time link of a page.

    Staged by ingest in the transaction that spends the link (and stages the command it
    carries), so the log shows every use, including a second try of a spent link.
    """

    alert_id: UUID
    person_id: str
    action: str = Field(max_length=30, description="What the link does: acknowledge")
    link: str = Field(max_length=32, description="The link's nonce: which page's link it was")
    outcome: Literal["staged", "already_used"]
    command_id: UUID | None = Field(description="The command it staged (None: none)")


class ResolveAlertV1(_Contract):
    """Command ``alert.resolve``."""

    alert_id: UUID
    person_id: str
    note: str = Field(default="", max_length=5000)
    community_message: str | None = Field(
        default=None,
        min_length=1,
        max_length=COMMUNITY_MESSAGE_MAX,
        description="As for alert.acknowledge: what the reporter is told, chosen by a person",
    )


class AddNoteV1(_Contract):
    """Command ``alert.add_note``."""

    alert_id: UUID
    person_id: str
    text: str = Field(min_length=1, max_length=5000)


class ReleaseAlertV1(_Contract):
    """Command ``alert.release``: onto partners' CAP feed (docs/cap.md, "The partner feed")."""

    alert_id: UUID
    person_id: str


class AlertEscalatedV1(_Contract):
    """Event ``alert.escalated``: nobody acknowledged in time; the next level is paged too."""

    alert_id: UUID
    level: Integer = Field(ge=1)
    loop: Integer = Field(ge=0)
    targets: list[str]
    next_escalation_at: Moment | None


class AcknowledgementRecordedV1(_Contract):
    """Event ``alert.acknowledgement_recorded``: one ack of a quorum level; more are needed."""

    alert_id: UUID
    person_id: str
    component: str
    missing_components: list[str]


class AlertAcknowledgedV1(_Contract):
    """Event ``alert.acknowledged``: escalation stops."""

    alert_id: UUID
    person_id: str
    acknowledged_by: list[str]
    ack_timeout_at: Moment | None


class AlertRetriggeredV1(_Contract):
    """Event ``alert.retriggered``: acknowledged but not resolved within the ack timeout."""

    alert_id: UUID
    level: Integer = Field(ge=1)
    targets: list[str]
    next_escalation_at: Moment | None


class EscalationExhaustedV1(_Contract):
    """Event ``alert.escalation_exhausted``: every level and loop passed unacknowledged."""

    alert_id: UUID
    loops: Integer = Field(ge=1)


class AlertResolvedV1(_Contract):
    """Event ``alert.resolved``: final."""

    alert_id: UUID
    person_id: str
    note: str = ""


class NoteAddedV1(_Contract):
    """Event ``alert.note_added``."""

    alert_id: UUID
    person_id: str
    text: str


class AlertReleasedV1(_Contract):
    """Event ``alert.released``: partners' CAP feed carries the alert from now on."""

    alert_id: UUID
    person_id: str


class AlertMergedV1(_Contract):
    """Event ``alert.merged`` on the open alert: a duplicate was folded into it."""

    alert_id: UUID
    duplicate_alert_id: UUID
    dedup_key: str
    count: Integer = Field(ge=2)


class AlertDeduplicatedV1(_Contract):
    """Event ``alert.deduplicated`` on the duplicate: it lives on as ``merged_into``."""

    alert_id: UUID
    merged_into: UUID
    dedup_key: str


class CommandRejectedV1(_Contract):
    """Event ``alert.command_rejected``: the router refused a command, and why."""

    alert_id: UUID
    command: str
    person_id: str
    reason: str
    refusal: Refusal = Refusal.WRONG_STATE


class AcknowledgementView(_Contract):
    """One acknowledgement, as readers see it."""

    person_id: str
    component: str
    at: Moment


class AlertStateV1(_Contract):
    """Event ``alert.state_changed``: the whole state after a transition.

    ``version`` grows with every transition of the alert, so a reader keeps the
    newest state whatever order the events reach it in.
    """

    alert_id: UUID
    version: Integer = Field(ge=1)
    status: str
    policy_id: str | None
    level: Integer | None
    loop: Integer
    cycle: Integer
    exhausted: Flag
    next_escalation_at: Moment | None
    targets: list[str]
    chain: list[str]
    acknowledgements: list[AcknowledgementView]
    dedup_count: Integer = Field(ge=1)
    merged_into: UUID | None
    # The alert's short code while it is open (what an SMS reply names it by); None on
    # alerts from before codes. A resolved alert keeps it here, for its story.
    code: str | None = None
    # When it was released to partners (``alert.released``); None: it never was.
    released_at: Moment | None = None
