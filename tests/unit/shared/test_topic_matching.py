"""AMQP topic matching of the in-memory bus: ``*`` is one word, ``#`` zero or more.

The table is RabbitMQ's behaviour (its topic exchange tests and documentation); the
properties compare the NFA of ``topic_matches`` with a plain recursive reading of the rule.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bus import INGEST_VIEWS_QUEUE, TOPOLOGY
from shared.contracts import ROUTER_DECISIONS
from shared.contracts.registry import INGEST_VIEWS, ROUTES, in_decisions
from shared.topics import topic_matches

CASES = [
    # exact keys
    ("alert.raised", "alert.raised", True),
    ("alert.raised", "alert.resolved", False),
    ("alert.raised", "alert", False),
    ("alert", "alert.raised", False),
    # * is exactly one word
    ("alert.*", "alert.raised", True),
    ("alert.*", "alert", False),
    ("alert.*", "alert.raised.twice", False),
    ("*.raised", "alert.raised", True),
    ("*.*", "alert.raised", True),
    ("*", "alert", True),
    ("*", "alert.raised", False),
    ("*", "", False),
    ("a.*.c", "a.b.c", True),
    ("a.*.c", "a.c", False),
    # # is zero or more words
    ("#", "", True),
    ("#", "alert", True),
    ("#", "alert.raised.twice", True),
    ("alert.#", "alert", True),
    ("alert.#", "alert.raised", True),
    ("alert.#", "alert.raised.twice", True),
    ("alert.#", "notification.requested", False),
    ("alert.#", "alerts.raised", False),
    ("#.raised", "raised", True),
    ("#.raised", "alert.raised", True),
    ("#.raised", "alert.raised.not", False),
    ("a.#.c", "a.c", True),
    ("a.#.c", "a.b.b.c", True),
    ("a.#.c", "a.b.b.d", False),
    ("#.#", "", True),
    ("#.#", "a.b", True),
    ("#.*", "", False),
    ("#.*", "a", True),
    ("*.#", "a", True),
    ("*.#", "", False),
    ("#.a.#", "b.a.b", True),
    ("#.a.#", "b.b", False),
    # words are compared whole, dots are separators only
    ("alert.raised", "alert_raised", False),
    ("a..b", "a..b", True),
    ("a.*.b", "a..b", True),
    ("", "", True),
    ("", "a", False),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), CASES)
def test_table(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_every_registered_type_reaches_exactly_its_queues() -> None:
    # The exact bindings built from the registry route as the registry says: by its own
    # key, or, for the router's events the views take, inside router.decisions.
    for type_, route in ROUTES.items():
        taken_by = {
            spec.name for spec in TOPOLOGY if any(topic_matches(b, type_) for b in spec.bindings)
        }
        if in_decisions(type_):
            assert taken_by == set(route.queues) - {INGEST_VIEWS}, type_
            assert ROUTER_DECISIONS in INGEST_VIEWS_QUEUE.bindings
        else:
            assert taken_by == set(route.queues), type_


def reference(pattern: str, key: str) -> bool:
    """The rule read literally, by recursion over the words."""
    p = pattern.split(".") if pattern else []
    k = key.split(".") if key else []

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(p):
            return j == len(k)
        if p[i] == "#":
            return match(i + 1, j) or (j < len(k) and match(i, j + 1))
        return j < len(k) and p[i] in ("*", k[j]) and match(i + 1, j + 1)

    return match(0, 0)


WORDS = st.sampled_from(["a", "b", "c", ""])
keys = st.lists(WORDS, max_size=6).map(".".join)
patterns = st.lists(st.sampled_from(["a", "b", "*", "#"]), max_size=6).map(".".join)


@given(patterns, keys)
def test_same_as_the_rule_read_literally(pattern: str, key: str) -> None:
    assert topic_matches(pattern, key) is reference(pattern, key)


# "" alone is the key of no words (not one empty word): left out here.
@given(st.lists(WORDS, min_size=1, max_size=6).filter(lambda words: words != [""]), st.data())
def test_wildcards_only_widen(words: list[str], data: st.DataObject) -> None:
    key = ".".join(words)
    assert topic_matches(key, key)
    # any word replaced by *, and # put anywhere, still match
    starred = list(words)
    starred[data.draw(st.integers(0, len(words) - 1))] = "*"
    assert topic_matches(".".join(starred), key)
    spot = data.draw(st.integers(0, len(starred)))
    assert topic_matches(".".join([*starred[:spot], "#", *starred[spot:]]), key)
    # a pattern of n stars matches exactly the keys of n words
    assert topic_matches(".".join(["*"] * len(words)), key)
    assert not topic_matches(".".join(["*"] * (len(words) + 1)), key)


def test_many_hashes_stay_fast() -> None:
    # Backtracking would try every split of 40 words among 20 hashes.
    pattern = ".".join(["#"] * 20 + ["z"])
    assert not topic_matches(pattern, ".".join(["a"] * 40))
