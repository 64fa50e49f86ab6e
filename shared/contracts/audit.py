"""Audit contracts, version 1: reading the log is itself on the log."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.scalars import Flag


class AuditAccessedV1(BaseModel):
    """Event ``audit.accessed``: someone read the event log (export, verify, replay...)."""

    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(description="Who read it (a directory person, or cli:<user>)")
    via: str = Field(pattern="^(api|cli|board)$")
    action: str = Field(max_length=50, description="export, verify, head, replay, explain, list")
    filters: dict[str, str] = Field(default_factory=dict)
    protected_revealed: Flag = False
