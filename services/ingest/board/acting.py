"""A command posted from a page: checked against the permissions table, staged, decided.

Every board form that acts (acknowledge, resolve, respond...) goes through :func:`act`:
the same permission check as the API's routes, the same staging functions, and the
router's verdict told on the page the post redirects to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

from fastapi import status
from fastapi.responses import RedirectResponse

from services.ingest.answers import decide
from services.ingest.board.flash import Flash, flash
from services.ingest.board.session import Visitor, safe_next
from shared.permissions import Action, refusal


def back_to(back: str, notice: Flash) -> RedirectResponse:
    """Redirect (303) to ``back``, a path of this site, telling ``notice`` there."""
    response = RedirectResponse(safe_next(back), status_code=status.HTTP_303_SEE_OTHER)
    flash(response, notice)
    return response


async def act(
    visitor: Visitor,
    action: Action,
    code: str,
    stage: Callable[[], Awaitable[UUID]],
    back: str,
) -> RedirectResponse:
    """Stage a command, wait for the router's verdict, go back to ``back`` saying it.

    ``code`` names what was done for the page (``acknowledged``...). The permissions
    table is checked first, as the API's routes do; the rest is the router's to decide.
    """
    if not visitor.may(action):
        return back_to(back, Flash("refused", code, refusal(visitor.person, action)))
    try:
        decision = await decide(visitor.context, stage())
    except LookupError as error:
        return back_to(back, Flash("refused", code, str(error)))
    if decision.accepted is None:
        return back_to(back, Flash("pending", code))
    if decision.accepted:
        return back_to(back, Flash("done", code))
    return back_to(back, Flash("refused", code, decision.reason))
