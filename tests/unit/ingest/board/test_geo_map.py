"""The mission's map (services/ingest/board/geo_map.py): Web Mercator, the view, the tiles."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.ingest.board.geo_map import (
    MARGIN,
    MAX_TILES,
    MAX_ZOOM,
    TILE,
    VIEW_HEIGHT,
    VIEW_WIDTH,
    Frame,
    frame,
    project,
)
from shared.geography import Position
from shared.settings import Settings

TEMPLATE = "https://tiles.mission.example/{z}/{x}/{y}.png"
LIMIT = 85.0511  # the projection's own latitude limit

# --------------------------------------------------------------------------- project


@pytest.mark.parametrize(
    ("lon", "lat", "zoom", "expected"),
    [
        pytest.param(0.0, 0.0, 0, (128.0, 128.0), id="origin-zoom-0"),
        pytest.param(0.0, 0.0, 1, (256.0, 256.0), id="origin-zoom-1"),
        pytest.param(-180.0, 0.0, 0, (0.0, 128.0), id="west-edge"),
        pytest.param(180.0, 0.0, 0, (256.0, 128.0), id="east-edge"),
        pytest.param(90.0, 0.0, 2, (768.0, 512.0), id="quarter-east-zoom-2"),
        pytest.param(0.0, LIMIT, 0, (128.0, 0.0), id="north-limit"),
        pytest.param(0.0, -LIMIT, 0, (128.0, 256.0), id="south-limit"),
    ],
)
def test_known_projections(
    lon: float, lat: float, zoom: int, expected: tuple[float, float]
) -> None:
    x, y = project(lon, lat, zoom)
    assert x == pytest.approx(expected[0], abs=1e-3)
    assert y == pytest.approx(expected[1], abs=1e-3)


def test_beyond_the_limits_is_drawn_at_the_limits() -> None:
    assert project(10.0, 89.9, 3) == project(10.0, LIMIT, 3)
    assert project(10.0, -90.0, 3) == project(10.0, -LIMIT, 3)


@given(
    st.floats(-180, 180),
    st.floats(-LIMIT, LIMIT),
    st.floats(-LIMIT, LIMIT),
    st.integers(0, MAX_ZOOM),
)
def test_north_is_up_and_each_zoom_doubles(lon: float, lat: float, other: float, zoom: int) -> None:
    x, y = project(lon, lat, zoom)
    _, y_other = project(lon, other, zoom)
    if lat > other:
        assert y <= y_other
    x2, y2 = project(lon, lat, zoom + 1)
    assert x2 == pytest.approx(2 * x, rel=1e-9, abs=1e-6)
    assert y2 == pytest.approx(2 * y, rel=1e-9, abs=1e-6)
    assert 0.0 <= x <= TILE * 2**zoom
    assert -1e-6 <= y <= TILE * 2**zoom + 1e-6


# --------------------------------------------------------------------------- frame

positions = st.lists(
    st.tuples(st.floats(-180, 180), st.floats(-LIMIT, LIMIT)), min_size=1, max_size=30
)


def inside(view: Frame, point: tuple[float, float]) -> bool:
    x, y = point
    eps = 1e-6
    return (
        view.left - eps <= x <= view.left + view.width + eps
        and view.top - eps <= y <= view.top + view.height + eps
    )


def fits_with_margin(points: list[Position], zoom: int) -> bool:
    """What is drawn, with its margins (8 % of the box on each side), fits the view."""
    xs, ys = zip(*(project(lon, lat, zoom) for lon, lat in points), strict=True)
    grown = 1 + 2 * MARGIN
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    return bool(width * grown <= VIEW_WIDTH and height * grown <= VIEW_HEIGHT)


def test_nothing_to_show_is_no_map() -> None:
    assert frame([]) is None


def test_one_point_is_at_the_middle_at_the_closest_zoom() -> None:
    view = frame([(29.47, 0.55)])
    assert view is not None
    assert view.zoom == MAX_ZOOM
    x, y = view.point((29.47, 0.55))
    assert x == pytest.approx(view.left + VIEW_WIDTH / 2)
    assert y == pytest.approx(view.top + VIEW_HEIGHT / 2)
    assert view.view_box == f"{view.left:.1f} {view.top:.1f} {VIEW_WIDTH:.1f} {VIEW_HEIGHT:.1f}"


def test_the_demo_sectors_fit_at_a_regional_zoom() -> None:
    # The outlines of deploy/directory.yaml: about 0.6 by 1.1 degrees.
    view = frame([(29.22, 0.02), (29.86, 1.05), (29.30, -0.02)])
    assert view is not None
    assert 8 <= view.zoom <= 10


@given(positions)
def test_every_position_is_in_the_view(points: list[Position]) -> None:
    view = frame(points)
    assert view is not None
    assert (view.width, view.height) == (VIEW_WIDTH, VIEW_HEIGHT)
    assert all(inside(view, view.point(p)) for p in points)


@given(positions)
def test_the_view_is_the_closest_that_shows_everything(points: list[Position]) -> None:
    view = frame(points)
    assert view is not None
    assert fits_with_margin(points, view.zoom)
    if view.zoom < MAX_ZOOM:
        assert not fits_with_margin(points, view.zoom + 1)


def test_a_ring_is_a_closed_path() -> None:
    view = Frame(0, 0.0, 0.0, VIEW_WIDTH, VIEW_HEIGHT)
    path = view.path([(0.0, 0.0), (90.0, 0.0), (90.0, 45.0), (0.0, 0.0)])
    assert path.startswith("M128.0,128.0 L192.0,128.0 L192.0,")
    assert path.endswith(" Z")


# --------------------------------------------------------------------------- tiles

frames = st.builds(
    Frame,
    st.integers(0, MAX_ZOOM),
    st.floats(-2000, 2**MAX_ZOOM * TILE),
    st.floats(-2000, 2**MAX_ZOOM * TILE),
    st.just(VIEW_WIDTH),
    st.just(VIEW_HEIGHT),
)
TILE_URL = re.compile(r"^https://tiles\.mission\.example/(\d+)/(\d+)/(\d+)\.png$")


@given(frames)
def test_tiles_are_bounded_and_each_url_names_a_tile_of_the_zoom(view: Frame) -> None:
    tiles = view.tiles(TEMPLATE)
    assert len(tiles) <= MAX_TILES
    count = 2**view.zoom
    for x, y, url in tiles:
        match = TILE_URL.match(url)
        assert match, url
        z, tx, ty = (int(part) for part in match.groups())
        assert z == view.zoom
        assert 0 <= tx < count
        assert 0 <= ty < count
        assert y == ty * TILE
        assert (x // TILE) % count == tx  # the world repeats east and west
        # each tile drawn touches the view
        assert x <= view.left + view.width
        assert x + TILE > view.left
        assert y <= view.top + view.height
        assert y + TILE > view.top


def test_the_tiles_cover_the_view() -> None:
    view = frame([(29.47, 0.55)])
    assert view is not None
    tiles = view.tiles(TEMPLATE)
    columns = {x for x, _, _ in tiles}
    rows = {y for _, y, _ in tiles}
    assert min(columns) <= view.left
    assert max(columns) + TILE >= view.left + view.width
    assert min(rows) <= view.top
    assert max(rows) + TILE >= view.top + view.height
    assert len(tiles) == len(columns) * len(rows)
    assert len(set(tiles)) == len(tiles)


def test_at_zoom_zero_the_one_tile_repeats() -> None:
    view = Frame(0, 128 - VIEW_WIDTH / 2, 128 - VIEW_HEIGHT / 2, VIEW_WIDTH, VIEW_HEIGHT)
    tiles = view.tiles(TEMPLATE)
    assert {url for _, _, url in tiles} == {"https://tiles.mission.example/0/0/0.png"}
    assert {y for _, y, _ in tiles} == {0}


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("https://{s}.tiles.mission.example/{z}/{x}/{y}.png", id="subdomain"),
        pytest.param("https://tiles.mission.example/{z}/{x}/{y}{r}.png", id="retina"),
        pytest.param("https://tiles.mission.example/{z}/{x}/{y}.png?key={key}", id="api-key"),
        pytest.param("https://tiles.mission.example/{z}/{x}/{y}.png?style={}", id="empty-braces"),
    ],
)
def test_a_tile_url_the_settings_accept_draws_the_map(template: str) -> None:
    """COORD_MAP_TILES_URL is either refused at start or usable by the map page."""
    try:
        Settings(map_tiles_url=template)
    except ValidationError:
        return  # refused when the service starts: the operator is told
    view = frame([(29.47, 0.55)])
    assert view is not None
    tiles = view.tiles(template)  # must not raise: /map would answer 500
    assert tiles
    assert all("{" not in url and "}" not in url for _, _, url in tiles)


def test_the_demo_tile_template_is_accepted() -> None:
    assert Settings(map_tiles_url=TEMPLATE).map_tiles_url == TEMPLATE
    assert not math.isnan(project(0, 0, 0)[0])
