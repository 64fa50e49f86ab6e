"""A development webhook receiver: shows each page and whether its signature verifies."""

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


def serve(settings: Settings, port: int) -> None:
    """Listen on ``settings.host:port`` until interrupted."""
    console = Console()
    secret = settings.webhook_secret.get_secret_value()

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        valid = verify(body, request.headers.get(SIGNATURE_HEADER, ""), secret)
        page = json.loads(body or b"{}")
        console.print(
            f"[bold]{request.url.path}[/bold] "
            f"{'[green]signature ok[/green]' if valid else '[red]BAD SIGNATURE[/red]'} "
            f"{page.get('severity', '?')} {page.get('category', '?')} "
            f"in {page.get('sector', '?')}: "
            f"{page.get('title', '')} (alert {page.get('alert_id', '?')})"
        )
        return JSONResponse({"received": True}, status_code=200 if valid else 401)

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    console.print(f"webhook sink on http://{settings.host}:{port}/ - Ctrl-C to stop")
    uvicorn.run(app, host=settings.host, port=port, log_level="warning")
