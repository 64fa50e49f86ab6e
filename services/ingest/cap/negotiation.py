"""Whether a client asks for CAP: ``Accept`` negotiation between JSON and CAP."""

from __future__ import annotations

from services.ingest.cap.schema import MEDIA_TYPE


def prefers_cap(accept: str) -> bool:
    """Whether an ``Accept`` header asks for CAP over JSON (by quality, then by order).

    A client that names neither (or ``*/*``) gets JSON.
    """
    best: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best.setdefault(media.lower(), (quality, -position))
    cap = best.get(MEDIA_TYPE)
    if cap is None or cap[0] <= 0:
        return False
    json = max(best.get(m, (0.0, -999)) for m in ("application/json", "application/*", "*/*"))
    return cap > json
