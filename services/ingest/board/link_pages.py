"""The pages of a one-time link: ``GET /l/{token}`` asks, ``POST /l/{token}`` acts.

A GET never acts: mail scanners and chat previews open links. Confirming acts as the
person the link was made for, without a sign-in; the router still decides, and its
verdict is the answer.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from services.ingest.board import links
from services.ingest.board.pages import render
from services.ingest.board.session import keys_of
from services.ingest.deps import ApiContext, Context
from shared.action_links import ActionLink, InvalidLink, read_link_token

router = APIRouter(include_in_schema=False)

_REFUSAL_STATUS = {
    links.LinkRefusal.UNKNOWN_ALERT: status.HTTP_404_NOT_FOUND,
    links.LinkRefusal.NOT_FOR_YOU: status.HTTP_403_FORBIDDEN,
    links.LinkRefusal.RESOLVED: status.HTTP_409_CONFLICT,
    links.LinkRefusal.ALREADY_USED: status.HTTP_409_CONFLICT,
}


def _read(request: Request, token: str) -> ActionLink | HTMLResponse:
    try:
        return read_link_token(token, secret=keys_of(request).link_secret)
    except InvalidLink as error:
        return render(
            request,
            "link.html",
            None,
            status_code=status.HTTP_400_BAD_REQUEST,
            invalid=error.reason,
        )


def _refused(
    request: Request, refusal: links.LinkRefusal, target: links.LinkTarget | None = None
) -> HTMLResponse:
    return render(
        request,
        "link.html",
        None,
        status_code=_REFUSAL_STATUS[refusal],
        speaker=target.person if target else None,
        refusal=refusal.value,
    )


async def _link_and_target(
    request: Request, context: ApiContext, token: str
) -> tuple[ActionLink, links.LinkTarget] | HTMLResponse:
    """The valid link and what it acts on; the page saying why not, if not."""
    link = _read(request, token)
    if isinstance(link, HTMLResponse):
        return link
    target = await links.target_of(context.sessions, context.directory, link)
    if isinstance(target, links.LinkRefusal):
        return _refused(request, target)
    return link, target


@router.get("/l/{token}", response_class=HTMLResponse)
async def confirm_page(token: str, request: Request, context: Context) -> HTMLResponse:
    """What the link would do, and a button to confirm it."""
    found = await _link_and_target(request, context, token)
    if isinstance(found, HTMLResponse):
        return found
    _, target = found
    refusal = target.refusal()
    if refusal is not None:
        return _refused(request, refusal, target)
    return render(request, "link.html", None, speaker=target.person, target=target, token=token)


@router.post("/l/{token}", response_class=HTMLResponse)
async def confirm(token: str, request: Request, context: Context) -> HTMLResponse:
    """Act as the link's person: acknowledge, and say what the router decided."""
    found = await _link_and_target(request, context, token)
    if isinstance(found, HTMLResponse):
        return found
    link, target = found
    if target.refusal() is links.LinkRefusal.RESOLVED:
        return _refused(request, links.LinkRefusal.RESOLVED, target)
    # A spent link is tried again through ``spend`` too, so the second try is on the log.
    spent = await links.spend(context.sessions, target, link)
    if isinstance(spent, links.LinkRefusal):
        return _refused(request, spent, target)
    verdict = await context.verdicts.wait(spent, context.command_wait)
    return render(
        request,
        "link.html",
        None,
        speaker=target.person,
        target=target,
        outcome="pending" if verdict is None else "done" if verdict.accepted else "refused",
        reason=(verdict.reason if verdict is not None else "") or "",
    )
