"""Correlation: the only code that decides which records belong together, in DuckDB SQL.

``correlate(store)`` reads the model tables (runs, steps, messages, datasets, keys, links) and
replaces the correlated tables below in one transaction, so a reader sees either the previous
correlation or the new one, never half of it. Every statement is set-based SQL over the store
(no Python loop over entities, no Python UDF); Python only drives the fixpoint loops.

Tables written (the contract analyzers read; extra columns may be added, none removed):

``entities``: one row per distinct uid across runs/steps/messages/datasets, plus the messages
    inferred from producer/consumer spans (``inferred``; uid ``inferred:msg:<span uid>``) and
    the virtual peers client spans call (``inferred``, kind ``peer``; uid
    ``virtual:peer:<span uid>``). The
    same uid from two sources is one entity: the row of the lowest ``source_id`` wins (then
    the first loaded).
    ``uid, id, kind (run|step|message|dataset|peer), system, component, node, status, started_at,
    ended_at, run_uid, parent_uid, attempt, error, name, span_kind, source_id, location,
    inferred, execution_id``. ``node`` is the component-graph node: ``otel:service:<service>``
    for spans, the channel for messages, for datasets the node of their
    OpenLineage name (``tracemap.identity``: a ``kafka://`` dataset is its ``kafka:topic:``),
    the own component otherwise. Messages have
    ``started_at = ended_at = produced_at``. ``id`` is a 63-bit md5 hash of the uid (the join
    key of ``edges.src_id/dst_id``); ``span_kind`` is a span's server/client/producer/...,
    or the side its OTel ``messaging.operation(.type)`` states (``MESSAGING_OPERATIONS``:
    a CLIENT ``receive`` span is a consumer, whatever time says).
``executions``: ``execution_id, entities, systems (list), started_at, ended_at, status
    (failed if any entity failed or timed out, else running if any runs, else ok/unknown),
    root_uid (the earliest cause: the earliest run no edge enters, else the earliest entity no
    edge enters, else the earliest run or entity), keys (up to 3 example key values)``.
    ``execution_id`` is ``x`` + the smallest entity ``id`` of the group in 16 hex digits: the
    same group of uids always gets the same id, whatever the order of ingestion.
``edges``: ``src, dst, kind, rule, confidence, execution_id, latency_ms, evidence (JSON),
    src_id, dst_id``. Edges point downstream (producer -> message -> consumer, caller ->
    callee, parent -> child, writer -> dataset -> reader, run -> step, earlier attempt ->
    retry); link kinds stated the other way by a source (``consumes`` from consumer to message,
    ``retry_of`` from the retry, ``reads`` from job to dataset) are turned round. Every kind
    of link a source states between two entities is an edge (a parent starts and signals its
    child); the other rules only fill pairs no link connects, one edge per pair, the strongest
    rule winning (``explain`` shows every piece of evidence).
    ``evidence`` = ``{"rule", "link": {"kind", "evidence"} | "key": {"kind", "value"} |
    "field": "steps.run_uid", "records": [{"path", "location"}], "gap_ms", "rivals",
    "context"}`` as JSON
    text (records: the link's row and/or the input rows of the entities the rule read;
    ``gap_ms`` and ``rivals`` only for time order and trace context; ``context`` =
    ``{"trace_id", "span_id", "interval": [start, end], "produced_at", "channel",
    "channel_named_by"}`` only for trace context). ``latency_ms`` = dst start - src start (for
    a message, its production time).
``component_edges``: ``source, target, kind, count, first_seen, last_seen, latency_p50_ms,
    latency_p95_ms, failures (target failed), source_failures, failure_coupling (share of hops
    whose target failed among hops whose source failed; null if the source never failed),
    confidence (mean)``: ``edges`` aggregated on the entities' ``node`` (self-loops dropped).
``component_nodes``: ``component, system, kind, count, failures, first_seen, last_seen,
    virtual`` (true for a peer known only from the client spans calling it).
``ignored_keys``: ``kind, value, entities``: key values over the fanout threshold.
``meta``: ``correlated_version`` (= ``data_version`` correlated), ``correlate_params``,
    ``correlate_stats`` (iterations, counts, seconds per stage).

Executions are the connected components of the graph whose vertices are entities and whose
edges are shared key values and explicit references (links, ``run_uid``, ``parent_uid``).
Union-find runs as min-label hooking with pointer jumping (``_union_find``), converging in a
few rounds (reported in ``correlate_stats``). Rules:

- Keys of kind ``channel`` never merge (they only orient edges). A key value held by more than
  ``max_key_fanout`` entities (a constant header) is reported in ``ignored_keys`` and ignored.
- ``message_key`` merges only within one channel: the value is scoped by the message's channel
  (or a span's channel key), because a Kafka key is an entity id reused on many topics and over
  an entity's whole life; an entity with a message key and no channel does not merge by it.
- A message whose traceparent names a span is joined to that span's uid, exported or not
  (a consumer span in another trace that links to it is then in the message's execution).
- Entities sharing nothing stay alone: time never merges executions.

Edges, strongest rule first (``rule``, confidence):

1. ``link`` 1.0: explicit links from the sources, kinds as given (oriented downstream).
2. ``run_step`` 1.0 (contains): ``steps.run_uid``; ``step_parent`` 1.0: ``steps.parent_uid``.
3. ``parent_run`` 1.0 (child): ``runs.parent_uid``, unless the parent already reaches a step of
   that run (a span's client -> server link already says it).
4. ``traceparent`` 0.95: an entity carrying ``span_id`` + ``trace_id`` keys naming the OTel span
   ``otel:span:<trace>/<span>`` (not itself): span -> it, ``emits`` for a message (a Kafka
   record's traceparent header), ``triggers`` otherwise (a Temporal run's ``_tracer-data``).
5. ``message_id`` 0.9: a message and a span sharing a ``message_id`` key: producer/client span
   ``emits``, consumer/server span is ``triggered``.
6. ``span_link`` 0.95: a consumer span (kind or messaging operation) whose parent, or one of
   whose span links, is the span a message's traceparent names, consumed that message
   (``triggers``), whether that span was exported or not: the child, linked-root and batch
   conventions of OTel messaging. A consumer stating another channel is not fed by it.
   ``trace_context`` 0.9/0.85: a message whose traceparent names a span that is not in the
   store is ``emitted`` by the run or step of another system carrying that trace id (a
   Temporal activity's ``_tracer-data``, a span of the trace) and running at produce time
   (within ``skew``), never by a consumer or a run a consumer span roots, nor by what the
   message already triggers or anything under it (``steps.parent_uid``/``run_uid``): a
   consumer's own calls run at produce time in the same trace but did not send it. Preferred:
   one on the message's channel (0.9: a channel key; else a Temporal/Cadence activity's input
   string equal to the channel's name, ``detail.input_names`` as the ingestor keeps them,
   ``channel_named_by`` = ``input``; else its component/name/detail containing it), then one
   outside every consumer span's subtree, then one that does not enclose another candidate
   (the activity, not its workflow run: with skew allowed on both ends a worker clock ahead
   puts CreateTime after the activity closed), then the smallest distance outside its
   interval, then the latest start. Lowered by distance outside the interval and by rival
   systems.
7. ``producer_span`` 0.9: a producer (or client) span with a channel key and no message in the
   store gets an inferred message on that channel (``inferred:msg:<span uid>``), so traces
   alone still show service -> topic -> service. ``span_hop`` 0.9: a link from a span that
   emitted a message to a consumer span becomes message -> consumer (``triggers``; the direct
   span -> span link is superseded, its evidence kept); so does a ``traceparent`` trigger from
   a publishing span (one with a channel key: an AWS SDK PutEvents span) to a run started
   after it published (a state machine started through EventBridge under its trace context).
   ``consumer_span`` 0.9: a consumer span with a channel key still without a message gets an
   inferred one it was triggered by. ``virtual_peer`` 0.9: a client span (no channel) that
   calls nothing in the store calls a virtual peer named by its attributes (``VIRTUAL_PEERS``:
   a database, an external host, an uninstrumented service), so peers that send no telemetry
   are nodes of the graph, of hidden and of impact.
8. ``time_order`` (inferred direction): inside one execution, between *islands* (groups joined
   by rules 1-7) of different systems. A message without producer is ``emitted`` by the
   innermost run/step of another system running when it was produced (within ``skew``); the
   root of another island that starts after the message (within ``skew``) is ``triggered`` by
   the nearest preceding message. A consumer (and a run a consumer span roots) never
   produces by time; a producer or client span (and a run one roots) never consumes by time.
   A root is tied only by a channel it consumes or by a key held on its island's consuming
   side by something no message already feeds. A root already fed by a stated hop (into it,
   or into the local root span of a run, which enters the run) gets no time-order trigger.
   Confidence 0.8 with a channel-key match, 0.6 on time only, lowered by the distance outside
   the running interval, by long gaps (0.1 per decade of seconds past 1 s) and by ties (0.1
   per rival); nothing under ``min_confidence`` is kept.
   Executions over ``time_cap`` entities are left to the explicit rules (counted in stats).

After the rules, an edge entering a span that is its service's local root (the run's only
step whose parent lies outside the run) from outside that run enters the run instead, so a
trace reads caller -> service run -> its spans.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from tracemap.errors import AnalysisError
from tracemap.identity import dataset_node_sql
from tracemap.model import BUS_ALIASES, CHANNEL_KINDS, MESSAGING_OPERATIONS, NON_IDENTITY_KEYS
from tracemap.store import Store

#: Tables correlation writes (everything else it creates is a TEMP table dropped at the end).
CORRELATED_TABLES = ("entities", "executions", "edges", "component_edges", "component_nodes",
                     "ignored_keys")

#: Span kinds as steps carry them in ``step_type`` (OTel/Jaeger/Zipkin spans).
SPAN_KINDS = ("server", "client", "producer", "consumer", "internal", "unspecified")

#: Statuses that count as a failure (model.FAILURE_STATUSES, as SQL).
_FAILED = "('failed', 'timed_out')"

#: Rule name -> (priority, confidence); lower priority number wins a (src, dst) pair.
RULES: dict[str, tuple[int, float]] = {
    "link": (1, 1.0),
    "run_step": (2, 1.0),
    "step_parent": (3, 1.0),
    "parent_run": (4, 1.0),
    "traceparent": (5, 0.95),
    "message_id": (6, 0.9),
    "span_link": (7, 0.95),
    "trace_context": (8, 0.9),
    "producer_span": (9, 0.9),
    "span_hop": (10, 0.9),
    "consumer_span": (11, 0.9),
    "virtual_peer": (12, 0.9),
    "time_order": (13, 0.8),
}

#: The name ingest/otlp_json and ingest/rabbitmq_json give RabbitMQ's default exchange.
DEFAULT_EXCHANGE = "amq.default"

#: Systems whose steps are spans: their graph node is the service, not the operation.
SPAN_SYSTEMS = ("otel", "jaeger", "zipkin")


@dataclass(frozen=True, slots=True)
class CorrelateResult:
    """What a correlation produced: counts, ignored keys, iterations and time per stage."""

    executions: int
    entities: int
    edges: int
    component_edges: int
    ignored_keys: int
    multi_system_executions: int
    iterations: dict[str, int]
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    edges_by_rule: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "executions": self.executions, "entities": self.entities, "edges": self.edges,
            "component_edges": self.component_edges, "ignored_keys": self.ignored_keys,
            "multi_system_executions": self.multi_system_executions,
            "edges_by_rule": self.edges_by_rule, "iterations": self.iterations,
            "seconds": round(self.seconds, 3), "params": self.params,
            "stages": {k: round(v, 3) for k, v in self.stages.items()},
        }


def is_stale(store: Store) -> bool:
    """True when the input rows changed since the last correlation, or a correlated table is
    missing (never correlated, or by a tracemap that wrote fewer tables)."""
    if not all(store.has_table(t) for t in CORRELATED_TABLES):
        return True
    return store.meta("correlated_version") != store.meta("data_version")


def correlate(store: Store, *, skew_seconds: float = 2.0, min_confidence: float = 0.5,
              max_key_fanout: int = 1000, time_cap: int = 10_000,
              memory_limit_mb: int | None = None) -> CorrelateResult:
    """Rebuild entities, executions, edges and component edges from the model tables.

    Args:
        store: a writable store.
        skew_seconds: clock-skew tolerance when ordering records of different systems by time.
        min_confidence: edges below this confidence are not kept.
        max_key_fanout: a key value shared by more entities than this is ignored (and reported).
        time_cap: executions larger than this get no time-order inference (explicit rules only).
        memory_limit_mb: DuckDB's memory limit while correlating (it spills to disk past it);
            None keeps the store's (``TRACEMAP_MEMORY_LIMIT``, 1.6 GB by default).
    """
    started = time.perf_counter()
    if skew_seconds < 0 or not 0 <= min_confidence <= 1 or max_key_fanout < 1:
        raise AnalysisError(
            f"correlate: skew must be >= 0 (got {skew_seconds}), min confidence in [0, 1] "
            f"(got {min_confidence}) and max key fanout >= 1 (got {max_key_fanout})")
    params = {"skew_seconds": float(skew_seconds), "min_confidence": float(min_confidence),
              "max_key_fanout": int(max_key_fanout), "time_cap": int(time_cap)}
    run = _Run(store)
    for name, value in (("tm_skew_us", int(skew_seconds * 1_000_000)),
                        ("tm_min_conf", float(min_confidence)),
                        ("tm_fanout", int(max_key_fanout)), ("tm_time_cap", int(time_cap))):
        store.sql(f"SET VARIABLE {name} = ?", [value])
    # FSST for every string column: DuckDB's per-column compression analysis costs as much as
    # the writes themselves, and the correlated tables are rebuilt on every correlation.
    settings = {"preserve_insertion_order": "false", "enable_progress_bar": "false",
                "force_compression": "fsst"}
    if memory_limit_mb:
        settings["memory_limit"] = f"{int(memory_limit_mb)}MB"
    saved = {name: store.sql("SELECT current_setting(?)", [name]).fetchone()[0]
             for name in settings}
    for name, value in settings.items():
        store.sql(f"SET {name} = '{value}'")
    version = store.meta("data_version")
    store.begin()
    try:
        iterations = _correlate(run)
        stats = _stats(store)
        stats.update(iterations=iterations, stages=run.stages)
        store.set_meta("correlated_version", version or "0")
        store.set_meta("correlate_params", json.dumps(params, sort_keys=True))
        store.set_meta("correlate_stats", json.dumps(stats, sort_keys=True, default=str))
        store.commit()
    except BaseException:
        store.rollback()
        raise
    finally:
        for table in _TEMP_TABLES:
            store.sql(f"DROP TABLE IF EXISTS {table}")
        store.sql("DROP MACRO IF EXISTS tm_id")
        for name, value in saved.items():
            store.sql(f"SET {name} = '{value}'")
    return CorrelateResult(
        executions=stats["executions"], entities=stats["entities"], edges=stats["edges"],
        component_edges=stats["component_edges"], ignored_keys=stats["ignored_keys"],
        multi_system_executions=stats["multi_system_executions"], iterations=iterations,
        seconds=time.perf_counter() - started, stages=run.stages, params=params,
        edges_by_rule=stats["edges_by_rule"])


class _Run:
    """Executes named statements and keeps the time spent per stage."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stages: dict[str, float] = {}

    def __call__(self, stage: str, *statements: str) -> None:
        t0 = time.perf_counter()
        for sql in statements:
            self.store.sql(sql)
        self.stages[stage] = self.stages.get(stage, 0.0) + time.perf_counter() - t0

    def scalar(self, sql: str) -> Any:
        return self.store.sql(sql).fetchone()[0]


