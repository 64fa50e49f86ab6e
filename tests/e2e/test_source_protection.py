"""End-to-end: an alert's source never shows in a log, a webhook or an uncleared export.

The three services run as separate processes (debug logging, a rotated key ring of the
test's own). An alert is raised with a source, pages awa.hfo by webhook, is
acknowledged and resolved, and the log is exported for an auditor not cleared STRICTLY
CONFIDENTIAL. Then every line the processes wrote (stdout and stderr of each service,
and of each ``coord`` command run) and every webhook received (headers and body) is
searched: the reporter's name and phone number appear nowhere. Last, an export for a
reader cleared STRICTLY CONFIDENTIAL shows the source opened: it travelled, sealed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.source_protection import new_key_line
from tests.e2e.harness import alert_body, wait_until
from tests.e2e.pool import SystemSpec
from tests.e2e.system import System
from tests.support.receiver import WebhookReceiver

NAME, PHONE = "Kahindo Mbusa", "+243 970 555 123"
SOURCE = {"name": NAME, "contact": PHONE}
SECRETS = (NAME, "Kahindo", "Mbusa", PHONE, "+243970555123", "970 555 123", "970555123")
# Rotated: the new key seals, the old one is kept to open what it sealed.
RING = f"{new_key_line('e2e-new')},{new_key_line('e2e-old')}"
AWA, JOC, AUDITOR, CLEARED = "awa.hfo", "jo.operator", "audit.one", "oios.chief"

# The system with this module's key ring, logging everything down to debug.
SOURCE_PROTECTION = SystemSpec(
    "source-protection", extra_env={"COORD_SOURCE_KEYS": RING, "COORD_LOG_LEVEL": "debug"}
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.system_spec(SOURCE_PROTECTION),
]


def everything_written(system: System) -> dict[str, str]:
    """What every process wrote: each service's stdout and stderr, each coord command's."""
    return {
        path.name: path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(system.log_dir.glob("*.log"))
    }


def everything_received(receiver: WebhookReceiver) -> dict[str, str]:
    """Every request the webhook receiver got: path, headers and body."""
    return {
        f"#{n} {r.method} {r.path}": json.dumps(r.headers) + "\n" + r.body.decode(errors="replace")
        for n, r in enumerate(receiver.requests, start=1)
    }


def leaks(texts: dict[str, str]) -> list[str]:
    return [f"{where}: {s!r}" for where, text in texts.items() for s in SECRETS if s in text]


def raised_record(export: str) -> dict[str, Any]:
    [record] = [r for r in map(json.loads, export.splitlines()) if r["type"] == "alert.raised"]
    return dict(record)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_the_source_is_in_no_log_no_webhook_and_no_uncleared_export(
    system: System, receiver: WebhookReceiver
) -> None:
    jo, awa = await system.client(JOC), await system.client(AWA)
    body = alert_body(title="Abduction reported by a CAN member", source=SOURCE)
    response = await system.raise_alert(jo, body)
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]

    async def status(expected: str) -> dict[str, Any]:
        view = await system.get_alert(jo, alert_id)
        assert view["status"] == expected, view["status"]
        return view

    await wait_until(lambda: receiver.receipts_for(AWA, alert_id, "page"), timeout=30)
    acknowledged = await awa.post(f"/v1/alerts/{alert_id}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged", acknowledged.text
    await wait_until(lambda: status("acknowledged"), timeout=30, message="acknowledged")
    resolved = await awa.post(f"/v1/alerts/{alert_id}/resolve", json={"note": "patrol sent"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved", resolved.text
    assert "source" not in resolved.json()
    view = await wait_until(lambda: status("resolved"), timeout=30, message="resolved")
    await wait_until(lambda: receiver.receipts_for(AWA, alert_id, "resolved"), timeout=30)

    uncleared = await system.run_coord("audit", "export", "--alert", alert_id, as_person=AUDITOR)
    record = raised_record(uncleared)
    assert (record["schema_version"], record["payload"]["source"]) == (2, "[redacted]")
    assert record["redacted"] == ["source"]
    assert set(record["protected_sha256"]) == {"source"}
    verified = await system.run_coord("audit", "verify", "--file", _saved(system, uncleared))
    assert verified.startswith("ok: "), verified

    kinds = {r.kind for r in receiver.receipts_for(alert_id=alert_id)}
    assert {"page", "resolved"} <= kinds, kinds
    assert "source" not in view
    written = everything_written(system)
    assert {"ingest.log", "router.log", "notifier.log", "coord-commands.log"} <= set(written)
    assert all(written.values()), [name for name, text in written.items() if not text]
    assert alert_id in written["router.log"]  # the correlation id of its work is logged
    assert leaks(everything_received(receiver)) == []
    assert leaks(written) == []
    answers = {"acknowledge": acknowledged.text, "resolve": resolved.text}
    assert leaks({"export": uncleared, "view": json.dumps(view), **answers}) == []

    # Not vacuous: the source did travel, sealed, and opens for the cleared reader alone.
    cleared = await system.run_coord("audit", "export", "--alert", alert_id, as_person=CLEARED)
    assert raised_record(cleared)["payload"]["source"] == SOURCE


def _saved(system: System, export: str) -> str:
    path = system.workdir / "uncleared-export.jsonl"
    path.write_text(export, encoding="utf-8")
    return str(path)
