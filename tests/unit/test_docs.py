"""The docs quote real code: each ``<!-- quote PATH FIRST-LAST -->`` block must be exactly
those lines of that file, so a change to the code that the docs show fails here first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUOTE = re.compile(r"<!-- quote (\S+) (\d+)-(\d+) -->\n```\w*\n(.*?)```", re.S)
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])
QUOTES = [
    pytest.param(doc, *match.groups(), id=f"{doc.name}:{match.group(1)}:{match.group(2)}")
    for doc in DOCS
    for match in QUOTE.finditer(doc.read_text())
]


def test_the_docs_quote_code() -> None:
    assert QUOTES, "no quoted code found in docs/: the marker format changed?"


@pytest.mark.parametrize(("doc", "path", "first", "last", "quoted"), QUOTES)
def test_each_quote_matches_its_file(
    doc: Path, path: str, first: str, last: str, quoted: str
) -> None:
    lines = (ROOT / path).read_text().splitlines(keepends=True)
    actual = "".join(lines[int(first) - 1 : int(last)])
    assert quoted == actual, f"{doc.name} quotes {path} {first}-{last}, which now reads:\n{actual}"
