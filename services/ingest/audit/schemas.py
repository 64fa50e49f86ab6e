"""Response models of the audit API (version 1): the event log as exported."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_RECORD_EXAMPLE: dict[str, Any] = {
    "seq": 42,
    "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "type": "alert.raised",
    "schema_version": 1,
    "occurred_at": "2026-11-23T10:00:00.000000+00:00",
    "recorded_at": "2026-11-23T10:00:00.125000+00:00",
    "producer": "ingest",
    "actor": "jo.operator",
    "correlation_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "causation_id": None,
    "classification": "confidential",
    "payload": {
        "alert_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "title": "Abduction reported near Mavivi",
        "sector": "beni",
        "source": "[redacted]",
    },
    "payload_sha256": "9b1f3c4e5d6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e",
    "redacted": ["source"],
    "protected_sha256": {"source": "9b1f" + "0" * 60},
    "prev_hash": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
}
_PAGE_EXAMPLE: dict[str, Any] = {"items": [_RECORD_EXAMPLE], "next_cursor": "c2VxOjQy"}


class AuditRecord(BaseModel):
    """One record of the log, exactly as ``shared.audit_export.exported`` gives it.

    Times are the ISO strings that were hashed; a redacted payload keeps its
    ``payload_sha256`` so the chain still verifies.
    """

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(description="Position in the log's one total order")
    event_id: str
    type: str
    schema_version: int
    occurred_at: str = Field(description="ISO 8601, UTC, microseconds (as hashed)")
    recorded_at: str = Field(description="When the router appended it (as hashed)")
    producer: str
    actor: str
    correlation_id: str
    causation_id: str | None
    classification: str
    payload: dict[str, Any] = Field(description="Protected fields read [redacted] if not cleared")
    payload_sha256: str = Field(
        description="SHA-256 of the canonical payload, each protected field standing as its digest"
    )
    redacted: list[str] = Field(description="The payload fields redacted for this reader")
    protected_sha256: dict[str, str] = Field(
        description="The digest of each protected field as stored (sealed): the record verifies "
        "whether it is shown redacted or opened"
    )
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of ``GET /v1/audit/events``: records in ``seq`` order."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PAGE_EXAMPLE]})

    items: list[AuditRecord]
    next_cursor: str | None = Field(description="Pass back as ``cursor`` for the next page")

    @classmethod
    def example(cls) -> dict[str, Any]:
        """An example for the OpenAPI document."""
        return _PAGE_EXAMPLE
