"""A notice for the next page: what happened to the form just posted (post, redirect, get).

Kept in a short-lived cookie, read once: a page reloaded after a redirect does not post
again, and still says what the post did. The page's template words it from ``code``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

FLASH_COOKIE = "coord_flash"
Kind = Literal["done", "refused", "pending"]


@dataclass(frozen=True)
class Flash:
    """What to tell: ``code`` names the action (``acknowledged``...), ``reason`` a refusal's."""

    kind: Kind
    code: str
    reason: str = ""


def flash(response: Response, notice: Flash) -> Response:
    """``response``, carrying ``notice`` to the next page."""
    value = json.dumps({"kind": notice.kind, "code": notice.code, "reason": notice.reason[:300]})
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax", path="/")
    return response


def take_flash(request: Request) -> Flash | None:
    """The notice the previous post left, if any (the page then drops the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        kind = data["kind"]
        if kind not in ("done", "refused", "pending"):
            return None
        return Flash(kind, str(data["code"]), str(data.get("reason", "")))
    except (ValueError, KeyError, TypeError):
        return None
