"""``/healthz``, ``/readyz`` and ``/metrics`` for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.metrics import service_registry

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
DEGRADED = "degraded"  # a check's value starting with it: working, but look (still 200)


class JSONLineResponse(JSONResponse):
    """JSON ending with a newline, so ``curl`` leaves the shell prompt on its own line."""

    def render(self, content: Any) -> bytes:
        """The JSON body and a newline."""
        return super().render(content) + b"\n"


def scope_metrics(app: FastAPI, service: str) -> None:
    """Make ``app``'s ``/metrics`` show ``service``'s own series (``shared.metrics``).

    Without it, ``/metrics`` shows the whole process's registry.
    """
    app.state.metrics_service = service


def health_routes(readiness: ReadinessCheck) -> APIRouter:
    """Routes for liveness, readiness (each dependency named) and Prometheus metrics."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_class=JSONLineResponse)
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONLineResponse:
        """200 when every dependency answers (``degraded`` too), 503 naming those that do not."""
        checks = await readiness()
        status = readiness_status(checks)
        ready = status != "unavailable"
        return JSONLineResponse(
            {"status": status, "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus exposition of this service's metrics (``scope_metrics``)."""
        service: str | None = getattr(request.app.state, "metrics_service", None)
        exposition = generate_latest(service_registry(service)) if service else generate_latest()
        return Response(exposition, media_type=CONTENT_TYPE_LATEST)

    return router


def readiness_status(checks: dict[str, str]) -> str:
    """``ok``, ``degraded`` (every check ok or ``degraded: ...``) or ``unavailable``.

    Degraded still serves (200): a service with parked outbox rows works, and taking
    it out of the load balancer would not bring them back; the check says why.
    """
    if all(value == "ok" for value in checks.values()):
        return "ok"
    if all(value == "ok" or value.startswith(DEGRADED) for value in checks.values()):
        return DEGRADED
    return "unavailable"


async def check_value(probe: Callable[[], Awaitable[str]], within: float = 2.0) -> str:
    """What ``probe`` answers (``"ok"``, ``"degraded: ..."``) in time, else why it did not."""
    try:
        return await asyncio.wait_for(probe(), within)
    except TimeoutError:
        return "timeout"
    except Exception as error:  # noqa: BLE001 - readiness reports any failure, it never raises
        return f"error: {type(error).__name__}"


async def check(probe: Callable[[], Awaitable[None]], within: float = 2.0) -> str:
    """``"ok"`` when ``probe`` finishes in time, otherwise the reason it did not."""
    try:
        await asyncio.wait_for(probe(), within)
    except TimeoutError:
        return "timeout"
    except Exception as error:  # noqa: BLE001 - readiness reports any failure, it never raises
        return f"error: {type(error).__name__}"
    return "ok"
