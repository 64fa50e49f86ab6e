"""Where sectors are: their outlines as GeoJSON geometries (WGS 84, longitude first).

A directory may give each sector its outline (``sector_areas``) so that the board can
draw the mission's map with no tile server at all: outlines and alert positions only.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Position = tuple[float, float]  # (longitude, latitude), as GeoJSON orders them
Ring = list[Position]
MIN_RING = 4  # GeoJSON (RFC 7946, 3.1.6): a closed ring has at least four positions


def _ring_problem(ring: Ring) -> str | None:
    if len(ring) < MIN_RING:
        return f"a ring needs at least {MIN_RING} positions, not {len(ring)}"
    if ring[0] != ring[-1]:
        return "a ring must end where it starts (closed)"
    for lon, lat in ring:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # noqa: PLR2004 - degrees
            return f"position [{lon}, {lat}] is not [longitude, latitude] in degrees"
    return None


class SectorArea(BaseModel):
    """A sector's outline: a GeoJSON ``Polygon`` or ``MultiPolygon``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[list[Ring]] | list[Ring]

    @model_validator(mode="after")
    def _closed_rings(self) -> SectorArea:
        if not self.coordinates or any(not polygon for polygon in self.polygons()):
            raise ValueError("an outline needs at least one polygon, each with its outer ring")
        for ring in self.rings():
            problem = _ring_problem(ring)
            if problem is not None:
                raise ValueError(problem)
        return self

    def polygons(self) -> list[list[Ring]]:
        """Each polygon as its rings (the outer one first, then any holes)."""
        if self.type == "Polygon":
            return [self.coordinates]  # type: ignore[list-item]
        return self.coordinates  # type: ignore[return-value]

    def rings(self) -> list[Ring]:
        """Every ring of every polygon."""
        return [ring for polygon in self.polygons() for ring in polygon]

    def contains(self, position: Position) -> bool:
        """Whether ``position`` (longitude, latitude) lies inside the outline (not in a hole)."""
        return any(
            _inside(position, polygon[0]) and not any(_inside(position, h) for h in polygon[1:])
            for polygon in self.polygons()
        )


def _inside(position: Position, ring: Ring) -> bool:
    # Ray casting: a ray from the point crosses the ring's edges an odd number of times
    # when the point is inside. Planar, which is what a sector a few dozen km across allows.
    x, y = position
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


class PartnerAreaNames(BaseModel):
    """What partners call a sector in their CAP messages (docs/cap.md, import).

    ``names``: area descriptions (``areaDesc``), compared without case; ``geocodes``:
    ``valueName=value`` pairs (``ADM2=CD-NK-BENI``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: list[str] = []
    geocodes: list[str] = []
