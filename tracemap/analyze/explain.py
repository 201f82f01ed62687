"""Explain: why tracemap believes an edge, piece by piece, with where each piece came from.

``analyze(store, src=..., dst=...)`` takes two entity uids or two components (any unambiguous
name ending, as for ``impact``):

- entities: the edge(s) between them (either direction, or through the service run a span is
  the local root of), every explicit link between them, the structural fields that tie them
  (``run_uid``, ``parent_uid``), and the key values they share (with the files the keys came
  from; a value ignored as too common says so);
- components: the component edges between them (count, confidence, latency, coupling) and up
  to ``EXAMPLES`` instance edges, newest first, each with its own evidence.

Every piece names its rule, the key or link it rests on, and ``path:location`` records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tracemap.errors import AnalysisError
from tracemap.graph import resolve_component
from tracemap.store import Store

#: Instance edges shown as examples of a component edge.
EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class ExplainResult:
    """The evidence for the edge(s) between ``src`` and ``dst``."""

    src: str
    dst: str
    level: str  # "instance" or "component"
    edges: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    same_execution: bool | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "level": self.level,
                "same_execution": self.same_execution, "edges": self.edges,
                "evidence": self.evidence, "notes": self.notes}


def analyze(store: Store, *, src: str, dst: str) -> ExplainResult:
    """Evidence for the edge between two entities or two components; see the module doc."""
    a, b = _entity(store, src), _entity(store, dst)
    if a and b:
        return _instances(store, a, b)
    if a or b:
        raise AnalysisError(
            f"'{src if a else dst}' is an entity but '{dst if a else src}' is not: give two "
            "entity uids, or two components.")
    return _components(store, resolve_component(store, src), resolve_component(store, dst))


def _entity(store: Store, text: str) -> dict[str, Any] | None:
    rows = store.rows("SELECT uid, kind, node, run_uid, parent_uid, execution_id, source_id, "
                      "location FROM entities WHERE uid = ?", [text.strip()])
    return rows[0] if rows else None


def _record(path: str | None, location: str | None) -> dict[str, Any]:
    return {"path": path, "location": location}


def _edge_rows(store: Store, where: str, params: list[Any], limit: int | None = None
               ) -> list[dict[str, Any]]:
    """Edges (aliases ``e``, source entity ``s``, target entity ``d``) matching ``where``."""
    rows = store.rows(
        f"""SELECT e.src, e.dst, e.kind, e.rule, e.confidence, e.latency_ms, e.execution_id,
                   e.evidence, s.started_at
            FROM edges e JOIN entities s ON s.id = e.src_id JOIN entities d ON d.id = e.dst_id
            WHERE {where} ORDER BY s.started_at DESC NULLS LAST, e.src, e.dst
            {'' if limit is None else f'LIMIT {int(limit)}'}""", params)
    for r in rows:
        r["evidence"] = json.loads(r["evidence"]) if r["evidence"] else None
        r["started_at"] = r["started_at"].isoformat() if r["started_at"] else None
    return rows


def _edge_piece(edge: dict[str, Any]) -> dict[str, Any]:
    ev = edge["evidence"] or {}
    if "link" in ev:
        basis = f"link {ev['link'].get('kind')}: {ev['link'].get('evidence')}"
    elif ev.get("key"):
        basis = f"key {ev['key'].get('kind')}={ev['key'].get('value')}"
    elif "field" in ev:
        basis = f"field {ev['field']}"
    else:
        basis = "time order only"
    ctx = ev.get("context")
    if ctx:
        basis += (f"; sender running {ctx['interval'][0]} .. {ctx['interval'][1]}, message at "
                  f"{ctx['produced_at']}" + (
                      f"; channel {ctx['channel']} named by its {ctx['channel_named_by']}"
                      if ctx.get("channel_named_by") else ""))
    if edge["rule"] == "time_order":
        gap = ev.get("gap_ms")
        basis += (f"; {gap:.0f} ms" if gap is not None else "") + (
            f"; {ev['rivals']} rival(s)" if ev.get("rivals") else "")
    return {"rule": edge["rule"], "kind": edge["kind"], "confidence": edge["confidence"],
            "what": f"{edge['src']} -> {edge['dst']}", "basis": basis,
            "records": ev.get("records") or []}


def _instances(store: Store, a: dict[str, Any], b: dict[str, Any]) -> ExplainResult:
    ends = [a["uid"], b["uid"]]
    # A span that is its service's local root: edges from outside it enter its run instead.
    a_side = [u for u in (a["uid"], a["run_uid"]) if u]
    b_side = [u for u in (b["uid"], b["run_uid"]) if u]
    edges = _edge_rows(
        store, "(list_contains(?, e.src) AND list_contains(?, e.dst)) "
        "OR (list_contains(?, e.src) AND list_contains(?, e.dst))",
        [a_side, b_side, b_side, a_side])
    edges = [e for e in edges if {e["src"], e["dst"]} & set(ends)]
    pieces = [_edge_piece(e) for e in edges]
    for link in store.rows(
            """SELECT l.src_uid, l.dst_uid, l.kind, l.evidence, s.path, l.location
               FROM links l JOIN sources s ON s.id = l.source_id
               WHERE (l.src_uid = ? AND l.dst_uid = ?) OR (l.src_uid = ? AND l.dst_uid = ?)
               ORDER BY s.path, l.location""", [*ends, *ends[::-1]]):
        pieces.append({"rule": "link", "kind": link["kind"], "confidence": 1.0,
                       "what": f"{link['src_uid']} -> {link['dst_uid']}",
                       "basis": f"stated by the source: {link['evidence']}",
                       "records": [_record(link["path"], link["location"])]})
    for child, parent in ((b, a), (a, b)):
        for fld in ("run_uid", "parent_uid"):
            if child[fld] == parent["uid"]:
                path = store.sql("SELECT path FROM sources WHERE id = ?",
                                 [child["source_id"]]).fetchone()
                pieces.append({"rule": "run_step" if fld == "run_uid" else "parent",
                               "kind": "contains" if fld == "run_uid" else "child",
                               "confidence": 1.0, "what": f"{child['uid']}.{fld}",
                               "basis": f"{fld} = {parent['uid']}",
                               "records": [_record(path[0] if path else None,
                                                   child["location"])]})
    shared = store.rows(
        """SELECT ka.kind, ka.value, list(DISTINCT sa.path || ':' || ea.location) AS a_at,
                  list(DISTINCT sb.path || ':' || eb.location) AS b_at,
                  any_value(i.entities) AS ignored
           FROM keys ka JOIN keys kb ON kb.kind = ka.kind AND kb.value = ka.value
           JOIN entities ea ON ea.uid = ka.entity_uid JOIN entities eb ON eb.uid = kb.entity_uid
           JOIN sources sa ON sa.id = ka.source_id JOIN sources sb ON sb.id = kb.source_id
           LEFT JOIN ignored_keys i ON i.kind = ka.kind AND i.value = ka.value
           WHERE ka.entity_uid = ? AND kb.entity_uid = ?
           GROUP BY ka.kind, ka.value ORDER BY ka.kind, ka.value""", ends)
    for k in shared:
        ignored = k["ignored"] is not None
        pieces.append({
            "rule": "shared_key", "kind": k["kind"], "confidence": None,
            "what": f"{k['kind']}={k['value']}",
            "basis": (f"ignored: held by {k['ignored']} entities (over the fanout threshold)"
                      if ignored else "channel: orients edges, never merges executions"
                      if k["kind"] == "channel" else "same value on both: same execution"),
            "records": [_split(r) for r in sorted({*k["a_at"], *k["b_at"]})]})
    same = a["execution_id"] == b["execution_id"]
    notes = []
    if not edges:
        notes.append("no edge between them" + (
            " (same execution: they share keys, but no rule orders them above the minimum "
            "confidence)" if same else " and they are in different executions"))
    return ExplainResult(a["uid"], b["uid"], "instance", edges, pieces, same, notes)


def _split(at: str) -> dict[str, Any]:
    path, _, location = at.rpartition(":")
    return _record(path or at, location or None)


def _components(store: Store, src: str, dst: str) -> ExplainResult:
    edges = store.rows(
        """SELECT source, target, kind, count, confidence, latency_p50_ms, latency_p95_ms,
                  failure_coupling, failures, first_seen, last_seen
           FROM component_edges
           WHERE (source = ? AND target = ?) OR (source = ? AND target = ?)
           ORDER BY source = ? DESC, count DESC, kind""", [src, dst, dst, src, src])
    for e in edges:
        for k in ("first_seen", "last_seen"):
            e[k] = e[k].isoformat() if e[k] else None
    examples = _edge_rows(
        store, "s.node IN (?, ?) AND d.node IN (?, ?) AND s.node <> d.node",
        [src, dst, src, dst], limit=EXAMPLES)
    pieces = []
    for e in edges:
        pieces.append({
            "rule": "component_edge", "kind": e["kind"], "confidence": e["confidence"],
            "what": f"{e['source']} -> {e['target']}",
            "basis": f"{e['count']} instance edge(s), {e['first_seen']} .. {e['last_seen']}"
                     + ("" if e["latency_p50_ms"] is None
                        else f", p50 {e['latency_p50_ms']:.0f} ms"),
            "records": []})
    pieces.extend(_edge_piece(e) for e in examples)
    notes = [] if edges else [f"no observed edge between {src} and {dst}"]
    return ExplainResult(src, dst, "component", edges, pieces, None, notes)
