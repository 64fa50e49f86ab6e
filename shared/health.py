"""``/healthz``, ``/readyz`` and ``/metrics`` for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]


def health_routes(readiness: ReadinessCheck) -> APIRouter:
    """Routes for liveness, readiness (each dependency named) and Prometheus metrics."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when every dependency answers, 503 naming the ones that do not."""
        checks = await readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus exposition of this process's metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def check(probe: Callable[[], Awaitable[None]], within: float = 2.0) -> str:
    """``"ok"`` when ``probe`` finishes in time, otherwise the reason it did not."""
    try:
        await asyncio.wait_for(probe(), within)
    except TimeoutError:
        return "timeout"
    except Exception as error:  # noqa: BLE001 - readiness reports any failure, it never raises
        return f"error: {type(error).__name__}"
    return "ok"
