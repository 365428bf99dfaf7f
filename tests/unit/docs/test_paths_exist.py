"""Every repository path the docs name in backticks exists (a moved or merged module breaks the docs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `services/legal/service.py`, `shared/outbox.py`, `deploy/local/stack.sh`, `tests/e2e/stack.py`
# the "how to add an event type" walk-through in docs/events.md invents this one on purpose
EXAMPLES = {"tests/samples/centinela.case.transferred/v1.json"}
PATH = re.compile(r"`((?:services|shared|deploy|tests|tools)/[A-Za-z0-9_./-]+\.(?:py|sh|yaml|yml|json|md|toml))`")


def named_paths(page: Path) -> set[str]:
    return set(PATH.findall(page.read_text(encoding="utf-8")))


def test_the_pattern_finds_paths() -> None:
    assert named_paths(ROOT / "docs" / "architecture.md"), "docs/architecture.md names no file: the pattern is broken"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_path_exists(page: Path) -> None:
    missing = sorted(p for p in named_paths(page) if "*" not in p and p not in EXAMPLES and not (ROOT / p).exists())
    assert not missing, f"{page.relative_to(ROOT)} names files that do not exist: {missing}"
