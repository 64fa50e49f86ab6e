"""Exporting the event log for auditors (JSON Lines, CSV) and verifying an export.

Each exported record carries its chain links (``prev_hash``, ``hash``) and its
``payload_sha256``. Protected fields (an alert's ``source``) are redacted for a
reader not cleared for them (the payload then lists them in ``redacted``), and
opened with the key ring for a cleared one (``shared.source_protection``: the
log holds them sealed). Either way the export gives each protected field's
digest as stored (``protected_sha256``), which stands in for it when the chain
is checked: the log hashed the sealed form, not what the reader is shown. An
export re-verifies: each record against its own hash, and each record against
the one before it where both are there (an export filtered by alert or type has
gaps, which are not errors).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from shared.contracts import AUDIT_ACCESSED
from shared.contracts.audit import AuditAccessedV1
from shared.envelope import Classification, Envelope
from shared.event_log import (
    PROTECTED_FIELDS,
    LogRecord,
    Problem,
    field_digest,
    fields_of,
    payload_digest,
    record_hash,
)
from shared.source_protection import (
    SealedSource,
    SourceKeyRing,
    SourceNotAuthentic,
    UnknownSourceKey,
)

REDACTED = "[redacted]"
# A cleared reader's view of a source whose key was retired (crypto-shredded) or that
# does not authenticate: the record still verifies through its protected_sha256.
UNREADABLE = "[unreadable]"

CSV_COLUMNS = (
    "seq",
    "event_id",
    "type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "producer",
    "actor",
    "correlation_id",
    "causation_id",
    "classification",
    "payload",
    "payload_sha256",
    "redacted",
    "protected_sha256",
    "prev_hash",
    "hash",
)


def access_event(
    *,
    producer: str,
    person_id: str,
    via: str,
    action: str,
    filters: dict[str, str],
    revealed: bool,
) -> Envelope:
    """``audit.accessed``: reading the log is itself on the log (the router appends it)."""
    access = AuditAccessedV1(
        person_id=person_id,
        via=via,
        action=action,
        filters=filters,
        protected_revealed=revealed,
    )
    return Envelope(
        type=AUDIT_ACCESSED,
        producer=producer,
        actor=person_id,
        correlation_id=uuid4(),
        payload=access.model_dump(mode="json"),
    )


def may_see_protected(clearance: Classification) -> bool:
    """Only STRICTLY CONFIDENTIAL clearance sees protected fields."""
    return clearance is Classification.STRICTLY_CONFIDENTIAL


def exported(
    record: LogRecord, *, reveal_protected: bool, keys: SourceKeyRing | None = None
) -> dict[str, Any]:
    """One record as exported: fields, payload, digests, links.

    Protected fields read ``[redacted]`` unless ``reveal_protected``; then a sealed
    source is opened with ``keys`` (required for it), or reads ``[unreadable]`` when
    its key was retired. ``protected_sha256`` always gives the stored value's digest.
    """
    fields = fields_of(record)
    payload = dict(record.payload)
    protected = sorted(k for k in payload if k in PROTECTED_FIELDS)
    redacted: list[str] = []
    for key in protected:
        shown = _revealed(payload, key, keys) if reveal_protected else REDACTED
        if shown in (REDACTED, UNREADABLE):  # a tuple: an opened source is a dict
            redacted.append(key)
        payload[key] = shown
    return {
        **fields,
        "payload": payload,
        "payload_sha256": payload_digest(record.payload),
        "redacted": redacted,
        # The digest of each protected value as stored (sealed): with it the record
        # verifies whether the value is shown redacted, opened, or as it is.
        "protected_sha256": {key: field_digest(record.payload[key]) for key in protected},
    }


def _revealed(payload: Mapping[str, Any], key: str, keys: SourceKeyRing | None) -> Any:
    """A protected value for a cleared reader: a sealed source opened, anything else as is."""
    value = payload[key]
    try:
        sealed = SealedSource.model_validate(value)
    except ValidationError:
        return value  # not sealed: absent (None), or plaintext on a log from before sealing
    if keys is None:
        raise ValueError("revealing a sealed source needs the source key ring")
    try:
        alert_id = UUID(str(payload["alert_id"]))  # the sealed source is bound to it
        return keys.open(sealed, alert_id).model_dump(mode="json")
    except (KeyError, ValueError, UnknownSourceKey, SourceNotAuthentic):
        return UNREADABLE


def to_json_line(item: Mapping[str, Any]) -> str:
    """One JSON Lines line (no newline)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def csv_header() -> str:
    """The CSV header line (with its newline)."""
    return _csv_line(list(CSV_COLUMNS))


def to_csv_line(item: Mapping[str, Any]) -> str:
    """One CSV line (with its newline); the payload and ``redacted`` are JSON text."""
    values = [
        json.dumps(item[c], ensure_ascii=False, separators=(",", ":"))
        if c in {"payload", "redacted", "protected_sha256"}
        else ("" if item[c] is None else str(item[c]))
        for c in CSV_COLUMNS
    ]
    return _csv_line(values)


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def read_export(text: str) -> Iterator[dict[str, Any]]:
    """Records of an export, JSON Lines or CSV (told apart by the first line)."""
    lines = text.splitlines()
    if lines and lines[0].startswith("seq,"):
        for row in csv.DictReader(io.StringIO(text)):
            item: dict[str, Any] = dict(row)
            item["seq"] = int(row["seq"])
            item["schema_version"] = int(row["schema_version"])
            item["causation_id"] = row["causation_id"] or None
            item["payload"] = json.loads(row["payload"])
            item["redacted"] = json.loads(row["redacted"])
            item["protected_sha256"] = json.loads(row["protected_sha256"])
            yield item
        return
    for line in lines:
        if line.strip():
            yield json.loads(line)


def verify_export(items: Iterable[Mapping[str, Any]]) -> tuple[int, Problem | None]:
    """Check an export; the number of records checked and the first problem, if any."""
    checked = 0
    previous: Mapping[str, Any] | None = None
    for item in items:
        seq = int(item["seq"])
        digest = str(item["payload_sha256"])
        # Protected fields count by their stored digest: the log hashed the sealed form,
        # and the reader sees it redacted or opened.
        if payload_digest(item["payload"], item.get("protected_sha256")) != digest:
            return checked, Problem(seq, "its payload does not match payload_sha256 (altered?)")
        if record_hash(item, digest, str(item["prev_hash"])) != item["hash"]:
            return checked, Problem(seq, "its content does not match its hash (altered?)")
        if previous is not None:
            if seq <= int(previous["seq"]):
                return checked, Problem(seq, "it is out of order")
            if seq == int(previous["seq"]) + 1 and item["prev_hash"] != previous["hash"]:
                return checked, Problem(seq, "it does not follow the record before it")
        previous = item
        checked += 1
    return checked, None
