"""The mission's map: sector outlines and alert positions, drawn as SVG by the server.

No tiles are needed: the outlines come from the directory (``sector_areas``), the points
from the alerts' locations. With ``COORD_MAP_TILES_URL`` (the mission's own tile server,
``https://tiles.mission/{z}/{x}/{y}.png``) the tiles are drawn underneath. Everything is in
Web Mercator pixels at one zoom level, the tiles' own projection, so both line up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.geography import Position

TILE = 256
MAX_ZOOM = 14
VIEW_WIDTH, VIEW_HEIGHT = 800.0, 560.0
MARGIN = 0.08  # of the box, around what is drawn
MAX_TILES = 64  # a bound on what one page asks the tile server for


def project(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel coordinates of a position at ``zoom``."""
    lat = max(min(lat, 85.0511), -85.0511)  # the projection's own limits
    scale = TILE * 2**zoom
    x = (lon + 180.0) / 360.0 * scale
    rad = math.radians(lat)
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * scale
    return x, y


@dataclass(frozen=True)
class Frame:
    """What the map shows: a zoom level and the pixel box of the view."""

    zoom: int
    left: float
    top: float
    width: float
    height: float

    @property
    def view_box(self) -> str:
        """The SVG viewBox."""
        return f"{self.left:.1f} {self.top:.1f} {self.width:.1f} {self.height:.1f}"

    def point(self, position: Position) -> tuple[float, float]:
        """Where a (longitude, latitude) is drawn."""
        return project(position[0], position[1], self.zoom)

    def path(self, ring: list[Position]) -> str:
        """An SVG path of a closed ring."""
        points = [self.point(p) for p in ring]
        return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + " Z"

    def tiles(self, template: str) -> list[tuple[float, float, str]]:
        """(x, y, url) of each tile under the view, at most ``MAX_TILES``."""
        first_x, first_y = int(self.left // TILE), int(self.top // TILE)
        last_x = int((self.left + self.width) // TILE)
        last_y = int((self.top + self.height) // TILE)
        count = 2**self.zoom
        found: list[tuple[float, float, str]] = []
        for ty in range(max(first_y, 0), min(last_y, count - 1) + 1):
            for tx in range(first_x, last_x + 1):
                # Replaced, not str.format: a tile URL may hold other braces ({s}...).
                url = (
                    template.replace("{z}", str(self.zoom))
                    .replace("{x}", str(tx % count))
                    .replace("{y}", str(ty))
                )
                found.append((tx * TILE, ty * TILE, url))
        return found[:MAX_TILES]


def frame(positions: list[Position]) -> Frame | None:
    """The closest zoom that shows every position in the view; None with nothing to show."""
    if not positions:
        return None
    for zoom in range(MAX_ZOOM, -1, -1):
        xs, ys = zip(*(project(lon, lat, zoom) for lon, lat in positions), strict=True)
        width, height = max(xs) - min(xs), max(ys) - min(ys)
        if width * (1 + 2 * MARGIN) <= VIEW_WIDTH and height * (1 + 2 * MARGIN) <= VIEW_HEIGHT:
            break
    middle_x, middle_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return Frame(
        zoom, middle_x - VIEW_WIDTH / 2, middle_y - VIEW_HEIGHT / 2, VIEW_WIDTH, VIEW_HEIGHT
    )
