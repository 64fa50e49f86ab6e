"""Requests per person: a moving window per authenticated person, 429 over it.

The window lives in this process's memory, so the limit holds per ingest replica
(``COORD_RATE_LIMIT``, the ``limits`` notation: ``"120/minute"``). It is keyed by the
person the bearer token speaks for, not by address: a JOC behind one NAT is many people.
"""

from __future__ import annotations

import math
import time

from fastapi import HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from services.ingest.deps import CurrentPerson
from shared.settings import Settings

DEFAULT_RATE_LIMIT: str = Settings.model_fields["rate_limit"].default


class RateLimited(HTTPException):
    """429: the person sent more requests than the limit in the window."""


class PersonRateLimiter:
    """A moving-window limit per person id (``"120/minute"``)."""

    def __init__(self, limit: str) -> None:
        self.limit: RateLimitItem = parse(limit)
        # Moving window: no burst of twice the limit across a fixed window's edge.
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, person_id: str) -> None:
        """Count one request of ``person_id``; raise :class:`RateLimited` when over the limit."""
        if await self._limiter.hit(self.limit, person_id):
            return
        stats = await self._limiter.get_window_stats(self.limit, person_id)
        # Whole seconds, rounded up: retrying after Retry-After must not be refused again.
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit of {self.limit} per person exceeded; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


async def limit_rate(request: Request, person: CurrentPerson) -> None:
    """FastAPI dependency: count the request against its person's limit (after auth)."""
    limiter: PersonRateLimiter = request.app.state.rate_limiter
    await limiter.check(person.id)
