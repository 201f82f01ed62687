"""The README's formats table lists exactly the registered ingestors, with their summaries."""

from __future__ import annotations

import re
from pathlib import Path

import ingest

README = Path(__file__).parents[1] / "README.md"


def formats_table() -> str:
    """The table as the README must hold it (paste this in when an ingestor is added)."""
    rows = [f"| `{m.NAME}` | {ingest.summary(m)} |" for m in ingest.INGESTORS]
    return "\n".join(["| format | what it reads |", "|---|---|", *rows])


def test_readme_formats_table_matches_registry() -> None:
    text = README.read_text()
    m = re.search(r"<!-- formats-table:[^>]*-->\n(.*?)\n<!-- /formats-table -->", text, re.S)
    assert m, "README.md lost its formats-table markers"
    assert m.group(1) == formats_table(), "README formats table is stale; expected:\n" + (
        formats_table())
