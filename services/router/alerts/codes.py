"""Short codes: the four digits an SMS reply names an alert by (``ACK 4821``).

A code is unique among open alerts, so a reply names one alert, and free again once its
alert is resolved, so 9,000 codes serve a mission indefinitely. Codes are drawn at
random rather than in sequence: a mistyped digit then rarely lands on another open alert
(and when it does, the sender must still be on that alert's chain to act on it).
"""

from __future__ import annotations

import random

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.tables import OpenAlertCode
from shared.db import insert_ignoring_duplicates
from shared.sms.replies import CODE_DIGITS

FIRST_CODE = 10 ** (CODE_DIGITS - 1)  # no leading zero: phones and people drop it
LAST_CODE = 10**CODE_DIGITS - 1
RANDOM_TRIES = 8  # before looking for a free code in order (a mission with thousands open)

_draw = random.SystemRandom()


async def _take(session: AsyncSession, code: int, alert_id: str) -> bool:
    return await insert_ignoring_duplicates(
        session,
        OpenAlertCode.__table__,  # type: ignore[arg-type]
        {"code": str(code), "alert_id": alert_id},
    )


async def allocate_code(session: AsyncSession, alert_id: str) -> str | None:
    """Take a code no open alert holds for ``alert_id``; None if every code is taken."""
    for _ in range(RANDOM_TRIES):
        code = _draw.randint(FIRST_CODE, LAST_CODE)
        if await _take(session, code, alert_id):
            return str(code)
    taken = set((await session.execute(select(OpenAlertCode.code))).scalars())
    for code in range(FIRST_CODE, LAST_CODE + 1):
        if str(code) not in taken and await _take(session, code, alert_id):
            return str(code)
    return None


async def release_code(session: AsyncSession, alert_id: str) -> None:
    """Free the code of ``alert_id`` (resolved): another alert may take it."""
    await session.execute(delete(OpenAlertCode).where(OpenAlertCode.alert_id == alert_id))


async def alert_of_code(session: AsyncSession, code: str) -> str | None:
    """The id of the open alert holding ``code``, if one does."""
    return (
        await session.execute(select(OpenAlertCode.alert_id).where(OpenAlertCode.code == code))
    ).scalar_one_or_none()
