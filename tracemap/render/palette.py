"""Stable colours per system, shared by the graph renderers (no rich or typer here)."""

from __future__ import annotations

import hashlib

#: Well-known systems keep a fixed colour; others get one from their name.
SYSTEM_COLOURS = {
    "temporal": "#e3f2fd", "otel": "#e8f5e9", "kafka": "#fff3e0", "rabbitmq": "#fce4ec",
    "stepfunctions": "#ede7f6", "airflow": "#e0f7fa", "argo": "#f3e5f5", "dataset": "#f5f5f5",
    "openlineage": "#e0f2f1", "zeebe": "#fff8e1", "sqs": "#fbe9e7", "eventbridge": "#f1f8e9",
}
_FALLBACK = ("#e8eaf6", "#fffde7", "#efebe9", "#e1f5fe", "#f9fbe7", "#fafafa")


def system_colour(system: str | None) -> str:
    """A light fill colour for a system, the same on every run."""
    name = (system or "").lower()
    if name in SYSTEM_COLOURS:
        return SYSTEM_COLOURS[name]
    digest = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    return _FALLBACK[digest[0] % len(_FALLBACK)]
