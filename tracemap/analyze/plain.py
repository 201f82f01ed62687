"""Results as plain data: what ``dataclasses.asdict`` gives, without its cost.

``asdict`` deep-copies every leaf value through ``copy.deepcopy``; a busy hour's ``failures``
holds tens of thousands of findings, and that copy took 1.8 s of it at 5M records. Leaves here
are immutable (text, numbers, times), so they are shared instead of copied.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_LEAVES = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """``value`` with every dataclass made a dict, recursively, as ``asdict`` makes it."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is list:
        return [plain(v) for v in value]
    if kind is dict:
        return {plain(k): plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        items = [plain(v) for v in value]
        return kind(*items) if hasattr(value, "_fields") else kind(items)
    if isinstance(value, list):
        return kind(plain(v) for v in value)
    if isinstance(value, dict):  # a defaultdict too: as a dict, which JSON cannot tell apart
        return {plain(k): plain(v) for k, v in value.items()}
    return value
