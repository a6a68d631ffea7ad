"""The user docs: every relative link in the README and docs/ points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    missing = [
        target
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists()
    ]
    assert not missing, f"{page.relative_to(REPO)} links to missing files: {missing}"


def test_user_docs_stay_short() -> None:
    """The user pages say what a user needs; round-by-round history lives in docs/history/."""
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (REPO / "docs").glob("*.md")}
    long = {name: n for name, n in sizes.items() if n > 450}
    assert not long, f"move history out of these pages into docs/history/: {long}"
