"""Sector outlines (shared/geography.py) and the directory's ``sector_areas``.

An outline is a GeoJSON ``Polygon`` or ``MultiPolygon`` of closed rings of [longitude,
latitude]; the directory refuses an outline of a sector it does not have.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.directory import Directory, load_directory, reference_errors, validate_schema
from shared.geography import SectorArea
from tests.support.directories import DEMO_DIRECTORY

SQUARE = [[29.3, 0.3], [29.6, 0.3], [29.6, 0.6], [29.3, 0.6], [29.3, 0.3]]
HOLE = [[29.4, 0.4], [29.5, 0.4], [29.5, 0.5], [29.4, 0.4]]
OTHER = [[28.0, 1.0], [28.5, 1.0], [28.5, 1.5], [28.0, 1.0]]


def area(data: dict[str, Any]) -> SectorArea:
    return SectorArea.model_validate(data)


# --------------------------------------------------------------------------- accepted


def test_a_polygon() -> None:
    outline = area({"type": "Polygon", "coordinates": [SQUARE]})
    assert outline.polygons() == [[[tuple(p) for p in SQUARE]]]
    assert outline.rings() == [[tuple(p) for p in SQUARE]]


def test_a_polygon_with_a_hole() -> None:
    outline = area({"type": "Polygon", "coordinates": [SQUARE, HOLE]})
    assert len(outline.polygons()) == 1
    assert len(outline.rings()) == 2


def test_a_multipolygon() -> None:
    outline = area({"type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [OTHER]]})
    assert len(outline.polygons()) == 2
    assert outline.rings()[2] == [tuple(p) for p in OTHER]


def test_the_edges_of_the_world_are_positions() -> None:
    edge = [[-180, -90], [180, -90], [180, 90], [-180, -90]]
    assert area({"type": "Polygon", "coordinates": [edge]}).rings()[0][1] == (180.0, -90.0)


def test_the_demo_directory_has_an_outline_for_each_sector() -> None:
    directory = load_directory(DEMO_DIRECTORY)
    assert set(directory.sector_areas) == set(directory.sectors)


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, "closed", id="open-ring"),
        pytest.param(
            {"type": "Polygon", "coordinates": [[[29.3, 0.3], [29.6, 0.3], [29.3, 0.3]]]},
            "at least 4",
            id="too-few-positions",
        ),
        pytest.param({"type": "Polygon", "coordinates": [[]]}, "at least 4", id="empty-ring"),
        pytest.param(
            {
                "type": "Polygon",
                "coordinates": [[[0.3, 129.3], [0.3, 129.6], [0.6, 129.6], [0.3, 129.3]]],
            },
            "longitude, latitude",
            id="latitude-longitude-swapped",
        ),
        pytest.param(
            {"type": "Polygon", "coordinates": [[[181, 0], [182, 0], [182, 1], [181, 0]]]},
            "longitude, latitude",
            id="longitude-beyond-180",
        ),
        pytest.param(
            {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE[:-1]]]},
            "closed",
            id="open-ring-in-a-multipolygon",
        ),
        pytest.param(
            {"type": "Polygon", "coordinates": [SQUARE, [*HOLE[:-1], [29.4, 0.5]]]},
            "closed",
            id="open-hole",
        ),
    ],
)
def test_a_bad_outline_is_refused_saying_why(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        area(data)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"type": "Point", "coordinates": [29.3, 0.3]}, id="a-point"),
        pytest.param({"type": "LineString", "coordinates": SQUARE}, id="a-line"),
        pytest.param({"type": "Polygon", "coordinates": [[SQUARE]]}, id="polygon-of-multipolygon"),
        pytest.param(
            {"type": "MultiPolygon", "coordinates": [SQUARE]}, id="multipolygon-of-polygon"
        ),
        pytest.param({"type": "Polygon", "coordinates": [[[29.3, 0.3, 5.0]] * 4]}, id="altitude"),
        pytest.param(
            {"type": "Polygon", "coordinates": [SQUARE], "properties": {}}, id="extra-field"
        ),
        pytest.param({"type": "Polygon"}, id="no-coordinates"),
        pytest.param({"type": "Polygon", "coordinates": [[["29.3", "x"]] * 4]}, id="not-numbers"),
    ],
)
def test_what_is_not_a_polygon_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        area(data)


degrees = st.floats(-180, 180)
latitudes = st.floats(-90, 90)


@given(st.lists(st.tuples(degrees, latitudes), min_size=3, max_size=10))
def test_every_closed_ring_of_positions_is_accepted(points: list[tuple[float, float]]) -> None:
    ring = [*points, points[0]]
    assert area({"type": "Polygon", "coordinates": [ring]}).rings() == [ring]


@given(
    st.lists(st.tuples(degrees, latitudes), min_size=3, max_size=10),
    st.data(),
)
def test_one_position_out_of_range_refuses_the_outline(
    points: list[tuple[float, float]], data: st.DataObject
) -> None:
    beyond_180 = st.floats(180, exclude_min=True) | st.floats(max_value=-180, exclude_max=True)
    beyond_90 = st.floats(90, exclude_min=True) | st.floats(max_value=-90, exclude_max=True)
    bad = data.draw(
        st.tuples(beyond_180, latitudes)
        | st.tuples(degrees, beyond_90)
        | st.tuples(st.just(float("nan")), latitudes)
    )
    where = data.draw(st.integers(1, len(points) - 1))
    ring = [*points[:where], bad, *points[where:], points[0]]
    with pytest.raises(ValidationError):
        area({"type": "Polygon", "coordinates": [ring]})


# --------------------------------------------------------------------------- the directory


def directory_data(**areas: Any) -> dict[str, Any]:
    return {
        "mission": "test",
        "sectors": ["north", "beni"],
        "people": [{"id": "jo", "name": "Jo", "component": "civilian"}],
        "sector_areas": areas,
    }


def test_a_directory_with_an_outline_per_sector() -> None:
    directory = Directory.model_validate(
        directory_data(
            beni={"type": "Polygon", "coordinates": [SQUARE]},
            north={"type": "MultiPolygon", "coordinates": [[OTHER]]},
        )
    )
    assert set(directory.sector_areas) == {"beni", "north"}
    assert directory.sector_areas["north"].type == "MultiPolygon"


def test_an_outline_is_optional() -> None:
    directory = Directory.model_validate(directory_data())
    assert directory.sector_areas == {}


def test_an_outline_of_an_unknown_sector_is_refused_by_the_reference_check() -> None:
    data = directory_data(
        beni={"type": "Polygon", "coordinates": [SQUARE]},
        atlantis={"type": "Polygon", "coordinates": [OTHER]},
    )
    schema_only = validate_schema(data)  # stage 1 lets it through...
    assert reference_errors(schema_only) == [
        (("sector_areas", "atlantis"), "outline of unknown sector 'atlantis'")
    ]
    with pytest.raises(ValidationError) as refused:  # ... stage 2 refuses it
        Directory.model_validate(data)
    assert "sector_areas.atlantis" in str(refused.value)
    assert "unknown sector 'atlantis'" in str(refused.value)


def test_a_bad_outline_refuses_the_directory() -> None:
    with pytest.raises(ValidationError) as refused:
        Directory.model_validate(
            directory_data(beni={"type": "Polygon", "coordinates": [SQUARE[:-1]]})
        )
    assert "sector_areas" in str(refused.value)


def test_the_outlines_survive_the_directory_content_round_trip() -> None:
    directory = Directory.model_validate(
        directory_data(beni={"type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [OTHER]]})
    )
    assert Directory.model_validate(directory.content()) == directory


# --------------------------------------------------------------------------- containment


@pytest.mark.parametrize(
    ("outline", "position", "inside"),
    [
        ({"type": "Polygon", "coordinates": [SQUARE]}, (29.45, 0.45), True),
        ({"type": "Polygon", "coordinates": [SQUARE]}, (29.7, 0.45), False),
        ({"type": "Polygon", "coordinates": [SQUARE]}, (29.45, 0.65), False),
        ({"type": "Polygon", "coordinates": [SQUARE, HOLE]}, (29.45, 0.42), False),  # in the hole
        ({"type": "Polygon", "coordinates": [SQUARE, HOLE]}, (29.35, 0.35), True),
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], [OTHER]]}, (28.4, 1.1), True),
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], [OTHER]]}, (28.1, 1.4), False),
    ],
)
def test_whether_a_point_lies_inside_an_outline(
    outline: dict[str, Any], position: tuple[float, float], inside: bool
) -> None:
    assert area(outline).contains(position) is inside


def test_cap_area_names_of_an_unknown_sector_are_refused() -> None:
    data = directory_data() | {"cap_areas": {"atlantis": {"names": ["Atlantis"]}}}
    assert reference_errors(validate_schema(data)) == [
        (("cap_areas", "atlantis"), "CAP area names of unknown sector 'atlantis'")
    ]
