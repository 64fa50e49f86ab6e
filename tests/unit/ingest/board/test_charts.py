"""The geometry of the report's charts (services/ingest/board/charts.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.board.charts import Bar, Segment, bars, line_chart, stacked

# --------------------------------------------------------------------------- bars


@pytest.mark.parametrize(
    ("values", "top", "percents"),
    [
        pytest.param([("a", 2.0), ("b", 4.0)], None, [50.0, 100.0], id="scaled-to-the-largest"),
        pytest.param([("a", 0.25), ("b", 1.0)], 1.0, [25.0, 100.0], id="scaled-to-top"),
        pytest.param([("a", 0.5), ("b", 0.5)], 2.0, [25.0, 25.0], id="top-above-all"),
        pytest.param([("a", 3.0)], 2.0, [100.0], id="over-the-top-is-capped"),
        pytest.param([("a", None), ("b", 4.0)], None, [0.0, 100.0], id="none-is-an-empty-bar"),
        pytest.param([("a", None), ("b", None)], None, [0.0, 0.0], id="all-none"),
        pytest.param([("a", 0.0), ("b", 0.0)], None, [0.0, 0.0], id="all-zero"),
        pytest.param([("a", 1.0)], 0.0, [0.0], id="zero-top"),
        pytest.param([], None, [], id="nothing"),
    ],
)
def test_bars(
    values: list[tuple[str, float | None]], top: float | None, percents: list[float]
) -> None:
    drawn = bars(values, top=top)
    assert drawn == [
        Bar(label, value, percent) for (label, value), percent in zip(values, percents, strict=True)
    ]


@given(
    st.lists(
        st.tuples(
            st.text(max_size=5),
            st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False),
        ),
        max_size=20,
    )
)
def test_bars_are_between_nothing_and_the_whole_the_largest_whole(
    values: list[tuple[str, float | None]],
) -> None:
    drawn = bars(values)
    assert all(0.0 <= bar.percent <= 100.0 for bar in drawn)
    if any(v for _, v in values):
        assert max(bar.percent for bar in drawn) == 100.0


# --------------------------------------------------------------------------- stacked


def test_a_stacked_bar() -> None:
    bar = stacked("military", [("accepted", 2), ("declined", 1), ("overdue", 0), ("open", 1)])
    assert bar.label == "military"
    assert bar.total == 4
    assert bar.segments == [
        Segment("accepted", 2, 0.0, 50.0),
        Segment("declined", 1, 50.0, 25.0),
        Segment("overdue", 0, 75.0, 0.0),
        Segment("open", 1, 75.0, 25.0),
    ]


def test_an_empty_stacked_bar_has_no_width() -> None:
    bar = stacked("police", [("accepted", 0), ("declined", 0)])
    assert bar.total == 0
    assert [(s.start, s.width) for s in bar.segments] == [(0.0, 0.0), (0.0, 0.0)]


@given(st.lists(st.tuples(st.text(max_size=5), st.integers(0, 10_000)), min_size=1, max_size=8))
def test_stacked_parts_add_up_to_the_whole_and_start_where_the_last_ended(
    parts: list[tuple[str, int]],
) -> None:
    bar = stacked("x", parts)
    assert bar.total == sum(count for _, count in parts)
    assert [(s.part, s.count) for s in bar.segments] == parts
    assert bar.segments[0].start == 0.0
    for before, after in zip(bar.segments, bar.segments[1:], strict=False):
        assert math.isclose(after.start, before.start + before.width, abs_tol=1e-9)
    widths = sum(s.width for s in bar.segments)
    if bar.total:
        assert math.isclose(widths, 100.0, abs_tol=1e-9)
        assert all(
            math.isclose(s.width, s.count / bar.total * 100, abs_tol=1e-9) for s in bar.segments
        )
    else:
        assert widths == 0.0


# --------------------------------------------------------------------------- lines


def test_a_line_chart_skips_the_steps_without_a_value() -> None:
    chart = line_chart(["1", "2", "3", "4", "5"], {"beni": [2.0, None, 4.0, None, 1.0]})
    [line] = chart.lines
    assert line.name == "beni"
    assert line.values == [2.0, None, 4.0, None, 1.0]
    assert chart.top == 4.0
    assert line.points == [(0.0, 20.0, 2.0), (50.0, 0.0, 4.0), (100.0, 30.0, 1.0)]


def test_the_top_value_is_at_the_top_and_zero_at_the_bottom() -> None:
    chart = line_chart(["a", "b"], {"x": [0.0, 3.0], "y": [1.5, None]})
    by_name = {line.name: line.points for line in chart.lines}
    assert by_name["x"] == [(0.0, chart.height, 0.0), (chart.width, 0.0, 3.0)]
    assert by_name["y"] == [(0.0, chart.height / 2, 1.5)]


@pytest.mark.parametrize(
    "series",
    [
        pytest.param({}, id="no-series"),
        pytest.param({"x": [None, None]}, id="no-value"),
        pytest.param({"x": [0.0, 0.0]}, id="all-zero"),
    ],
)
def test_without_a_value_above_zero_the_scale_is_one(series: dict[str, list[float | None]]) -> None:
    chart = line_chart(["a", "b"], series)
    assert chart.top == 1.0
    assert all(y == chart.height for line in chart.lines for _, y, _ in line.points)


def test_a_single_step_is_drawn_at_the_left() -> None:
    chart = line_chart(["today"], {"x": [5.0]})
    assert chart.lines[0].points == [(0.0, 0.0, 5.0)]


@given(
    st.integers(1, 10).flatmap(
        lambda n: st.dictionaries(
            st.text(max_size=3),
            st.lists(st.none() | st.floats(0, 1e6, allow_nan=False), min_size=n, max_size=n),
            max_size=4,
        ).map(lambda series: ([str(i) for i in range(n)], series))
    )
)
def test_every_point_is_in_the_box(
    chart_input: tuple[list[str], dict[str, list[float | None]]],
) -> None:
    steps, series = chart_input
    chart = line_chart(steps, series)
    for line in chart.lines:
        assert len(line.points) == sum(v is not None for v in line.values)
        for x, y, value in line.points:
            assert 0.0 <= x <= chart.width
            assert 0.0 <= y <= chart.height
            assert math.isclose(y, chart.height * (1 - value / chart.top), abs_tol=1e-6)
        xs = [x for x, _, _ in line.points]
        assert xs == sorted(xs)