def _stats(store: Store) -> dict[str, Any]:
    one = lambda sql: store.sql(sql).fetchone()[0]  # noqa: E731
    return {
        "entities": one("SELECT count(*) FROM entities"),
        "executions": one("SELECT count(*) FROM executions"),
        "multi_system_executions": one(
            "SELECT count(*) FROM executions WHERE len(systems) > 1"),
        "edges": one("SELECT count(*) FROM edges"),
        "component_edges": one("SELECT count(*) FROM component_edges"),
        "ignored_keys": one("SELECT count(*) FROM ignored_keys"),
        "edges_by_rule": dict(store.sql(
            "SELECT rule, count(*) FROM edges GROUP BY 1 ORDER BY 1").fetchall()),
    }


# ------------------------------------------------------------------------------------------
# The statements, in order. Every intermediate is a TEMP table prefixed _tm_.
#
# The working set is narrow: entities are integer ids with a pointer to their source row
# (``tbl``: 1 runs, 2 steps, 3 messages, 4 datasets, 0 inferred; ``rid``: its rowid), times as
# epoch µs, and the few short strings the rules test. Wide columns (uid, component, name,
# location...) are read once, when ``entities`` is written. Ids are 63-bit md5 hashes of the
# uid (``tm_id``), so a reference by uid (run_uid, parent_uid, a link's ends, a key's entity)
# is an id without a join on strings; two uids with one id are detected and the hash
# re-salted. A uid referenced but not ingested (a "phantom": the parent span that was not
# exported) is a vertex too, so two children of a missing parent still belong together.

_TEMP_TABLES = ("_tm_src", "_tm_dup", "_tm_ent", "_tm_chan", "_tm_kv", "_tm_kg", "_tm_kx",
                "_tm_kr", "_tm_lnk", "_tm_uf_in", "_tm_uf_e", "_tm_uf_m", "_tm_uf_f", "_tm_exec",
                "_tm_e", "_tm_island", "_tm_root_step", "_tm_tm", "_tm_prod", "_tm_cons",
                "_tm_edges", "_tm_tk", "_tm_ctx", "_tm_tie", "_tm_itie", "_tm_peer")

_NON_IDENTITY = ", ".join(f"'{k}'" for k in sorted(NON_IDENTITY_KEYS))
_SPAN_KINDS = ", ".join(f"'{k}'" for k in SPAN_KINDS)
_SPAN_SYSTEMS = ", ".join(f"'{k}'" for k in SPAN_SYSTEMS)

_OPS = "|".join(MESSAGING_OPERATIONS)
#: A span name of the OTel messaging convention, for exports that keep only names (tabular
#: traces, Zipkin without tags): ``{destination} {operation}`` before semconv 1.24,
#: ``{operation} {destination}`` after (``<default> send``, ``process food_delivery``).
_NAME_OP = (f"coalesce(nullif(regexp_extract(lower(name), '^\\S+ ({_OPS})$', 1), ''), "
            f"nullif(regexp_extract(lower(name), '^({_OPS}) \\S+$', 1), ''))")
_NAME_DEST = (f"coalesce(nullif(regexp_extract(t.name, '^(\\S+) (?i:{_OPS})$', 1), ''), "
              f"nullif(regexp_extract(t.name, '^(?i:{_OPS}) (\\S+)$', 1), ''))")
#: The operation a span states, else its name (a producer/consumer span's; a CLIENT span's only
#: for the operations current conventions give CLIENT spans). The detail is parsed only when
#: its text names an operation: parsing every span's cost 3 s at 5M records.
_OPERATION = ("lower(coalesce(CASE WHEN contains(detail, 'messaging.operation') THEN coalesce("
              "detail->>'messaging.operation.type', detail->>'messaging.operation') END, "
              "CASE WHEN lower(step_type) IN "
              f"('producer', 'consumer') OR (lower(step_type) = 'client' AND {_NAME_OP} IN "
              f"('send', 'publish', 'receive')) THEN {_NAME_OP} END))")
#: A span's kind as correlation reads it: its messaging role when its operation states one.
_ROLE = (f"CASE {_OPERATION} " + " ".join(f"WHEN '{op}' THEN '{side}'"
                                           for op, side in MESSAGING_OPERATIONS.items())
         + " ELSE lower(step_type) END")

#: ``{salt}`` is an internal constant ('', '#1', ...), never input. md5, not ``hash()``:
#: DuckDB's string hash collides on structured ids (zero-padded counters, offsets).
ID_MACRO = "CREATE OR REPLACE TEMP MACRO tm_id(u) AS (md5_number('{salt}' || u) >> 65)::BIGINT"

