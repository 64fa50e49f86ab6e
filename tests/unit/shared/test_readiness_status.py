"""``/readyz``'s status: ok, degraded (still 200: parked outbox rows), or unavailable (503)."""

from __future__ import annotations

import pytest

from shared.health import readiness_status


@pytest.mark.parametrize(
    ("checks", "status"),
    [
        ({"database": "ok", "broker": "ok", "outbox": "ok"}, "ok"),
        ({"database": "ok", "broker": "ok", "outbox": "degraded: 3 parked"}, "degraded"),
        ({"database": "timeout", "broker": "ok", "outbox": "degraded: 3 parked"}, "unavailable"),
        ({"database": "ok", "broker": "error: ConnectionError", "outbox": "ok"}, "unavailable"),
        ({"service": "starting"}, "unavailable"),
    ],
)
def test_readiness_status(checks: dict[str, str], status: str) -> None:
    assert readiness_status(checks) == status
