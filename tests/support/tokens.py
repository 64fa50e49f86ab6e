"""The signing secret of the ingest API tests and a bearer header signed with it."""

from __future__ import annotations

from typing import Any

from shared.auth import mint_token

JWT_SECRET = "integration-jwt-secret-" + "0123456789abcdef" * 3


def bearer(person_id: str = "jo.operator", **kwargs: Any) -> dict[str, str]:
    secret = kwargs.pop("secret", JWT_SECRET)
    return {"Authorization": f"Bearer {mint_token(person_id, secret, **kwargs)}"}