SOURCE_ROWS = f"""
CREATE OR REPLACE TEMP TABLE _tm_src AS
SELECT tm_id(uid) AS id, 1::UTINYINT AS tbl, rowid AS rid, 1 AS prio, source_id,
       'run' AS kind, system, NULL::VARCHAR AS span_kind, epoch_us(started_at) AS s,
       epoch_us(ended_at) AS e, NULL::BIGINT AS run_id,
       CASE WHEN parent_uid IS NOT NULL THEN tm_id(parent_uid) END AS parent_id,
       NULL::VARCHAR AS channel
FROM runs
UNION ALL
SELECT tm_id(uid), 2, rowid, 2, source_id, 'step', system,
       CASE WHEN lower(step_type) IN ({_SPAN_KINDS}) THEN {_ROLE} END,
       epoch_us(started_at), epoch_us(ended_at),
       CASE WHEN run_uid IS NOT NULL THEN tm_id(run_uid) END,
       CASE WHEN parent_uid IS NOT NULL THEN tm_id(parent_uid) END, NULL
FROM steps
UNION ALL
SELECT tm_id(uid), 3, rowid, 3, source_id, 'message', system, NULL, epoch_us(produced_at),
       epoch_us(produced_at), NULL, NULL, component
FROM messages
UNION ALL
SELECT tm_id(uid), 4, rowid, 4, source_id, 'dataset', 'dataset', NULL, NULL, NULL, NULL, NULL,
       NULL
FROM datasets
"""

DUPLICATES = """
CREATE OR REPLACE TEMP TABLE _tm_dup AS SELECT id FROM _tm_src GROUP BY id HAVING count(*) > 1
"""

# Ids held by rows of different uids (only looked at when some id is repeated).
ID_COLLISIONS = """
SELECT count(*) FROM (
    SELECT s.id, count(DISTINCT coalesce(r.uid, t.uid, m.uid, d.uid)) AS uids
    FROM (SELECT s.* FROM _tm_src s SEMI JOIN _tm_dup x ON x.id = s.id) s
    LEFT JOIN runs r ON s.tbl = 1 AND r.rowid = s.rid
    LEFT JOIN steps t ON s.tbl = 2 AND t.rowid = s.rid
    LEFT JOIN messages m ON s.tbl = 3 AND m.rowid = s.rid
    LEFT JOIN datasets d ON s.tbl = 4 AND d.rowid = s.rid
    GROUP BY s.id) WHERE uids > 1
"""

# The same uid from several sources (or twice in one): the lowest source_id's row wins.
ENTITIES = """
CREATE OR REPLACE TEMP TABLE _tm_ent AS
SELECT * EXCLUDE (prio), false AS inferred, NULL::BIGINT AS origin FROM (
    SELECT s.* FROM _tm_src s ANTI JOIN _tm_dup d ON d.id = s.id
    UNION ALL
    SELECT * FROM (SELECT s.* FROM _tm_src s SEMI JOIN _tm_dup d ON d.id = s.id)
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY prio, source_id, rid) = 1)
"""

# Channels spans and runs are on (their channel keys); a message's is its own component. A
# producer/consumer span without one names its destination in its span name (``_NAME_DEST``)
# when the export kept nothing else; the bus is its ``messaging.system``, else a bus-named
# ``peer.service`` (Zipkin's remote endpoint), else RabbitMQ for ``<default>`` (its default
# exchange, as the Java agent names it), else ``messaging``. Its service run (a local root)
# is on it too, as the ingestors key it.
_BUS = ("lower(coalesce(nullif(t.detail->>'messaging.system', ''), "
        "CASE WHEN lower(t.detail->>'peer.service') IN ("
        + ", ".join(f"'{k}'" for k in CHANNEL_KINDS) + ") THEN t.detail->>'peer.service' END, "
        f"CASE WHEN {_NAME_DEST} = '<default>' THEN 'rabbitmq' END, 'messaging'))")
_CHANNEL = ("CASE bus " + " ".join(f"WHEN '{k}' THEN '{BUS_ALIASES.get(k, k)}:{v}:'"
                                    for k, v in CHANNEL_KINDS.items())
            + " ELSE bus || ':destination:' END || CASE WHEN dest = '<default>' THEN "
            f"'{DEFAULT_EXCHANGE}' ELSE dest END")
CHANNELS = f"""
CREATE OR REPLACE TEMP TABLE _tm_chan AS
WITH keyed AS (
    SELECT DISTINCT k.id, k.value AS channel
    FROM (SELECT tm_id(entity_uid) AS id, value FROM keys WHERE kind = 'channel') k
    SEMI JOIN _tm_ent e ON e.id = k.id AND e.kind <> 'message'
), named AS (
    SELECT e.id, e.run_id, {_BUS} AS bus, {_NAME_DEST} AS dest
    FROM _tm_ent e JOIN steps t ON t.rowid = e.rid
    ANTI JOIN keyed k ON k.id = e.id
    WHERE e.tbl = 2 AND e.span_kind IN ('producer', 'consumer')
      AND e.system IN ({_SPAN_SYSTEMS})
)
SELECT * FROM keyed
UNION
SELECT id, {_CHANNEL} FROM named WHERE dest IS NOT NULL
UNION
SELECT run_id, {_CHANNEL} FROM named WHERE dest IS NOT NULL AND run_id IS NOT NULL
"""

# Identity keys per entity; message keys scoped by channel.
KEY_VALUES = f"""
CREATE OR REPLACE TEMP TABLE _tm_kv AS
SELECT k.id, k.kind, k.value, e.span_kind IS NOT NULL AS on_span
FROM (SELECT tm_id(entity_uid) AS id, kind, value FROM keys
      WHERE kind NOT IN ({_NON_IDENTITY}, 'message_key')) k
JOIN _tm_ent e ON e.id = k.id
UNION ALL
SELECT k.id, k.kind, c.channel || ' ' || k.value, false
FROM (SELECT tm_id(entity_uid) AS id, kind, value FROM keys WHERE kind = 'message_key') k
JOIN (SELECT id, channel FROM _tm_ent WHERE kind = 'message'
      UNION ALL SELECT id, channel FROM _tm_chan) c ON c.id = k.id
"""

# One row per key value with its entities; a key row repeated for one entity counts once where
# the threshold is at stake.
KEY_GROUPS = """
CREATE OR REPLACE TEMP TABLE _tm_kg AS
SELECT kind, value, ids,
       CASE WHEN len(ids) > getvariable('tm_fanout') THEN len(list_distinct(ids))
            ELSE len(ids) END AS n
FROM (SELECT kind, value, list(id) AS ids FROM _tm_kv GROUP BY kind, value)
"""

# What the later steps need of the keys, so the big key tables can go: example values for
# executions, and the keys the traceparent and message-id rules read.
KEY_EXAMPLES = """
CREATE OR REPLACE TEMP TABLE _tm_kx AS
SELECT kind, value, list_min(ids) AS root_id,
       CASE WHEN kind LIKE 'business:%' THEN 0 WHEN kind = 'correlation_id' THEN 1
            WHEN kind = 'workflow_id' THEN 2 WHEN kind = 'execution_arn' THEN 3
            WHEN kind = 'job_run_id' THEN 4 WHEN kind = 'message_id' THEN 5
            WHEN kind = 'causation_id' THEN 6 WHEN kind = 'trace_id' THEN 7 ELSE 9 END AS prio
FROM _tm_kg
WHERE kind NOT IN ('span_id', 'run_id', 'message_key')
  AND n BETWEEN 2 AND getvariable('tm_fanout')
"""

RULE_KEYS = """
CREATE OR REPLACE TEMP TABLE _tm_kr AS
SELECT id, kind, value FROM _tm_kv
WHERE kind = 'message_id' OR (kind IN ('span_id', 'trace_id') AND NOT on_span)
"""

# What a message's traceparent names: the sender's span (``ctx``, exported or not), for the
# rules that follow span links and trace contexts to it; and the trace-id keys of every entity
# in a trace a message names (the runs and spans that may have sent it).
MESSAGE_CONTEXTS = """
CREATE OR REPLACE TEMP TABLE _tm_ctx AS
SELECT ks.id AS m, kt.value AS trace, ks.value AS span,
       tm_id('otel:span:' || kt.value || '/' || ks.value) AS ctx
FROM _tm_kr ks JOIN _tm_kr kt ON kt.id = ks.id AND kt.kind = 'trace_id'
SEMI JOIN _tm_ent m ON m.id = ks.id AND m.kind = 'message'
WHERE ks.kind = 'span_id'
"""

TRACE_KEYS = """
CREATE OR REPLACE TEMP TABLE _tm_tk AS
SELECT DISTINCT k.id, k.value FROM _tm_kv k
SEMI JOIN _tm_ctx c ON c.trace = k.value
WHERE k.kind = 'trace_id'
"""

# Messages and the runs/steps that hold one of their keys themselves (not through a chain of
# other entities): what lets time order tie a message to a run. ``exact`` for the keys that
# name the message (its Kafka key, message id, correlation or causation id: what a run started
# by a Pipes/Lambda event source mapping/Argo Events carries in its input); business keys
# (an order id on every topic of the order's life) tie less. Values over the fanout don't tie.
KEY_TIES = f"""
CREATE OR REPLACE TEMP TABLE _tm_tie AS
WITH k AS (
    SELECT tm_id(entity_uid) AS id, kind, value FROM keys
    WHERE kind NOT IN ({_NON_IDENTITY}, 'trace_id', 'span_id', 'run_id', 'workflow_id',
                       'execution_arn')
), m AS (
    SELECT k.* FROM k SEMI JOIN _tm_ent e ON e.id = k.id AND e.kind = 'message'
    ANTI JOIN _tm_kg g ON g.kind = k.kind AND g.n > getvariable('tm_fanout')
                          AND g.value = k.value
), o AS (  -- only the run and step keys a message shares: the join's build side stays small
    SELECT k.* FROM k SEMI JOIN _tm_ent e ON e.id = k.id AND e.kind IN ('run', 'step')
    SEMI JOIN (SELECT DISTINCT value FROM m) v ON v.value = k.value
)
SELECT m.id AS m, o.id AS x,
       bool_or(m.kind IN ('message_key', 'message_id', 'correlation_id', 'causation_id'))
           AS exact
FROM m JOIN o ON o.value = m.value
     AND (o.kind = m.kind OR (m.kind = 'message_key' AND (o.kind LIKE 'business:%'
                                                          OR o.kind = 'correlation_id')))
GROUP BY m.id, o.id
"""

IGNORED_KEYS = """
CREATE OR REPLACE TABLE ignored_keys AS
SELECT kind, value, n AS entities FROM _tm_kg WHERE n > getvariable('tm_fanout')
ORDER BY n DESC, kind, value
"""

LINK_IDS = """
CREATE OR REPLACE TEMP TABLE _tm_lnk AS
SELECT tm_id(src_uid) AS a, tm_id(dst_uid) AS b, kind, evidence, rowid AS lrow
FROM links WHERE src_uid <> dst_uid
"""

