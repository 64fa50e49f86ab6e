"""The README's walkthrough and the `make run` banner paste as they are."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.support.directories import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")


def _bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL)


def _run_hint() -> str:
    match = re.search(r"define RUN_HINT\n(.*?)\nendef", MAKEFILE, flags=re.DOTALL)
    assert match is not None
    return match.group(1).replace("$$", "$")


def _without_comments(block: str) -> str:
    # A comment starts at a '#' after whitespace (not inside `$#` or a URL fragment).
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in block.splitlines())


def _requests_with_keys(text: str) -> list[tuple[str, Any]]:
    """(Idempotency-Key, JSON body) of each request that sends one."""
    joined = text.replace("\\\n", " ")
    found = re.findall(r"Idempotency-Key: ([\w.-]+)'.*?-d '(.*?)'", joined, flags=re.DOTALL)
    return [(key, json.loads(body)) for key, body in found]


def test_a_key_is_never_reused_with_another_body() -> None:
    requests = _requests_with_keys(README) + _requests_with_keys(_run_hint())
    assert len(requests) >= 2
    bodies: dict[str, Any] = {}
    for key, body in requests:
        assert bodies.setdefault(key, body) == body, f"Idempotency-Key {key} with two bodies"


def test_the_blocks_have_no_placeholders_to_fill_in() -> None:
    blocks = [*_bash_blocks(README), _run_hint()]
    placeholders = [
        found
        for block in blocks
        for found in re.findall(r"<[A-Za-z][^<>\n]*>", _without_comments(block))
    ]
    assert placeholders == []


def test_the_development_setups_say_development() -> None:
    assert re.search(r"^COORD_ENV \?= development\nexport COORD_ENV$", MAKEFILE, flags=re.MULTILINE)
    compose_text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    compose = yaml.safe_load(compose_text)
    # Compose fails safe: production unless the demo says development (its header does).
    assert compose["x-coord-env"]["COORD_ENV"] == "${COORD_ENV:-production}"
    assert "#   export COORD_ENV=development" in compose_text
    # Each walkthrough terminal that runs coord says so too (a new shell has no COORD_ENV).
    assert "export COORD_ENV=development" in _run_hint()
    assert README.count("export COORD_ENV=development") >= 2
