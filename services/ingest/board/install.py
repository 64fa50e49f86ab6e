"""Mount the board on ingest's app: its pages, its static files, its sign-in redirect."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from services.ingest.board import (
    alert_page,
    audit,
    board,
    link_pages,
    live,
    map_page,
    messages,
    raise_form,
    recommendations,
    reports,
    signin,
    triage,
)
from services.ingest.board.oidc import OidcClient
from services.ingest.board.session import BoardKeys, SignInRequired, sign_in_url
from shared.settings import Settings

STATIC = Path(__file__).parent / "static"
# Every router of the board, in the order mounted: raise_form (and the compose page in
# messages) before the pages of one, since "new" is not an id.
PAGES: tuple[APIRouter, ...] = tuple(
    part.router
    for part in (
        signin,
        board,
        triage,
        map_page,
        live,
        raise_form,
        alert_page,
        link_pages,
        recommendations,
        messages,
        reports,
        audit,
    )
)


async def _to_sign_in(_request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)  # noqa: S101 - registered for that class
    return RedirectResponse(sign_in_url(exc.next_path), status_code=303)


def install_board(app: FastAPI, settings: Settings) -> None:
    """Serve the board from ``app``: ``/`` and ``/board``, alert pages, sign-in, assets."""
    app.state.board_keys = BoardKeys.from_settings(settings)
    app.state.board_map_tiles = settings.map_tiles_url  # None: outlines and points only
    app.state.board_oidc = OidcClient.from_settings(settings)  # None: no issuer configured
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.mount("/static/board", StaticFiles(directory=STATIC), name="board-static")
    for router in PAGES:
        app.include_router(router)
