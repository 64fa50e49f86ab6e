"""The grammar of an officer's SMS reply: ``ACK 4821``, ``OK 4821``, ``ACC 4821``, ``RES 4821``.

Read leniently where phones differ (case, accents, extra spaces, a ``#`` or ``:`` before
the code, the code glued to the word) and strictly where intent is at stake: a keyword,
at most one code, nothing else. "ok je m'en occupe" is not an acknowledgement of
anything; the sender is told how to reply instead of the system guessing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

CODE_DIGITS = 4


class ReplyAction(StrEnum):
    """What a reply asks for."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


# ACC: "accusé de réception", what a French speaker writes; OK: what anyone writes.
KEYWORDS: dict[str, ReplyAction] = {
    "ACK": ReplyAction.ACKNOWLEDGE,
    "OK": ReplyAction.ACKNOWLEDGE,
    "ACC": ReplyAction.ACKNOWLEDGE,
    "RES": ReplyAction.RESOLVE,
}

_REPLY = re.compile(
    r"(?P<keyword>[A-Z]+)(?:\s*(?P<code>[0-9]{" + str(CODE_DIGITS) + r"}))?",
)
_SEPARATORS = re.compile(r"[\s#:;,.!\-_/]+")


@dataclass(frozen=True)
class Reply:
    """A reply understood: the action and the alert's code, if the sender gave one."""

    action: ReplyAction
    code: str | None


def _plain(text: str) -> str:
    without_marks = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    return _SEPARATORS.sub(" ", without_marks).strip().upper()


def parse_reply(text: str) -> Reply | None:
    """The reply ``text`` makes, or None when it is not one (junk, more than a reply)."""
    match = _REPLY.fullmatch(_plain(text))
    if match is None:
        return None
    action = KEYWORDS.get(match["keyword"])
    if action is None:
        return None
    return Reply(action, match["code"])
