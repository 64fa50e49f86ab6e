"""A development webhook receiver: shows each page and whether its signature verifies.

A signature is refused when it does not match, or when its timestamp is further than
``COORD_WEBHOOK_TOLERANCE`` seconds from now (a replay); the reason is shown.
"""

from __future__ import annotations

import json

import uvicorn
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.settings import Settings
from shared.signing import SIGNATURE_HEADER, verify


def describe(page: dict[str, object]) -> str:
    """One line per notification: an alert's severity and sector, or a message's subject."""
    subject = str(page.get("subject_type", "alert"))
    kind = page.get("kind", "?")
    if subject == "alert":
        # A page's one-time link: open it in a browser to acknowledge as the person paged.
        link = f"\n  acknowledge: {page['acknowledge_url']}" if page.get("acknowledge_url") else ""
        return (
            f"{kind}: {page.get('severity', '?')} {page.get('category', '?')} "
            f"in {page.get('sector', '?')}: {page.get('title', '')} "
            f"(alert {page.get('alert_id', '?')}){link}"
        )
    line = f" - {page['message']}" if page.get("message") else ""
    return f"{kind}: {page.get('title', '')}{line} ({subject} {page.get(subject + '_id', '?')})"


def serve(settings: Settings, port: int) -> None:
    """Listen on ``settings.host:port`` until interrupted."""
    console = Console()
    secret = settings.webhook_secret.get_secret_value()

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        verdict = verify(
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
            secret,
            tolerance=settings.webhook_tolerance,
        )
        if not verdict:
            # An unverified body is not read: it may be anyone's.
            console.print(f"[bold]{request.url.path}[/bold] [red]refused: {verdict.value}[/red]")
            return JSONResponse({"received": False, "reason": verdict.value}, status_code=401)
        page = json.loads(body or b"{}")
        console.print(
            f"[bold]{request.url.path}[/bold] [green]{verdict.value}[/green] {describe(page)}"
        )
        return JSONResponse({"received": True})

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    console.print(f"webhook sink on http://{settings.host}:{port}/ - Ctrl-C to stop")
    uvicorn.run(app, host=settings.host, port=port, log_level="warning")
