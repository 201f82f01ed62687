"""JSON rendering: the stable contract of every reporting command (keys documented in README)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def render(result: Any) -> str:
    """A result object (anything with ``to_dict()``) or plain data as indented JSON."""
    data = result.to_dict() if hasattr(result, "to_dict") else result
    return json.dumps(data, indent=2, ensure_ascii=False, default=_default)
