"""JSON's scalars, taken as they are: no number from a string or a boolean, no boolean from 1.

Pydantic's default (lax) mode would store ``"lat": true`` as 1.0 and ``"lat": "45"`` as
45.0, and take ``"requires_ack": 1`` or ``"yes"`` as true: a client's mistake becomes
data nobody entered. Every contract uses these instead of ``float``, ``int`` and ``bool``.
An integer is still a number (JSON does not tell 45 from 45.0).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Strict

Number = Annotated[float, Strict()]
Integer = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]
