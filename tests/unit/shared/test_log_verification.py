"""How ``coord audit verify`` splits the log: how many processes, and which ranges."""

from __future__ import annotations

import pytest

from shared.log_verification import PARALLEL_FROM, jobs_for, split


@pytest.mark.parametrize(
    ("log_size", "cores", "jobs"),
    [
        pytest.param(PARALLEL_FROM - 1, 8, 1, id="short-log-one-process"),
        pytest.param(PARALLEL_FROM, 2, 2, id="one-per-core"),
        pytest.param(1_000_000, 8, 4, id="at-most-four"),
        pytest.param(1_000_000, 1, 1, id="one-core"),
    ],
)
def test_jobs_for(log_size: int, cores: int, jobs: int) -> None:
    assert jobs_for(log_size, cores) == jobs


@pytest.mark.parametrize(
    ("last_seq", "jobs", "spans"),
    [
        pytest.param(30, 3, [(1, 10), (11, 20), (21, 30)], id="even"),
        pytest.param(7, 2, [(1, 3), (4, 7)], id="uneven"),
        pytest.param(2, 4, [(1, 1), (2, 2)], id="more-jobs-than-records"),
        pytest.param(0, 2, [], id="empty-log"),
    ],
)
def test_split_covers_every_seq_once_in_order(
    last_seq: int, jobs: int, spans: list[tuple[int, int]]
) -> None:
    assert split(last_seq, jobs) == spans
