"""The docs stay walkable: every relative link resolves, and README stays a front door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    targets = [m.group(1) for m in LINK.finditer(page.read_text(encoding="utf-8"))]
    local = [t.split("#", 1)[0] for t in targets if "://" not in t and not t.startswith("#")]
    missing = [t for t in local if t and not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_readme_is_a_front_door_and_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "make demo" in readme.split("##", 1)[0]
    assert "make test" in readme.split("##", 1)[0]
    unlinked = [p.name for p in PAGES[1:] if f"(docs/{p.name})" not in readme]
    assert not unlinked, f"README does not link {unlinked}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_docs_name_things_rather_than_internal_contract_labels(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    labels = re.findall(r"\b(?:contract )?C[1-8]\b|" + "DES" + r"IGN|§\s?\d", text)
    assert not labels, f"{page.name} cites internal labels {labels}"