# Union-find input: each key group as a star on its smallest id, and explicit references.
UF_INPUT = """
CREATE OR REPLACE TEMP TABLE _tm_uf_in AS
SELECT list_min(ids) AS a, unnest(ids) AS b FROM _tm_kg
WHERE n BETWEEN 2 AND getvariable('tm_fanout')
UNION ALL SELECT a, b FROM _tm_lnk
UNION ALL SELECT m, ctx FROM _tm_ctx
UNION ALL SELECT id, run_id FROM _tm_ent WHERE run_id IS NOT NULL
UNION ALL SELECT id, parent_id FROM _tm_ent WHERE parent_id IS NOT NULL
"""

ENTITY_EXEC = """
CREATE OR REPLACE TEMP TABLE _tm_ent AS
SELECT e.*, coalesce(f.root, e.id) AS exec FROM _tm_ent e LEFT JOIN _tm_uf_f f ON f.x = e.id
"""

# Execution ids from the smallest entity id of each group: stable while the group is.
EXECUTION_IDS = """
CREATE OR REPLACE TEMP TABLE _tm_exec AS
SELECT exec AS root, 'x' || lpad(printf('%x', min(id)), 16, '0') AS execution_id,
       count(*) AS n
FROM _tm_ent GROUP BY exec
"""

# Candidate edges: (src, dst, kind, rule, prio, confidence, evidence parts). Evidence records
# are the link's row (``lrow``: its rowid in links) and/or the edge's own ends (rec_src,
# rec_dst); locations are read only when the edges are written.
EDGES_TABLE = """
CREATE OR REPLACE TEMP TABLE _tm_e (
    src BIGINT, dst BIGINT, kind VARCHAR, rule VARCHAR, prio INTEGER, confidence DOUBLE,
    ev_type VARCHAR, ev_kind VARCHAR, ev_value VARCHAR, gap_ms DOUBLE, rivals INTEGER,
    lrow BIGINT, rec_src BOOLEAN, rec_dst BOOLEAN)
"""

# Which way a stated link points, when the source states it upstream.
_FLIP = """CASE l.kind
    WHEN 'emits' THEN s.kind = 'message' AND d.kind <> 'message'
    WHEN 'triggers' THEN d.kind = 'message' AND s.kind <> 'message'
    WHEN 'consumes' THEN d.kind = 'message' AND s.kind <> 'message'
    WHEN 'writes' THEN s.kind = 'dataset' AND d.kind <> 'dataset'
    WHEN 'reads' THEN d.kind = 'dataset' AND s.kind <> 'dataset'
    WHEN 'retry_of' THEN true
    ELSE false END"""

RULE_LINK = f"""
INSERT INTO _tm_e
SELECT CASE WHEN flip THEN b ELSE a END, CASE WHEN flip THEN a ELSE b END, kind, 'link', 1,
       1.0, 'link', kind, evidence, NULL, NULL, lrow, false, false
FROM (SELECT l.a, l.b, l.kind, l.evidence, l.lrow, {_FLIP} AS flip
      FROM _tm_lnk l JOIN _tm_ent s ON s.id = l.a JOIN _tm_ent d ON d.id = l.b
      WHERE l.a <> l.b)
"""

RULE_RUN_STEP = """
INSERT INTO _tm_e
SELECT s.run_id, s.id, 'contains', 'run_step', 2, 1.0, 'field', 'steps.run_uid', NULL, NULL,
       NULL, NULL, false, true
FROM _tm_ent s SEMI JOIN _tm_ent r ON r.id = s.run_id
ANTI JOIN _tm_lnk l ON l.a = s.run_id AND l.b = s.id
WHERE s.kind = 'step' AND s.run_id <> s.id
"""

RULE_STEP_PARENT = """
INSERT INTO _tm_e
SELECT s.parent_id, s.id, 'contains', 'step_parent', 3, 1.0, 'field', 'steps.parent_uid',
       NULL, NULL, NULL, NULL, false, true
FROM _tm_ent s SEMI JOIN _tm_ent p ON p.id = s.parent_id
ANTI JOIN _tm_lnk l ON l.a = s.parent_id AND l.b = s.id
WHERE s.kind = 'step' AND s.parent_id <> s.id
"""

RULE_PARENT_RUN = """
INSERT INTO _tm_e
SELECT r.parent_id, r.id, 'child', 'parent_run', 4, 1.0, 'field', 'runs.parent_uid', NULL,
       NULL, NULL, NULL, false, true
FROM _tm_ent r SEMI JOIN _tm_ent p ON p.id = r.parent_id
ANTI JOIN (SELECT e.src, s.run_id FROM _tm_e e JOIN _tm_ent s ON s.id = e.dst
           WHERE s.run_id IS NOT NULL) reach ON reach.src = r.parent_id AND reach.run_id = r.id
WHERE r.kind = 'run' AND r.parent_id <> r.id
"""

# A span named by another entity's traceparent keys (trace id + span id) started it.
RULE_TRACEPARENT = """
INSERT INTO _tm_e
SELECT sp.id, x.id, CASE WHEN x.kind = 'message' THEN 'emits' ELSE 'triggers' END,
       'traceparent', 5, 0.95, 'key', 'span_id', x.span, NULL, NULL, NULL, true, true
FROM (SELECT x.id, x.kind, x.exec, ks.value AS span,
             tm_id('otel:span:' || kt.value || '/' || ks.value) AS span_id
      FROM _tm_kr ks
      JOIN _tm_kr kt ON kt.id = ks.id AND kt.kind = 'trace_id'
      JOIN _tm_ent x ON x.id = ks.id
      WHERE ks.kind = 'span_id' AND x.span_kind IS NULL) x
JOIN _tm_ent sp ON sp.id = x.span_id
WHERE sp.id <> x.id AND sp.exec = x.exec
"""

RULE_MESSAGE_ID = """
INSERT INTO _tm_e
SELECT CASE WHEN s.span_kind IN ('producer', 'client') THEN s.id ELSE m.id END,
       CASE WHEN s.span_kind IN ('producer', 'client') THEN m.id ELSE s.id END,
       CASE WHEN s.span_kind IN ('producer', 'client') THEN 'emits' ELSE 'triggers' END,
       'message_id', 6, 0.9, 'key', 'message_id', km.value, NULL, NULL, NULL, true, true
FROM _tm_kr km
JOIN _tm_ent m ON m.id = km.id AND m.kind = 'message'
JOIN _tm_kr ks ON ks.kind = 'message_id' AND ks.value = km.value AND ks.id <> km.id
JOIN _tm_ent s ON s.id = ks.id AND s.kind IN ('run', 'step') AND s.system <> m.system
WHERE km.kind = 'message_id' AND s.exec = m.exec
  AND s.span_kind IN ('producer', 'client', 'consumer', 'server')
"""

# A consumer span linked to (or a child of) the span a message's traceparent names consumed that
# message: the current default is a new trace with a span link, a batch span links many. Its
# channel, when it states one, must be the message's (one send span may publish to several).
RULE_SPAN_LINK = """
INSERT INTO _tm_e
SELECT x.m, c.id, 'triggers', 'span_link', 7, 0.95, 'key', 'span_id', x.span, NULL, NULL,
       l.lrow, true, true
FROM _tm_ctx x
JOIN (SELECT a, b, min(lrow) AS lrow FROM (
          SELECT a, b, lrow FROM _tm_lnk
          UNION ALL SELECT parent_id, id, NULL FROM _tm_ent WHERE parent_id IS NOT NULL)
      GROUP BY a, b) l ON l.a = x.ctx
JOIN _tm_ent c ON c.id = l.b AND c.kind = 'step' AND c.span_kind = 'consumer'
JOIN _tm_ent m ON m.id = x.m
LEFT JOIN (SELECT id, list(channel) AS channels FROM _tm_chan GROUP BY id) ch ON ch.id = c.id
WHERE c.exec = m.exec AND (ch.channels IS NULL OR list_contains(ch.channels, m.channel))
"""

# A message whose traceparent names a span that was not exported was sent by a run or step that
# carries that trace (a Temporal activity's ``_tracer-data``, a span of the trace) and was
# running when the message was produced (within skew): the one on the message's channel (a
# channel key, an input string equal to it, else its name, type or input naming the
# destination) first, then one outside consumers' subtrees, then the innermost (not enclosing
# another candidate), then the nearest in time. Consumers (and runs a consumer span roots) never
# send what they receive, nor does anything under what the message triggers.
def _iso(epoch_us: str) -> str:
    return f"to_json(strftime(make_timestamp({epoch_us}), '%Y-%m-%dT%H:%M:%S.%fZ'))"


