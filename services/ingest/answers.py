"""How the API answers a command: with the router's verdict on it.

- accepted: ``200`` and the subject as the caller now sees it (the verdict was
  recorded with its state, so this read shows the command's effect);
- rejected: the ``404`` / ``403`` / ``409`` of the router's ``Refusal``, with its reason;
- not decided within ``COORD_COMMAND_WAIT``: ``202`` with ``Location`` (the subject)
  and ``Retry-After``; the command is staged and will be decided.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.ingest.deps import ApiContext
from shared.contracts.commands import Refusal

T = TypeVar("T")

_STATUS = {
    Refusal.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    Refusal.NOT_ALLOWED: status.HTTP_403_FORBIDDEN,
    Refusal.WRONG_STATE: status.HTTP_409_CONFLICT,
}
RETRY_AFTER_SECONDS = 1


class CommandPending(BaseModel):
    """The command is staged; the router has not decided on it yet."""

    command_id: UUID
    status: str = Field(default="pending", description="Always 'pending'")
    detail: str = Field(description="What to do: read the subject at Location shortly")


def command_responses(subject: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answers of a command route on ``subject`` (besides 200)."""
    return {
        202: {
            "model": CommandPending,
            "description": "Staged, not decided yet: read the subject at Location after "
            "Retry-After seconds",
        },
        403: {"description": f"The router refused: not the caller's to do on this {subject}"},
        404: {"description": f"No such {subject}, or none the caller may see"},
        409: {"description": f"The router refused: the {subject}'s state does not allow it"},
    }


@dataclass(frozen=True)
class Decision:
    """The router's verdict on a staged command, as far as it is known.

    ``accepted`` None: not decided within ``COORD_COMMAND_WAIT`` (the command is staged
    and will be decided); False: refused with ``status`` (404 / 403 / 409) and ``reason``.
    """

    command_id: UUID
    accepted: bool | None
    status: int = status.HTTP_200_OK
    reason: str = ""


async def decide(context: ApiContext, staged: Awaitable[UUID]) -> Decision:
    """Stage a command (``staged``) and wait for the router's verdict on it.

    Raises:
        LookupError: the subject is unknown to ingest; nothing was staged.
    """
    command_id = await staged
    verdict = await context.verdicts.wait(command_id, context.command_wait)
    if verdict is None:
        return Decision(command_id, accepted=None, status=status.HTTP_202_ACCEPTED)
    if not verdict.accepted:
        refusal = verdict.refusal or Refusal.WRONG_STATE
        return Decision(
            command_id, accepted=False, status=_STATUS[refusal], reason=verdict.reason or "refused"
        )
    return Decision(command_id, accepted=True)


async def answer(
    context: ApiContext,
    staged: Awaitable[UUID],
    *,
    location: str,
    read: Callable[[], Awaitable[T]],
) -> T | JSONResponse:
    """Stage a command (``staged``), wait for the router's verdict, answer with it."""
    try:
        decision = await decide(context, staged)
    except LookupError as error:  # the subject is unknown to ingest: nothing was staged
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    if decision.accepted is None:
        pending = CommandPending(
            command_id=decision.command_id,
            detail=f"the router has not decided yet; read {location} for the outcome",
        )
        return JSONResponse(
            pending.model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": location, "Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if not decision.accepted:
        raise HTTPException(decision.status, decision.reason)
    return await read()
