"""The envelope every message on the bus travels in (docs/design.md#the-envelope)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


class Classification(StrEnum):
    """UN ST/SGB/2007/6 classification levels, in increasing order."""

    UNCLASSIFIED = "unclassified"
    CONFIDENTIAL = "confidential"
    STRICTLY_CONFIDENTIAL = "strictly_confidential"


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _representable_in_utc(value: datetime) -> datetime:
    # 9999-12-31T23:59-14:00 is a valid aware time that UTC cannot hold: refuse it at the
    # edge (422) instead of failing in the database layer (500).
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range once converted to UTC") from None
    return value


#: An aware time (with its zone) that converts to UTC: every time field of the contracts.
Moment = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]


class Envelope(BaseModel):
    """One message on the bus; ``payload`` is the typed content named by ``type``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: UUID = Field(default_factory=uuid4)
    type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(default=1, ge=1)
    occurred_at: Moment = Field(default_factory=utc_now)
    producer: str = Field(min_length=1, max_length=50)
    actor: str = Field(min_length=1, max_length=200)
    correlation_id: UUID
    causation_id: UUID | None = None
    classification: Classification = Classification.UNCLASSIFIED
    payload: dict[str, Any]

    def caused(
        self,
        type: str,  # noqa: A002 - the envelope field is called type
        payload: BaseModel,
        *,
        producer: str,
        actor: str | None = None,
        schema_version: int = 1,
    ) -> Envelope:
        """A new envelope in the same thread, caused by this one."""
        return Envelope(
            type=type,
            schema_version=schema_version,
            producer=producer,
            actor=actor or producer,
            correlation_id=self.correlation_id,
            causation_id=self.id,
            classification=self.classification,
            payload=payload.model_dump(mode="json"),
        )