RULE_TRACE_CONTEXT = f"""
INSERT INTO _tm_e
WITH RECURSIVE msg AS (
    SELECT m.id, m.s, m.exec, m.system, m.channel, x.trace, x.span,
           lower(regexp_extract(m.channel, '^[^:]*:[^:]*:(.*)$', 1)) AS dest
    FROM _tm_ctx x JOIN _tm_ent m ON m.id = x.m
    ANTI JOIN _tm_ent sp ON sp.id = x.ctx
    ANTI JOIN _tm_e fed ON fed.dst = m.id AND fed.kind = 'emits'
    WHERE NOT m.inferred AND m.s IS NOT NULL
), tree AS (
    SELECT parent_id AS a, id AS b FROM _tm_ent WHERE parent_id IS NOT NULL AND parent_id <> id
    UNION ALL
    SELECT run_id, id FROM _tm_ent WHERE run_id IS NOT NULL AND run_id <> id
), fed_sub(m, id) AS (
    SELECT e.src, e.dst FROM _tm_e e SEMI JOIN msg ON msg.id = e.src WHERE e.kind = 'triggers'
    UNION
    SELECT f.m, t.b FROM fed_sub f JOIN tree t ON t.a = f.id
), under_consumer(id) AS (
    SELECT c.id FROM _tm_ent c SEMI JOIN msg ON msg.exec = c.exec
    WHERE c.kind = 'step' AND c.span_kind = 'consumer'
    UNION
    SELECT t.b FROM under_consumer u JOIN tree t ON t.a = u.id
), cand AS MATERIALIZED (
    SELECT m.id AS m, m.trace, m.span, m.channel, m.dest, m.s AS m_s, p.id AS p, p.tbl,
           p.rid, p.system AS psys, p.s AS p_s, coalesce(p.e, p.s) AS p_e,
           p.parent_id AS p_parent, p.run_id AS p_run,
           greatest(p.s - m.s, m.s - coalesce(p.e, p.s), 0) AS outside_us,
           coalesce(list_contains(ch.channels, m.channel), false) AS chan,
           uc.id IS NOT NULL AS in_consumer
    FROM msg m JOIN _tm_tk k ON k.value = m.trace
    JOIN _tm_ent p ON p.id = k.id AND p.kind IN ('run', 'step') AND p.id <> m.id
    LEFT JOIN _tm_root_step rs ON rs.run = p.id LEFT JOIN _tm_ent r ON r.id = rs.step
    LEFT JOIN (SELECT id, list(channel) AS channels FROM _tm_chan GROUP BY id) ch
        ON ch.id = p.id
    LEFT JOIN (SELECT DISTINCT id FROM under_consumer) uc ON uc.id = p.id
    ANTI JOIN fed_sub fs ON fs.m = m.id AND fs.id = p.id
    WHERE p.exec = m.exec AND p.system <> m.system AND p.s IS NOT NULL
      AND coalesce(p.span_kind, r.span_kind, '') <> 'consumer'
      AND p.s - getvariable('tm_skew_us') <= m.s
      AND m.s <= coalesce(p.e, p.s) + getvariable('tm_skew_us')
), named AS (
    SELECT c.*, CASE WHEN c.chan THEN 'channel key'
                     WHEN c.dest <> '' AND list_contains(list_transform(coalesce(
                          json_extract_string(t.detail, '$.input_names[*]'), []),
                          lambda v: lower(v)), c.dest) THEN 'input'
                     WHEN c.dest <> '' AND position(c.dest IN lower(concat_ws(' ',
                          coalesce(r.component, t.component), coalesce(r.name, t.name),
                          coalesce(r.detail, t.detail)::VARCHAR))) > 0
                     THEN 'name or input' END AS named_by,
           EXISTS (SELECT 1 FROM cand i WHERE i.m = c.m AND i.p <> c.p
                   AND (i.p_parent = c.p OR i.p_run = c.p)) AS encloses
    FROM cand c LEFT JOIN runs r ON c.tbl = 1 AND r.rowid = c.rid
    LEFT JOIN steps t ON c.tbl = 2 AND t.rowid = c.rid
), best AS (
    SELECT m, arg_min({{'p': p, 'p_s': p_s, 'p_e': p_e, 'outside_us': outside_us,
                        'named_by': named_by}},
                      (named_by IS NULL, in_consumer, encloses, outside_us, -p_s, p)) AS b,
           any_value(trace) AS trace, any_value(span) AS span, any_value(channel) AS channel,
           any_value(m_s) AS m_s, bool_or(named_by IS NOT NULL) AS named,
           count(DISTINCT psys) FILTER (WHERE named_by IS NOT NULL) AS sys_named,
           count(DISTINCT psys) FILTER (WHERE named_by IS NULL) AS sys_time
    FROM named GROUP BY m
)
SELECT b.p, m, 'emits', 'trace_context', 8,
       (CASE WHEN named THEN 0.9 ELSE 0.85 END
        - 0.1 * least(b.outside_us / greatest(getvariable('tm_skew_us'), 1), 1.0)
        - 0.05 * least(CASE WHEN named THEN sys_named ELSE sys_time END - 1, 2)),
       'context',
       concat('{{"trace_id":', to_json(trace), ',"span_id":', to_json(span),
              ',"interval":[', {_iso("b.p_s")}, ',', {_iso("b.p_e")}, '],"produced_at":',
              {_iso("m_s")}, ',"channel":', to_json(channel),
              ',"channel_named_by":', coalesce(to_json(b.named_by), 'null'), '}}'),
       trace, b.outside_us / 1000.0, CASE WHEN named THEN sys_named ELSE sys_time END - 1,
       NULL, true, true
FROM best
"""

# Islands: what the rules so far hold together. Time order only links different islands, in
# executions holding a message of the store (inferred ones always have their span).
_TIMED_EXECS = """(SELECT x.root FROM _tm_exec x
                   SEMI JOIN _tm_ent m ON m.exec = x.root AND m.kind = 'message'
                   WHERE x.n > 1 AND x.n <= getvariable('tm_time_cap'))"""

ISLAND_INPUT = f"""
CREATE OR REPLACE TEMP TABLE _tm_uf_in AS
SELECT e.src AS a, e.dst AS b
FROM _tm_e e JOIN _tm_ent s ON s.id = e.src
SEMI JOIN {_TIMED_EXECS} x ON x.root = s.exec
"""

# A run stands for its local-root span: it produces or consumes as that span does (its channel
# keys are that span's), and an edge into that span from outside the run enters the run
# (``EDGES_BEST``), so such an edge already feeds the run. ``fed``: an edge enters it;
# ``consumed``: an edge from a message does (it already took its message).
ISLAND_FED = """
CREATE OR REPLACE TEMP TABLE _tm_fed AS
WITH entered AS (
    SELECT e.dst AS id, e.src FROM _tm_e e
    UNION ALL
    SELECT rs.run, e.src FROM _tm_e e JOIN _tm_root_step rs ON rs.step = e.dst
    JOIN _tm_ent s ON s.id = e.src
    WHERE s.run_id IS DISTINCT FROM rs.run AND e.src <> rs.run
)
SELECT n.id, bool_or(s.kind = 'message') AS consumed
FROM entered n JOIN _tm_ent s ON s.id = n.src GROUP BY n.id
"""

# In steps: one statement joining every entity to all of these at once outgrew a 2 GB store at
# 5M records, where each join alone fits.
ISLANDS = (f"""
CREATE OR REPLACE TEMP TABLE _tm_island AS
SELECT e.id, e.exec, coalesce(f.root, e.id) AS island, e.kind, e.span_kind,
       hash(e.system) AS sys, e.s, coalesce(e.e, e.s) AS e, e.channel
FROM _tm_ent e LEFT JOIN _tm_uf_f f ON f.x = e.id
SEMI JOIN {_TIMED_EXECS} x ON x.root = e.exec
WHERE e.s IS NOT NULL AND NOT e.inferred AND e.kind <> 'dataset'
""", """
CREATE OR REPLACE TEMP TABLE _tm_island AS
SELECT i.id, i.exec, i.island, i.kind = 'message' AS is_msg,
       i.kind IN ('run', 'step')
           AND coalesce(i.span_kind, r.span_kind, '') <> 'consumer' AS can_produce,
       i.kind IN ('run', 'step')
           AND coalesce(i.span_kind, r.span_kind, '') NOT IN ('producer', 'client')
           AS can_consume,
       fd.id IS NOT NULL AS fed, coalesce(fd.consumed, false) AS consumed,
       i.sys, i.s, i.e, i.channel, c.channels
FROM _tm_island i
LEFT JOIN (SELECT id, list(channel) AS channels FROM _tm_chan GROUP BY id) c ON c.id = i.id
LEFT JOIN (SELECT rs.run, s.span_kind FROM _tm_root_step rs JOIN _tm_ent s ON s.id = rs.step) r
    ON r.run = i.id
LEFT JOIN _tm_fed fd ON fd.id = i.id
""")

# Islands holding a key of a message. A consumer's tie (``cons``) is held on the consuming side
# by something that has not already taken a message: the key a producer span or a consumer
# fed by a stated hop carries names the message it sent or took, not one still to be taken.
ISLAND_TIES = """
CREATE OR REPLACE TEMP TABLE _tm_itie AS
SELECT t.m, i.island, bool_or(t.exact) AS exact,
       bool_or(i.can_consume AND NOT i.consumed) AS cons,
       bool_or(t.exact AND i.can_consume AND NOT i.consumed) AS cons_exact
FROM _tm_tie t JOIN _tm_island i ON i.id = t.x GROUP BY t.m, i.island
"""

# Producer by time: the innermost run/step of another system and island running when the
# message was produced (within skew), tied to the message by its channel (channel key) or by a
# key of the message that the producer's island holds; channel first, then a key naming the
# message, then the smallest distance outside the interval, then the innermost. Time alone
# draws nothing: two systems busy at the same moment are not a hop.
TIME_PRODUCERS = """
CREATE OR REPLACE TEMP TABLE _tm_prod AS
WITH msg AS (
    SELECT m.* FROM _tm_island m ANTI JOIN _tm_e fed ON fed.dst = m.id WHERE m.is_msg
), act AS (
    SELECT * FROM _tm_island WHERE can_produce
), cand AS (
    SELECT m.id AS m, p.id AS p, p.sys AS psys, p.island AS p_island, p.s AS p_s,
           greatest(p.s - m.s, m.s - p.e, 0) AS outside_us,
           coalesce(list_contains(p.channels, m.channel), false) AS chan,
           CASE WHEN list_contains(p.channels, m.channel) THEN 0 WHEN t.exact THEN 1
                ELSE 2 END AS tier
    FROM msg m
    JOIN act p ON p.exec = m.exec AND p.island <> m.island AND p.sys <> m.sys
    LEFT JOIN _tm_itie t ON t.m = m.id AND t.island = p.island
    WHERE p.s - getvariable('tm_skew_us') <= m.s AND m.s <= p.e + getvariable('tm_skew_us')
      AND (coalesce(list_contains(p.channels, m.channel), false) OR t.m IS NOT NULL)
), best AS (
    -- one pass over the pairs: the best candidate, and how many systems compete in each tier
    SELECT m, arg_min({'p': p, 'p_island': p_island, 'p_s': p_s, 'outside_us': outside_us},
                      (tier, outside_us, -p_s, p)) AS b, min(tier) AS tier,
           list(DISTINCT (tier, psys)) AS tiers
    FROM cand GROUP BY m
)
SELECT m, b.p, b.p_island, b.p_s, tier = 0 AS chan, b.outside_us / 1000.0 AS outside_ms,
       len(list_filter(tiers, lambda t: t[1] = tier)) - 1 AS rivals,
       (CASE WHEN tier < 2 THEN 0.8 ELSE 0.7 END
        - 0.1 * least(b.outside_us / greatest(getvariable('tm_skew_us'), 1), 1.0)
        - 0.1 * least(len(list_filter(tiers, lambda t: t[1] = tier)) - 1, 3)) AS confidence
FROM best
"""

