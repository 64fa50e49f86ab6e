"""Process-level harness of the end-to-end tests: small helpers, and where the rest lives.

- tests/support/receiver.py: :class:`~tests.support.receiver.WebhookReceiver`, an in-process
  asyncio HTTP/1.1 server that records every webhook as a
  :class:`~tests.support.receiver.Receipt`, and the signature scheme (``sign``).
- tests/e2e/system.py: :class:`~tests.e2e.system.System`, the three services as separate
  ``coord run`` processes (migrate, start, kill, restart, replicas, logs, API clients).
- tests/e2e/pool.py: :class:`~tests.e2e.pool.SystemPool`, the systems of a test session,
  each started once and shared by the tests of its :class:`~tests.e2e.pool.SystemSpec`.
- tests/support/directories.py: ``directory_for``, the e2e directory
  (tests/data/e2e_directory.yaml) with its webhooks pointing at a receiver.
- here: :func:`wait_until` (bounded polling; timeouts are generous upper bounds for
  liveness, never performance assertions), :func:`alert_body`.

Everything talks to the system through its external contract (docs/contract.md) only.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# People of the e2e directory who have a webhook contact: it points at the receiver.
WEBHOOK_PEOPLE = (
    "awa.hfo",
    "lucas.ho",
    "grace.dsrsg",
    "col.okafor",
    "insp.diallo",
    "gen.force",
    "lt.mbeki",
)


async def wait_until(
    predicate: Callable[[], Any | Awaitable[Any]],
    timeout: float = 30.0,  # noqa: ASYNC109 - a polling bound
    interval: float = 0.1,
    message: str | Callable[[], str] | None = None,
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
) -> Any:
    """Poll ``predicate`` (sync or async) until it returns a truthy value, which is returned.

    Exceptions listed in ``retry_on`` count as "not yet" (the last one is reported).
    On timeout raises AssertionError with ``message`` and the last result/exception.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last = result
        except retry_on as error:
            last = error
        if time.monotonic() >= deadline:
            text = (
                message()
                if callable(message)
                else (message or getattr(predicate, "__name__", "condition"))
            )
            raise AssertionError(f"not met within {timeout}s: {text} (last: {last!r})")
        await asyncio.sleep(interval)


def alert_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/alerts`` body; any field can be overridden."""
    body: dict[str, Any] = {
        "title": "Armed men seen near the market",
        "description": "Reported by the community alert network.",
        "category": "abduction",
        "severity": "severe",
        "urgency": "immediate",
        "certainty": "observed",
        "sector": "beni",
        "location": {"name": "Beni, Mavivi market", "lat": 0.4911, "lon": 29.4731},
        "origin": "community",
    }
    body.update(overrides)
    return body


def new_idempotency_key() -> str:
    return f"e2e-{uuid.uuid4()}"
