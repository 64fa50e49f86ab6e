"""AMQP topic matching, as RabbitMQ's topic exchange does it (the memory bus routes by it)."""

from __future__ import annotations


def topic_matches(pattern: str, routing_key: str) -> bool:
    """True when the AMQP topic binding ``pattern`` matches ``routing_key``.

    Both are dot-separated words; in ``pattern`` ``*`` stands for exactly one word and
    ``#`` for zero or more. An empty string has no words (as in RabbitMQ: ``#`` matches
    the empty key, ``*`` does not).
    """
    words = _words(pattern)
    # The pattern positions reachable after the key's words read so far (an NFA): linear
    # in the key, where backtracking over several ``#`` could take exponential time.
    reached = _past_hashes(words, {0})
    for word in _words(routing_key):
        after: set[int] = set()
        for i in reached:
            if i < len(words) and words[i] == "#":
                after.add(i)  # ``#`` takes this word and may take more
            elif i < len(words) and words[i] in ("*", word):
                after.add(i + 1)
        reached = _past_hashes(words, after)
        if not reached:
            return False
    return len(words) in reached


def _words(text: str) -> list[str]:
    return text.split(".") if text else []


def _past_hashes(words: list[str], positions: set[int]) -> set[int]:
    """``positions`` and each position after a run of ``#`` from one (``#`` may take none)."""
    reached = set(positions)
    for start in positions:
        i = start
        while i < len(words) and words[i] == "#":
            i += 1
            reached.add(i)
    return reached