# Consumer by time: the root of another island that no edge feeds yet, able to consume,
# starting after the message (within skew, and not before its producer started, within skew;
# 0.1 less if it seems to), takes the preceding message of the execution tied to it: a key
# naming the message held on the island's consuming side (what a run started by a message
# carries in its input) first, then the channel it consumes (channel key), then a business
# key; the nearest among equals. One trigger per island; time alone draws nothing.
TIME_CONSUMERS = """
CREATE OR REPLACE TEMP TABLE _tm_cons AS
WITH roots AS (
    SELECT * FROM _tm_island WHERE can_consume AND NOT fed
), msg AS (
    SELECT m.*, pr.p_island, pr.p_s
    FROM _tm_island m
    LEFT JOIN _tm_prod pr ON pr.m = m.id AND pr.confidence >= getvariable('tm_min_conf')
    WHERE m.is_msg
), cand AS MATERIALIZED (
    SELECT m.id AS m, r.id AS c, r.island, r.s - m.s AS gap_us, m.s AS m_s,
           coalesce(list_contains(r.channels, m.channel), false) AS chan,
           CASE WHEN t.cons_exact THEN 0 WHEN list_contains(r.channels, m.channel) THEN 1
                ELSE 2 END AS tier,
           coalesce(r.s < m.p_s, false) AS before_producer
    FROM msg m
    JOIN roots r ON r.exec = m.exec AND r.island <> m.island AND r.sys <> m.sys
    LEFT JOIN _tm_itie t ON t.m = m.id AND t.island = r.island AND t.cons
    WHERE r.island IS DISTINCT FROM m.p_island
      AND r.s >= m.s - getvariable('tm_skew_us')
      AND (m.p_s IS NULL OR r.s >= m.p_s - getvariable('tm_skew_us'))
      AND (coalesce(list_contains(r.channels, m.channel), false) OR t.m IS NOT NULL)
), best AS (
    SELECT island,
           arg_min({'m': m, 'c': c, 'gap_us': gap_us, 'before_producer': before_producer,
                    'chan': chan},
                   (tier, gap_us < 0, -m_s, c, m)) AS b,
           min(tier) AS tier,
           list(tier) FILTER (WHERE abs(gap_us) <= getvariable('tm_skew_us')) AS near_tiers
    FROM cand GROUP BY island
), picked AS (
    SELECT b.b.m AS m, b.b.c AS c, b.b.gap_us AS gap_us, b.b.before_producer AS before_producer,
           b.b.chan AS chan, b.tier,
           len(list_filter(coalesce(near_tiers, []), lambda t: t = b.tier)) AS near
    FROM best b
)
SELECT m, c, chan, gap_us / 1000.0 AS gap_ms, greatest(near - 1, 0) AS rivals,
       (CASE WHEN tier < 2 THEN 0.8 ELSE 0.7 END
        - CASE WHEN gap_us < 0
               THEN 0.1 * least(-gap_us / greatest(getvariable('tm_skew_us'), 1), 1.0)
               WHEN gap_us > 1000000 THEN 0.1 * log10(gap_us / 1000000.0)
               ELSE 0 END
        - CASE WHEN before_producer THEN 0.1 ELSE 0 END
        - 0.1 * least(greatest(near - 1, 0), 2)) AS confidence
FROM picked
"""

RULE_TIME = (
    """
INSERT INTO _tm_e
SELECT p.p, p.m, 'emits', 'time_order', 13, p.confidence, 'key',
       CASE WHEN p.chan THEN 'channel' END, CASE WHEN p.chan THEN m.channel END,
       p.outside_ms, p.rivals, NULL, true, true
FROM _tm_prod p JOIN _tm_ent m ON m.id = p.m
WHERE p.confidence >= getvariable('tm_min_conf')
""",
    """
INSERT INTO _tm_e
SELECT c.m, c.c, 'triggers', 'time_order', 13, c.confidence, 'key',
       CASE WHEN c.chan THEN 'channel' END, CASE WHEN c.chan THEN m.channel END,
       c.gap_ms, c.rivals, NULL, true, true
FROM _tm_cons c JOIN _tm_ent m ON m.id = c.m
WHERE c.confidence >= getvariable('tm_min_conf')
""",
)

# Producer spans with a channel and no message of theirs in the store: an inferred message.
INFERRED_PRODUCED = """
INSERT INTO _tm_ent (id, tbl, source_id, kind, system, s, e, channel, inferred, origin, exec)
SELECT tm_id('inferred:msg:' || p.id), 0, p.source_id, 'message',
       split_part(c.channel, ':', 1), p.s, p.s, c.channel, true, p.id, p.exec
FROM _tm_ent p
JOIN (SELECT id, min(channel) AS channel FROM _tm_chan GROUP BY id) c ON c.id = p.id
ANTI JOIN (SELECT e.src FROM _tm_e e JOIN _tm_ent m ON m.id = e.dst
           WHERE m.kind = 'message') em ON em.src = p.id
WHERE p.kind = 'step' AND p.span_kind IN ('producer', 'client')
"""

RULE_PRODUCER_SPAN = """
INSERT INTO _tm_e
SELECT p.id, m.id, 'emits', 'producer_span', 9, 0.9, 'key', 'channel', m.channel, NULL, NULL,
       NULL, true, false
FROM _tm_ent m JOIN _tm_ent p ON p.id = m.origin
WHERE m.inferred AND p.span_kind IN ('producer', 'client')
"""

# A link from a span that emitted messages to a consumer span: the hop went through one of
# those messages (the one on the consumer's channel, else the nearest in time; the only one,
# whatever channel the consumer names: a RabbitMQ exchange delivers to a queue of another name).
SPAN_HOP = """
CREATE OR REPLACE TEMP TABLE _tm_tm AS
WITH emit AS (
    SELECT e.src AS p, m.id AS m, m.channel, m.s AS m_s,
           count(*) OVER (PARTITION BY e.src) AS n_emit
    FROM _tm_e e JOIN _tm_ent m ON m.id = e.dst
    WHERE e.kind = 'emits' AND m.kind = 'message'
), hop AS (
    SELECT l.src AS p, l.dst AS c, l.rule, l.ev_type, l.ev_kind, l.ev_value, l.lrow,
           c.span_kind, c.s AS c_s, ch.channel AS c_channel,
           count(ch.channel) OVER (PARTITION BY l.src, l.dst) AS c_channels
    FROM _tm_e l JOIN _tm_ent c ON c.id = l.dst
    SEMI JOIN emit ON emit.p = l.src
    LEFT JOIN _tm_chan ch ON ch.id = l.dst
    WHERE ((l.rule = 'link' AND l.kind IN ('calls', 'child', 'contains', 'follows_from'))
           -- a run started under a publishing span's trace context after the span emitted
           -- a message (X-Ray through EventBridge into Step Functions) was started by that
           -- message; a span that does not publish (no channel) may well start it directly
           OR (l.rule = 'traceparent' AND l.kind = 'triggers'
               AND l.src IN (SELECT id FROM _tm_chan)))
      AND c.kind IN ('step', 'run')
), pairs AS (
    SELECT h.p, h.c, arg_min({'m': em.m, 'ev_type': h.ev_type, 'ev_kind': h.ev_kind,
                              'ev_value': h.ev_value, 'lrow': h.lrow},
                             (NOT coalesce(h.c_channel = em.channel, false),
                              abs(h.c_s - em.m_s), em.m)) AS b
    FROM hop h JOIN emit em ON em.p = h.p
    WHERE h.c_channel = em.channel
       OR (h.c_channels = 0 AND h.span_kind = 'consumer')
       OR (em.n_emit = 1 AND h.span_kind = 'consumer')
       OR (h.c_channels = 0 AND h.rule = 'traceparent'
           AND em.m_s <= h.c_s + getvariable('tm_skew_us'))
    GROUP BY h.p, h.c
)
SELECT p, c, b.m, b.ev_type, b.ev_kind, b.ev_value, b.lrow FROM pairs
"""

SPAN_HOP_APPLY = (
    """
INSERT INTO _tm_e
SELECT m, c, 'triggers', 'span_hop', 10, 0.9, ev_type, ev_kind, ev_value, NULL, NULL, lrow,
       true, false
FROM _tm_tm
""",
    """
DELETE FROM _tm_e WHERE rule IN ('link', 'step_parent', 'parent_run', 'traceparent')
                   AND (src, dst) IN (SELECT p, c FROM _tm_tm)
""",
)

# A span that is its service's local root: edges into it from outside its run enter the run.
ROOT_STEPS = f"""
CREATE OR REPLACE TEMP TABLE _tm_root_step AS
SELECT s.run_id AS run, any_value(s.id) AS step
FROM _tm_ent s SEMI JOIN _tm_ent r ON r.id = s.run_id AND r.kind = 'run'
LEFT JOIN _tm_ent p ON p.id = s.parent_id
WHERE s.kind = 'step' AND s.span_kind IS NOT NULL AND s.system IN ({_SPAN_SYSTEMS})
  AND p.run_id IS DISTINCT FROM s.run_id
GROUP BY s.run_id HAVING count(*) = 1
"""

# Consumer spans with a channel still fed by no message: the message they say they consumed.
INFERRED_CONSUMED = """
INSERT INTO _tm_ent (id, tbl, source_id, kind, system, s, e, channel, inferred, origin, exec)
SELECT tm_id('inferred:msg:' || c.id), 0, c.source_id, 'message',
       split_part(ch.channel, ':', 1), c.s, c.s, ch.channel, true, c.id, c.exec
FROM _tm_ent c
JOIN (SELECT id, min(channel) AS channel FROM _tm_chan GROUP BY id) ch ON ch.id = c.id
ANTI JOIN (SELECT e.dst AS id FROM _tm_e e JOIN _tm_ent m ON m.id = e.src
           WHERE m.kind = 'message'
           UNION ALL
           SELECT rs.step FROM _tm_e e JOIN _tm_ent m ON m.id = e.src
           JOIN _tm_root_step rs ON rs.run = e.dst WHERE m.kind = 'message'
           UNION ALL
           SELECT origin FROM _tm_ent WHERE origin IS NOT NULL) fed ON fed.id = c.id
WHERE c.kind = 'step' AND c.span_kind = 'consumer' AND NOT c.inferred
"""

RULE_CONSUMER_SPAN = """
INSERT INTO _tm_e
SELECT m.id, c.id, 'triggers', 'consumer_span', 11, 0.9, 'key', 'channel', m.channel,
       NULL, NULL, NULL, false, true
FROM _tm_ent m JOIN _tm_ent c ON c.id = m.origin
WHERE m.inferred AND c.span_kind = 'consumer'
"""

