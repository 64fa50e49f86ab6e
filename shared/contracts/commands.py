"""What every ``*.command_rejected`` says beside its reason: the kind of refusal.

The router is the authority on commands; ingest answers the person with the
router's verdict, and the kind decides the HTTP status (``404`` / ``403`` /
``409``). Older events on the log have no kind: they read as ``wrong_state``.
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why the router refused a command, as a client can act on it."""

    NOT_FOUND = "not_found"  # no such subject, or none the person may see (need-to-know)
    NOT_ALLOWED = "not_allowed"  # they may see it, but this command is not theirs to give
    WRONG_STATE = "wrong_state"  # the subject's state does not allow it (resolved, answered...)
