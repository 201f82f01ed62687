"""Markdown for pull requests and tickets (GitHub-flavoured tables).

Every string from the inputs goes through ``md()``: table breakers, markup, HTML and link
syntax are escaped, so a component name cannot break a table or inject a link or a tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from tracemap.render import sections

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any) -> str:
    """Input text safe inside a Markdown table cell or heading."""
    text = "" if value is None else str(value)
    text = re.sub(r"[\r\n\t]+", " ", text)
    text = _SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(result: Any, level: int = 3) -> str:
    """Any analyzer result as Markdown: its first section a heading of ``level``."""
    parts = []
    for i, s in enumerate(sections.of(result)):
        parts.append("#" * (level + (1 if i else 0)) + " " + md(s.title))
        if s.text:
            parts.append(md(s.text))
        if s.headers:
            parts.append(table(s.headers, s.rows))
    return "\n\n".join(parts) + "\n"