# Client spans nobody answered (no span of the callee in the store: a database, an external API,
# an uninstrumented service) call a virtual peer, named by what the span says it called, in
# this order (first attribute present): ``db.system.name`` (semconv >= 1.33) or ``db.system``
# (node ``<db.system>:database:<db.namespace
# | db.name | peer.service | server.address | net.peer.name>``), ``peer.service`` (Zipkin's
# ``remoteEndpoint.serviceName``; ``otel:service:<name>``, the node it would have if it sent
# telemetry), ``rpc.service`` (``peer:rpc:<service>``), ``server.address`` / ``net.peer.name``
# (``peer:host:<address>``). Messaging clients (with a channel) are not peers.
_PEER_NAMES = (
    *((db, f"lower(d->>'{db}') || ':database:' || coalesce("
       + ", ".join(f"nullif(d->>'{a}', '')" for a in (
           "db.namespace", "db.name", "peer.service", "server.address", "net.peer.name"))
       + f", lower(d->>'{db}'))") for db in ("db.system.name", "db.system")),
    ("peer.service", "'otel:service:' || (d->>'peer.service')"),
    ("rpc.service", "'peer:rpc:' || (d->>'rpc.service')"),
    ("server.address", "'peer:host:' || lower(d->>'server.address')"),
    ("net.peer.name", "'peer:host:' || lower(d->>'net.peer.name')"),
)
_PEER_NODE = ("CASE " + " ".join(f"WHEN nullif(d->>'{a}', '') IS NOT NULL THEN {expr}"
                                 for a, expr in _PEER_NAMES) + " END")
_PEER_ATTR = ("CASE " + " ".join(f"WHEN nullif(d->>'{a}', '') IS NOT NULL THEN '{a}'"
                                 for a, _ in _PEER_NAMES) + " END")

VIRTUAL_PEERS = (
    f"""
CREATE OR REPLACE TEMP TABLE _tm_peer AS
SELECT tm_id('virtual:peer:' || id) AS id, id AS origin, source_id, s, e, exec, node,
       'steps.detail.' || attr AS attr
FROM (SELECT c.id, c.source_id, c.s, c.e, c.exec, {_PEER_NODE} AS node, {_PEER_ATTR} AS attr
      FROM (SELECT c.*, t.detail AS d FROM _tm_ent c JOIN steps t ON t.rowid = c.rid
            ANTI JOIN _tm_chan ch ON ch.id = c.id
            ANTI JOIN (SELECT DISTINCT src FROM _tm_e WHERE kind <> 'contains') o
                ON o.src = c.id
            WHERE c.tbl = 2 AND c.span_kind = 'client' AND c.system IN ({_SPAN_SYSTEMS})) c)
WHERE node IS NOT NULL
""",
    """
INSERT INTO _tm_ent (id, tbl, source_id, kind, system, s, e, inferred, origin, exec)
SELECT id, 0, source_id, 'peer', split_part(node, ':', 1), s, e, true, origin, exec
FROM _tm_peer
""",
    """
INSERT INTO _tm_e
SELECT origin, id, 'calls', 'virtual_peer', 12, 0.9, 'field', attr, NULL, NULL, NULL, NULL,
       true, false
FROM _tm_peer
""",
)

# Edges into a local-root span from outside its run enter the run. Then: every kind of link a
# source states between two entities is kept (a parent both starts and signals its child);
# the other rules only fill pairs no link connects, one edge per pair, the strongest rule;
# nothing under min_confidence. Most pairs have one candidate, so only repeats are ranked.
EDGES_BEST = """
CREATE OR REPLACE TEMP TABLE _tm_edges AS
WITH kept AS MATERIALIZED (
    SELECT e.* FROM _tm_e e ANTI JOIN _tm_root_step rs ON rs.step = e.dst
    WHERE e.src <> e.dst AND e.confidence >= getvariable('tm_min_conf')
    UNION ALL
    SELECT e.* REPLACE (CASE WHEN s.run_id IS DISTINCT FROM rs.run AND e.src <> rs.run
                             THEN rs.run ELSE e.dst END AS dst)
    FROM _tm_e e JOIN _tm_root_step rs ON rs.step = e.dst JOIN _tm_ent s ON s.id = e.src
    WHERE e.src <> e.dst AND e.confidence >= getvariable('tm_min_conf')
), cand AS MATERIALIZED (
    SELECT k.*, k.kind AS link_kind FROM kept k WHERE k.src <> k.dst AND k.rule = 'link'
    UNION ALL
    SELECT k.*, NULL FROM kept k
    ANTI JOIN (SELECT DISTINCT src, dst FROM kept WHERE rule = 'link') l
        ON l.src = k.src AND l.dst = k.dst
    WHERE k.src <> k.dst AND k.rule <> 'link'
), rep AS (
    SELECT src, dst, link_kind FROM cand GROUP BY src, dst, link_kind HAVING count(*) > 1
)
SELECT c.* EXCLUDE (prio, link_kind) FROM cand c
ANTI JOIN rep r ON r.src = c.src AND r.dst = c.dst
                   AND r.link_kind IS NOT DISTINCT FROM c.link_kind
UNION ALL
SELECT * EXCLUDE (prio, link_kind) FROM (
    SELECT c.* FROM cand c SEMI JOIN rep r ON r.src = c.src AND r.dst = c.dst
                                          AND r.link_kind IS NOT DISTINCT FROM c.link_kind)
QUALIFY row_number() OVER (PARTITION BY src, dst, link_kind
                           ORDER BY prio, kind, lrow NULLS LAST) = 1
"""

# Entities with their wide columns, read back from the source rows by rowid.
_WIDE = f"""
    SELECT e.id, r.uid, 'run' AS kind, r.system, r.component, r.component AS node, r.status,
           r.started_at, r.ended_at, NULL::VARCHAR AS run_uid, r.parent_uid, r.attempt,
           r.error, r.name, NULL::VARCHAR AS span_kind, r.source_id, r.location, e.exec
    FROM _tm_ent e JOIN runs r ON r.rowid = e.rid WHERE e.tbl = 1
    UNION ALL
    SELECT e.id, t.uid, 'step', t.system, t.component,
           CASE WHEN e.span_kind IS NOT NULL AND t.system IN ({_SPAN_SYSTEMS})
                     AND t.detail->>'service.name' IS NOT NULL
                THEN 'otel:service:' || (t.detail->>'service.name') ELSE t.component END,
           t.status, t.started_at, t.ended_at, t.run_uid, t.parent_uid, t.attempt, t.error,
           t.name, e.span_kind, t.source_id, t.location, e.exec
    FROM _tm_ent e JOIN steps t ON t.rowid = e.rid WHERE e.tbl = 2
    UNION ALL
    SELECT e.id, m.uid, 'message', m.system, m.component, m.component, m.status,
           m.produced_at, m.produced_at, NULL, NULL, NULL, NULL, m.event_type, NULL,
           m.source_id, m.location, e.exec
    FROM _tm_ent e JOIN messages m ON m.rowid = e.rid WHERE e.tbl = 3
    UNION ALL
    SELECT e.id, d.uid, 'dataset', 'dataset', d.component,
           {dataset_node_sql("d.namespace", "d.name", "d.component")}, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, d.name, NULL, d.source_id, NULL, e.exec
    FROM _tm_ent e JOIN datasets d ON d.rowid = e.rid WHERE e.tbl = 4
"""

FINAL_ENTITIES = (
    f"""
CREATE OR REPLACE TABLE entities AS
SELECT w.uid, w.id, w.kind, w.system, w.component, w.node, w.status, w.started_at, w.ended_at,
       w.run_uid, w.parent_uid, w.attempt, w.error, w.name, w.span_kind, w.source_id,
       w.location, false AS inferred, x.execution_id
FROM ({_WIDE}) w JOIN _tm_exec x ON x.root = w.exec
""",
    # Inferred messages take their span's name, source and place.
    """
INSERT INTO entities
SELECT 'inferred:msg:' || o.uid, i.id, 'message', i.system, i.channel, i.channel,
       CASE WHEN o.span_kind = 'consumer' THEN 'ok' ELSE o.status END, o.started_at,
       o.started_at, NULL, NULL, NULL, NULL, o.name, NULL, o.source_id, o.location, true,
       o.execution_id
FROM _tm_ent i JOIN entities o ON o.id = i.origin
WHERE i.inferred AND i.kind = 'message'
""",
    # Virtual peers: the client span's time and status (a failed call is the peer failing, as
    # far as anyone can tell), the node it names.
    """
INSERT INTO entities
SELECT 'virtual:peer:' || o.uid, p.id, 'peer', split_part(p.node, ':', 1), p.node, p.node,
       o.status, o.started_at, o.ended_at, NULL, NULL, NULL, o.error, o.name, NULL,
       o.source_id, o.location, true, o.execution_id
FROM _tm_peer p JOIN entities o ON o.id = p.origin
""",
)

def _json_record(path: str, location: str) -> str:
    return (f"""concat('{{"path":', coalesce(to_json({path}), 'null'), ',"location":',
              coalesce(to_json({location}), 'null'), '}}')""")


# The evidence JSON is spelled out with concat and to_json (which escapes each string): at
# millions of edges json_object() and lists of structs cost more than the rest of the write.
FINAL_EDGES = f"""
CREATE OR REPLACE TABLE edges AS
SELECT s.uid AS src, d.uid AS dst, e.kind, e.rule, round(e.confidence, 3) AS confidence,
       s.execution_id,
       (epoch_us(d.started_at) - epoch_us(s.started_at)) / 1000.0 AS latency_ms,
       concat('{{"rule":', to_json(e.rule),
              CASE e.ev_type
                  WHEN 'link' THEN concat(',"link":{{"kind":', to_json(e.ev_kind),
                                          ',"evidence":', coalesce(to_json(e.ev_value), 'null'),
                                          '}}')
                  WHEN 'context' THEN concat(',"key":{{"kind":"trace_id","value":',
                                             to_json(e.ev_value), '}},"context":', e.ev_kind)
                  WHEN 'key' THEN CASE WHEN e.ev_kind IS NOT NULL
                                       THEN concat(',"key":{{"kind":', to_json(e.ev_kind),
                                                   ',"value":', to_json(e.ev_value), '}}')
                                       ELSE ',"key":null' END
                  ELSE concat(',"field":', to_json(e.ev_kind)) END,
              ',"records":[',
              concat_ws(',',
                  CASE WHEN e.lrow IS NOT NULL THEN {_json_record("pl.path", "l.location")} END,
                  CASE WHEN e.rec_src THEN {_json_record("ps.path", "s.location")} END,
                  CASE WHEN e.rec_dst THEN {_json_record("pd.path", "d.location")} END),
              ']',
              CASE WHEN e.gap_ms IS NOT NULL THEN concat(',"gap_ms":', e.gap_ms) ELSE '' END,
              CASE WHEN e.rivals IS NOT NULL THEN concat(',"rivals":', e.rivals) ELSE '' END,
              '}}') AS evidence,
       e.src AS src_id, e.dst AS dst_id
FROM _tm_edges e JOIN entities s ON s.id = e.src JOIN entities d ON d.id = e.dst
LEFT JOIN links l ON l.rowid = e.lrow LEFT JOIN sources pl ON pl.id = l.source_id
LEFT JOIN sources ps ON ps.id = s.source_id LEFT JOIN sources pd ON pd.id = d.source_id
"""

