"""The layout's rules (README, "The code, folder by folder"), checked on the imports.

- A service imports ``shared`` and itself, never another service; ``shared`` imports no
  service.
- The domain packages of a service depend on one another without a cycle (a
  recommendation may name an alert; an alert knows nothing of recommendations).
- The router's message and recommendation domains do not reach into the alert package.
- No module of ``services/`` or ``shared/`` is over 400 lines.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "router", "notifier")
MAX_LINES = 400


def _modules(top: str) -> list[Path]:
    return sorted((REPO_ROOT / top).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` counts as ``a.b.c`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _domain_of(service: str, path: Path) -> str | None:
    """The domain package a module of ``service`` is in, or None at the service's top."""
    parts = path.relative_to(REPO_ROOT / "services" / service).parts
    return parts[0] if len(parts) > 1 else None


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = tuple(f"services.{other}" for other in SERVICES if other != service)
    wrong = {
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in _modules(f"services/{service}")
        for name in _imports(path)
        if name.startswith(others)
    }
    assert not wrong


def test_shared_imports_no_service() -> None:
    wrong = {
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in _modules("shared")
        for name in _imports(path)
        if name.startswith("services")
    }
    assert not wrong


@pytest.mark.parametrize("service", ["ingest", "router"])
def test_domains_depend_on_each_other_without_a_cycle(service: str) -> None:
    depends: dict[str, set[str]] = defaultdict(set)
    prefix = f"services.{service}."
    for path in _modules(f"services/{service}"):
        domain = _domain_of(service, path)
        if domain is None:
            continue
        for name in _imports(path):
            if name.startswith(prefix):
                other = name.removeprefix(prefix).split(".")[0]
                if other != domain and (REPO_ROOT / "services" / service / other).is_dir():
                    depends[domain].add(other)

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            step == goal or (step not in seen and reaches(step, goal, seen | {step}))
            for step in depends[start]
        )

    assert not [domain for domain in list(depends) if reaches(domain, domain)], dict(depends)


@pytest.mark.parametrize("domain", ["messages", "recommendations"])
def test_router_domains_do_not_reach_into_the_alert_package(domain: str) -> None:
    wrong = {
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in _modules(f"services/router/{domain}")
        for name in _imports(path)
        if name.startswith("services.router.alerts")
    }
    assert not wrong


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO_ROOT)): lines
        for top in ("services", "shared")
        for path in _modules(top)
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long
