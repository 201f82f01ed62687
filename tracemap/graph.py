"""Correlated tables as graphs: component names resolved, component and execution views.

networkx only ever holds the component graph or one execution, never the instance graph.
"""

from __future__ import annotations

from tracemap.errors import UnknownComponentError
from tracemap.store import Store

MAX_CANDIDATES = 10


def resolve_component(store: Store, text: str) -> str:
    """A component from what a user typed: the exact name, or a unique ending of one.

    ``OrderWorkflow`` → ``temporal:workflow:OrderWorkflow``; ``orders.placed`` →
    ``kafka:topic:orders.placed``. Several matches or none is an error that lists candidates.
    """
    rows = store.sql(
        "SELECT component FROM component_nodes WHERE component = ? OR ends_with(component, ?) "
        "OR ends_with(component, ?) ORDER BY component",
        [text, ":" + text, "/" + text]).fetchall()
    names = [r[0] for r in rows]
    if text in names:
        return text
    if len(names) == 1:
        return names[0]
    if not names:
        close = [r[0] for r in store.sql(
            "SELECT component FROM component_nodes WHERE contains(lower(component), lower(?)) "
            "ORDER BY component LIMIT ?", [text, MAX_CANDIDATES]).fetchall()]
        hint = f" Components containing it: {', '.join(close)}." if close else ""
        raise UnknownComponentError(
            f"no component is named '{text}' or ends with it.{hint} "
            "`tracemap graph --format json` lists every component.")
    shown = ", ".join(names[:MAX_CANDIDATES]) + (" ..." if len(names) > MAX_CANDIDATES else "")
    raise UnknownComponentError(
        f"'{text}' is ambiguous: {len(names)} components end with it ({shown}). "
        "Type more of the name.")