FINAL_EXECUTIONS = """
CREATE OR REPLACE TABLE executions AS
WITH agg AS (
    SELECT e.execution_id, count(*) AS entities,
           list(DISTINCT e.system ORDER BY e.system) FILTER (WHERE e.system IS NOT NULL)
               AS systems,
           min(e.started_at) AS started_at, max(coalesce(e.ended_at, e.started_at)) AS ended_at,
           CASE WHEN bool_or(e.status IN ('failed', 'timed_out')) THEN 'failed'
                WHEN bool_or(e.status = 'running') THEN 'running'
                WHEN bool_or(e.status = 'ok') THEN 'ok' ELSE 'unknown' END AS status,
           coalesce(arg_min(e.uid, (e.started_at, e.uid))
                        FILTER (WHERE e.kind = 'run' AND f.dst_id IS NULL),
                    arg_min(e.uid, (e.started_at, e.uid)) FILTER (WHERE f.dst_id IS NULL),
                    arg_min(e.uid, (e.started_at, e.uid)) FILTER (WHERE e.kind = 'run'),
                    arg_min(e.uid, (e.started_at, e.uid))) AS root_uid
    FROM entities e
    LEFT JOIN (SELECT DISTINCT dst_id FROM edges WHERE src_id <> dst_id) f ON f.dst_id = e.id
    GROUP BY e.execution_id
), keyed AS (
    SELECT x.execution_id,
           list(g.kind || '=' || g.value ORDER BY g.prio, g.kind, g.value)[1:3] AS keys
    FROM _tm_kx g JOIN _tm_ent e ON e.id = g.root_id JOIN _tm_exec x ON x.root = e.exec
    GROUP BY x.execution_id
)
SELECT a.execution_id, a.entities, coalesce(a.systems, []) AS systems, a.started_at, a.ended_at,
       a.status, a.root_uid, coalesce(k.keys, []) AS keys
FROM agg a LEFT JOIN keyed k USING (execution_id)
ORDER BY a.started_at NULLS LAST, a.execution_id
"""

FINAL_COMPONENT_EDGES = f"""
CREATE OR REPLACE TABLE component_edges AS
SELECT s.node AS source, d.node AS target, e.kind, count(*) AS count,
       min(coalesce(d.started_at, s.started_at)) AS first_seen,
       max(coalesce(d.started_at, s.started_at)) AS last_seen,
       quantile_cont(e.latency_ms, 0.5) AS latency_p50_ms,
       quantile_cont(e.latency_ms, 0.95) AS latency_p95_ms,
       count(*) FILTER (WHERE d.status IN {_FAILED}) AS failures,
       count(*) FILTER (WHERE s.status IN {_FAILED}) AS source_failures,
       CASE WHEN count(*) FILTER (WHERE s.status IN {_FAILED}) > 0
            THEN (count(*) FILTER (WHERE s.status IN {_FAILED} AND d.status IN {_FAILED}))
                 / (count(*) FILTER (WHERE s.status IN {_FAILED}))::DOUBLE END
           AS failure_coupling,
       round(avg(e.confidence), 3) AS confidence
FROM edges e JOIN entities s ON s.id = e.src_id JOIN entities d ON d.id = e.dst_id
WHERE s.node <> d.node
GROUP BY ALL
ORDER BY source, target, kind
"""

FINAL_COMPONENT_NODES = f"""
CREATE OR REPLACE TABLE component_nodes AS
SELECT node AS component, split_part(node, ':', 1) AS system,
       CASE WHEN split_part(node, ':', 1) = 'dataset' THEN 'dataset'
            ELSE split_part(node, ':', 2) END AS kind,
       count(*) AS count, count(*) FILTER (WHERE status IN {_FAILED}) AS failures,
       min(started_at) AS first_seen, max(started_at) AS last_seen,
       bool_and(kind = 'peer') AS virtual
FROM entities WHERE node IS NOT NULL
GROUP BY node ORDER BY node
"""

#: Salts tried in turn should two entity uids hash to the same id (about 1 in 10^6 at 5M).
_SALTS = ("", "#1", "#2", "#3")


def _correlate(run: _Run) -> dict[str, int]:
    # Each intermediate is dropped as soon as it is consumed: at millions of rows the working
    # set, not the CPU, decides whether DuckDB has to spill.
    for salt in _SALTS:
        run("entities", ID_MACRO.format(salt=salt), SOURCE_ROWS, DUPLICATES)
        if not run.scalar("SELECT count(*) FROM _tm_dup") or not run.scalar(ID_COLLISIONS):
            break
    else:
        raise RuntimeError("uid hash collisions under every salt; this is a bug")
    run("entities", ENTITIES, _drop("_tm_src", "_tm_dup"))
    run("keys", CHANNELS, KEY_VALUES, KEY_GROUPS, KEY_TIES, IGNORED_KEYS, KEY_EXAMPLES, RULE_KEYS,
        MESSAGE_CONTEXTS, TRACE_KEYS, _drop("_tm_kv"), LINK_IDS, UF_INPUT, _drop("_tm_kg"))
    iterations = {"executions": _union_find(run, "union_find")}
    run("executions", ENTITY_EXEC, EXECUTION_IDS)
    # The field rules skip pairs a source already links (every span's parent link).
    run("explicit_rules", EDGES_TABLE, RULE_LINK, RULE_RUN_STEP, RULE_STEP_PARENT,
        RULE_PARENT_RUN, RULE_TRACEPARENT, RULE_MESSAGE_ID, ROOT_STEPS, RULE_SPAN_LINK,
        _drop("_tm_lnk"), RULE_TRACE_CONTEXT, _drop("_tm_kr", "_tm_tk", "_tm_ctx"))
    run("islands", ISLAND_INPUT)
    iterations["islands"] = _union_find(run, "islands")
    run("time_order", ISLAND_FED, *ISLANDS, _drop("_tm_uf_f", "_tm_fed"), ISLAND_TIES,
        _drop("_tm_tie"), TIME_PRODUCERS, TIME_CONSUMERS, *RULE_TIME,
        _drop("_tm_island", "_tm_prod", "_tm_cons", "_tm_itie"))
    run("span_rules", INFERRED_PRODUCED, RULE_PRODUCER_SPAN, SPAN_HOP, *SPAN_HOP_APPLY,
        INFERRED_CONSUMED, RULE_CONSUMER_SPAN, *VIRTUAL_PEERS)
    run("best_edges", EDGES_BEST, _drop("_tm_e"))
    run("write", *FINAL_ENTITIES, FINAL_EDGES, _drop("_tm_edges"), FINAL_EXECUTIONS,
        FINAL_COMPONENT_EDGES, FINAL_COMPONENT_NODES)
    return iterations


def _drop(*tables: str) -> str:
    return "; ".join(f"DROP TABLE IF EXISTS {t}" for t in tables)


def _union_find(run: _Run, stage: str, max_rounds: int = 64) -> int:
    """Connected components of ``_tm_uf_in(a, b)`` into ``_tm_uf_f(x, root)``.

    Each round hooks every vertex to its smallest neighbour, flattens the hooks by pointer
    jumping (so chains collapse in log steps) and contracts the edge list onto the new labels;
    a round at least removes every vertex that has a smaller neighbour. ``_tm_uf_f`` keeps, for
    every vertex that stopped being a label, the label it joined; resolving that forest gives
    each vertex its component's smallest vertex. Returns the number of rounds (hooks + jumps).
    """
    run(stage,
        """CREATE OR REPLACE TEMP TABLE _tm_uf_e AS
           SELECT DISTINCT least(a, b) AS lo, greatest(a, b) AS hi FROM _tm_uf_in
           WHERE a <> b AND a IS NOT NULL AND b IS NOT NULL""",
        "CREATE OR REPLACE TEMP TABLE _tm_uf_f (x BIGINT, root BIGINT)")
    steps = 0
    for _ in range(max_rounds):
        if not run.scalar("SELECT count(*) FROM (SELECT 1 FROM _tm_uf_e LIMIT 1)"):
            break
        steps += 1
        run(stage, """CREATE OR REPLACE TEMP TABLE _tm_uf_m AS
                      SELECT hi AS x, min(lo) AS m FROM _tm_uf_e GROUP BY hi""")
        steps += _jump(run, stage, "_tm_uf_m", "x", "m")
        run(stage,
            "INSERT INTO _tm_uf_f SELECT x, m FROM _tm_uf_m",
            """CREATE OR REPLACE TEMP TABLE _tm_uf_e AS
               SELECT DISTINCT least(a, b) AS lo, greatest(a, b) AS hi FROM (
                   SELECT coalesce(ma.m, e.lo) AS a, coalesce(mb.m, e.hi) AS b
                   FROM _tm_uf_e e LEFT JOIN _tm_uf_m ma ON ma.x = e.lo
                   LEFT JOIN _tm_uf_m mb ON mb.x = e.hi)
               WHERE a <> b""")
    else:
        raise RuntimeError(f"union-find did not converge in {max_rounds} rounds")
    run(stage, _drop("_tm_uf_in", "_tm_uf_e", "_tm_uf_m"))
    steps += _jump(run, stage, "_tm_uf_f", "x", "root")
    return steps


def _jump(run: _Run, stage: str, table: str, x: str, parent: str) -> int:
    """Pointer jumping on ``table(x, parent)`` until every parent is a root; returns jumps."""
    jumps = 0
    while True:
        changed = run.scalar(
            f"SELECT count(*) FROM {table} t JOIN {table} p ON p.{x} = t.{parent}")
        if not changed:
            return jumps
        jumps += 1
        run(stage, f"""CREATE OR REPLACE TEMP TABLE {table} AS
                       SELECT t.{x}, coalesce(p.{parent}, t.{parent}) AS {parent}
                       FROM {table} t LEFT JOIN {table} p ON p.{x} = t.{parent}""")
