"""The repository stands on its own: nothing in it reads or cites files outside it.

Code, configuration and docs may only point at documents inside the repository (the
design the code cites is docs/design.md), and every ``docs/*.md`` they name exists,
down to the heading a ``#anchor`` names.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve()

CHECKED_SUFFIXES = {".py", ".toml", ".yml", ".yaml", ".md", ".sh", ".cfg", ".ini"}
CHECKED_NAMES = {"Makefile", "Dockerfile"}
SKIPPED_DIRS = {".venv", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}

# A path out of the repository into the folder beside it, or a citation of the design
# document that lives there.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared|DESIGN section|DESIGN\.md")
DOCS_LINK = re.compile(r"docs/([a-z_-]+\.md)(?:#([a-z0-9_-]+))?")


def _repository_files() -> list[Path]:
    """Tracked and untracked, non-ignored files; a walk when git is not at hand."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        paths = {REPO_ROOT / name for name in listed.split("\0") if name}
    except (OSError, subprocess.SubprocessError):
        paths = {
            path
            for path in REPO_ROOT.rglob("*")
            if not SKIPPED_DIRS.intersection(path.relative_to(REPO_ROOT).parts)
        }
    return sorted(path for path in paths if path.is_file())


def _checked(path: Path) -> bool:
    relative = path.relative_to(REPO_ROOT)
    return (
        path.suffix in CHECKED_SUFFIXES or path.name in CHECKED_NAMES or relative.parts[0] == ".ci"
    )


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a page's headings (lower-cased, punctuation dropped)."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_nothing_reads_or_cites_files_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in _repository_files()
        if _checked(path) and path != THIS_FILE
        for number, line in enumerate(_read(path).splitlines(), start=1)
        if OUTSIDE_REFERENCE.search(line)
    ]
    assert offenders == [], "\n".join(offenders)


def test_every_cited_docs_page_and_heading_exists() -> None:
    broken = []
    for path in _repository_files():
        if path.suffix not in {".py", ".md"}:
            continue
        for page, anchor in DOCS_LINK.findall(_read(path)):
            target = REPO_ROOT / "docs" / page
            if not target.is_file():
                broken.append(f"{path.relative_to(REPO_ROOT)}: docs/{page} does not exist")
            elif anchor and anchor not in _anchors(_read(target)):
                broken.append(
                    f"{path.relative_to(REPO_ROOT)}: docs/{page} has no heading #{anchor}"
                )
    assert broken == [], "\n".join(broken)
