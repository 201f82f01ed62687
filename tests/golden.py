"""Golden files: a fixture's normalized rows as canonical JSON, compared with tests/golden/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tracemap.load import ingest_paths
from tracemap.model import TABLES
from tracemap.store import Store

GOLDEN = Path(__file__).parent / "golden"


def normalized_rows(path: Path, fmt: str | None = None, **options: Any) -> dict[str, Any]:
    """Ingest one file into a fresh in-memory store and dump every table, in a stable order."""
    store = Store(":memory:")
    try:
        result = ingest_paths(store, [str(path)], fmt=fmt, options=options)
        # The detection rule and cross-source merges are pinned by their own tests, not here.
        out: dict[str, Any] = {"source": {k: v for k, v in result.to_dict()["sources"][0].items()
                                          if k not in ("path", "rule", "declined", "merged")}}
        if out["source"].get("message"):  # messages name the file: keep goldens path-free
            out["source"]["message"] = out["source"]["message"].replace(str(path), path.name)
        for table, columns in TABLES.items():
            cols = ", ".join(columns)
            rows = store.rows(f"SELECT {cols} FROM {table} ORDER BY ALL")  # noqa: S608
            if rows:
                out[table] = [_canonical(r) for r in rows]
        rejects = store.rows("SELECT location, reason FROM rejects ORDER BY ALL")
        if rejects:
            out["rejects"] = rejects
        return out
    finally:
        store.close()


def counts_and_rejects(path: Path, fmt: str | None = None,
                       ) -> tuple[tuple[int, int, int, int], list[tuple[str, str]]]:
    """Ingest one new file: its (records, loaded, rejected, skipped) and its rejects in order."""
    store = Store(":memory:")
    try:
        (src,) = ingest_paths(store, [str(path)], fmt=fmt).sources
        assert src.status == "new", src.message
        rejects = store.sql("SELECT location, reason FROM rejects ORDER BY rowid").fetchall()
        return (src.records, src.loaded, src.rejected, src.skipped), rejects
    finally:
        store.close()


def _canonical(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if v is None:
            continue
        if hasattr(v, "isoformat"):
            v = v.isoformat()
        elif k in ("detail", "headers", "payload") and isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        out[k] = v
    return out


def check_golden(name: str, actual: dict[str, Any], update: bool) -> None:
    """Compare with tests/golden/<name>.json, or rewrite it when ``update`` is set."""
    text = json.dumps(actual, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    check_golden_text(f"{name}.json", text, update)


def check_golden_text(name: str, text: str, update: bool) -> None:
    """Compare text with tests/golden/<name>, or rewrite it when ``update`` is set."""
    path = GOLDEN / name
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if not update:
            raise AssertionError(f"{path} did not exist; written now - review it and commit")
        return
    expected = path.read_text()
    assert text == expected, (
        f"{name}: output differs from {path} (run pytest --update-golden, review the diff)")
