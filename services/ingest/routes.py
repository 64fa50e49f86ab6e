"""The public HTTP API v1: every domain's routes mounted under one router."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from services.ingest.alerts.cap_routes import partner_router
from services.ingest.alerts.cap_routes import router as cap_router
from services.ingest.alerts.routes import router as alert_router
from services.ingest.audit.routes import router as audit_router
from services.ingest.messages.routes import router as message_router
from services.ingest.rate_limit import DEFAULT_RATE_LIMIT, PersonRateLimiter
from services.ingest.recommendations.routes import router as recommendation_router
from services.ingest.reports.routes import router as report_router
from services.ingest.stream.routes import router as stream_router
from shared.problems import COMMON_PROBLEM_RESPONSES


def include_routes(app: FastAPI, *, rate_limit: str = DEFAULT_RATE_LIMIT) -> None:
    """Mount the v1 API on ``app``: every route rate-limited per person, errors documented.

    ``rate_limit`` is per person (``"120/minute"``); the limiter is ``app.state.rate_limiter``.
    """
    app.state.rate_limiter = PersonRateLimiter(rate_limit)
    # Every v1 router under one, so the limit and the problem responses are added in this
    # one place, for routes added later too.
    v1 = APIRouter()
    for part in (
        alert_router,
        cap_router,
        message_router,
        recommendation_router,
        report_router,
        audit_router,
        stream_router,
        partner_router,  # partners' token, not a person's: checked by its own dependency
    ):
        v1.include_router(part)
    # Every route's caller is authenticated and rate-limited by its route class
    # (services.ingest.caller), before the body is read; partners' routes read no body.
    app.include_router(v1, responses=COMMON_PROBLEM_RESPONSES)
