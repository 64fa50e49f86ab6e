"""Partners: the organisations outside the mission that read its released alerts.

A partner (a humanitarian agency, a national early-warning service) reads the CAP feed
of the alerts the mission released to partners (docs/cap.md, "The partner feed"), and
may send its own warnings as CAP if the directory says so (``may_import``). It
has no person in the directory and no OIDC account: it holds a bearer token, and the
directory keeps only the token's SHA-256, so a copy of the directory (or of the stored
directory versions) lets nobody read the feed. Tokens are random (``coord cap
partner-token``), so a plain hash is enough: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Sequence

from pydantic import BaseModel, ConfigDict, Field

PARTNER_PREFIX = "partner:"  # what an alert a partner raised names as its raiser
TOKEN_BYTES = 32  # 256 bits: the digest needs no salt or stretching

# The demo directory's partner reads the feed with this token, published in the README:
# it is refused unless COORD_ENV=development, like every development default.
DEMO_TOKEN = "coord-demo-partner-token"  # noqa: S105 - published on purpose, refused in production


class Partner(BaseModel):
    """One partner: who it is, the digest of its token, the sectors it reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    token_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of its bearer token, in hex"
    )
    # The sectors whose released alerts it reads (and, importing, raises); empty: all.
    sectors: list[str] = []
    # Whether it may send its CAP warnings (POST /v1/cap), raised as ``partner:<id>``.
    may_import: bool = False

    def covers(self, sector: str) -> bool:
        """Whether ``sector`` is the partner's: what its feed reads and its warnings raise."""
        return not self.sectors or sector in self.sectors


def partner_raising(partners: Sequence[Partner], raiser: str) -> Partner | None:
    """The partner ``raiser`` (an alert's ``raised_by``) names, if it names one."""
    if not raiser.startswith(PARTNER_PREFIX):
        return None
    wanted = raiser.removeprefix(PARTNER_PREFIX)
    return next((p for p in partners if p.id == wanted), None)


def new_token() -> str:
    """A fresh random partner token (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What the directory keeps of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def partner_with_token(
    partners: Sequence[Partner], token: str, *, development: bool = False
) -> Partner | None:
    """The partner holding ``token``, if any (compared in constant time).

    The published demo token holds for nobody outside development.
    """
    if token == DEMO_TOKEN and not development:
        return None
    digest = token_digest(token)
    found = None
    for partner in partners:
        # Every partner is compared, so the time taken says nothing of which matched.
        if hmac.compare_digest(partner.token_sha256, digest):
            found = partner
    return found


def partner_errors(
    partners: Sequence[Partner], sectors: Collection[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """References that do not hold: a duplicate id or token, an unknown sector."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    ids: set[str] = set()
    digests: set[str] = set()
    for index, partner in enumerate(partners):
        if partner.id in ids:
            errors.append((("partners", index, "id"), f"duplicate partner id {partner.id!r}"))
        if partner.token_sha256 in digests:
            # One token for two partners would make the feed's reader ambiguous.
            errors.append(
                (("partners", index, "token_sha256"), f"{partner.id!r} shares another's token")
            )
        ids.add(partner.id)
        digests.add(partner.token_sha256)
        errors += [
            (("partners", index, "sectors"), f"partner {partner.id!r} names unknown sector {s!r}")
            for s in partner.sectors
            if s not in sectors
        ]
    return errors
