"""Risks: the execution hazards of mixed workflow/event systems, measured from the exports.

``analyze(store, since=, until=)`` reads the correlated tables (``entities``, ``edges``) and the
model tables (``messages``, ``keys``, ``steps``) in SQL and returns one finding per hazard and
component, each with counts, examples (entity uid, file, location) and one line on what to do.
The rules follow conventions the systems document, not one sample:

- **duplicate_delivery**: a message delivered (``triggers``/``consumes`` edge) to one consumer
  group more than once, after a delivery that did not fail. A message's identity is the most
  specific one it carries: its ``message_id`` key, else the record itself where the bus numbers
  its records (Kafka topic/partition/offset: a redelivery is the same offset), else record key
  + payload hash. The group is
  the span's ``messaging.consumer.group.name`` (or the older
  ``messaging.kafka.consumer.group``), else the consumer component. **duplicate_effect**: two of
  those deliveries each had an effect on the same component (emitted, wrote, called or started
  something): the consumer is not idempotent.
- **out_of_order**: per consumer group, channel, partition and record key, the first
  deliveries of the messages ran in another order than the messages were produced (offset,
  then time); deliveries that started at the same instant (one batch) are not reordered.
- **retry_storm**: a component's retries (a chain of attempts of one step or run, folded into
  one record or one record each, counts ``attempts - 1``) in one minute at least
  ``STORM_FACTOR`` times its median minute and at least ``STORM_MIN_RETRIES``.
  **retry_exhausted**: retried entities (attempt > 1, or a ``retry_of`` chain from a first
  attempt) whose last attempt failed and is not to be retried (Temporal ``retryState``
  ``IN_PROGRESS`` is). **dead_letter**: messages on dead-letter channels, by name (``.DLT``,
  ``-dlq``, ``dead-letter`` ...) or by the metadata the brokers and frameworks add (Spring Kafka
  ``kafka_dlt-*``, Kafka Connect ``__connect.errors.*``, RabbitMQ ``x-death``, SQS
  ``DeadLetterQueueSourceArn``; not a message back on its ``x-first-death-queue``, which
  is RabbitMQ's retry through a delay queue, nor one on a Spring Kafka retry topic); a
  dead-lettered copy seen again later on another channel is a **redrive** (a copy is
  recognised by message id, else record key + payload).
- **spanning_workflow**: a workflow-engine run whose own steps, or whose workers (components
  that start or execute its steps) in a trace its steps carry, call ``SPANNING_MIN_SYSTEMS`` or
  more other components during the run, with each callee's share of the failed runs and of the
  run time.
- **choreography**: chains of ``CHAIN_MIN_HOPS`` or more message hops (a consumer of one message
  producing the next) in which no workflow-engine run consumes; how many chains that began the
  same way stopped short or failed.
- **cascade**: the first message of an event chain whose execution, from that message on, holds
  more than ``CASCADE_ENTITIES`` entities or ``CASCADE_SYSTEMS`` systems (with the fan-out and
  depth distribution of all chains); **event_storm**: a channel's messages in one minute at least
  ``STORM_FACTOR`` times its median minute and at least ``STORM_MIN_EVENTS``, not counting a
  change-data-capture snapshot (Debezium ``source.snapshot``, AWS DMS full ``load``).
- **compensation**: steps named as saga compensations (``Compensate*``/``*compensation*``
  always; in a workflow engine's steps also ``*rollback*``, and ``Cancel*``, ``Refund*``,
  ``Undo*``, ``Revert*``, ``Release*`` ... after a failed step of the same execution: outside
  one, ``ROLLBACK`` is a database transaction's), BPMN compensation handlers (Zeebe records
  an activity run as one with ``bpmnEventType`` ``COMPENSATION``, whatever its name; the
  throw and boundary events that start them are not counted), and the failure that preceded
  each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracemap.analyze.plain import plain
from tracemap.store import Store

HAZARDS = ("duplicate_delivery", "duplicate_effect", "out_of_order", "retry_storm",
           "retry_exhausted", "dead_letter", "spanning_workflow", "choreography", "cascade",
           "event_storm", "compensation")

#: Systems whose runs orchestrate (own the order and completion of their steps).
WORKFLOW_SYSTEMS = ("temporal", "cadence", "stepfunctions", "argo", "airflow", "zeebe", "camunda",
                    "conductor", "dagster", "prefect")

STORM_FACTOR = 5
#: Clock-skew tolerance (seconds) when asking whether a call ran inside a workflow run.
SKEW_S = 2
STORM_MIN_RETRIES = 10
STORM_MIN_EVENTS = 50
SPANNING_MIN_SYSTEMS = 3
CHAIN_MIN_HOPS = 3
CASCADE_ENTITIES = 200
CASCADE_SYSTEMS = 6
#: Examples listed per finding.
EXAMPLES = 5

WHAT_TO_DO = {
    "duplicate_delivery": "make the consumer idempotent (dedupe on the message id or key), and "
                          "check offset commits and consumer rebalances",
    "duplicate_effect": "this consumer acted twice on one message: store processed ids or use "
                        "an idempotency key on what it emits, writes or calls",
    "out_of_order": "keep one key on one partition and one in-flight record per key, or make the "
                    "consumer tolerate reordering (versions, last-writer checks)",
    "retry_storm": "add backoff with jitter and a retry budget or circuit breaker, and fix the "
                   "failing dependency",
    "retry_exhausted": "alert on exhausted retries and route them somewhere visible: the "
                       "retries hid a persistent failure",
    "dead_letter": "alert on dead-letter depth, fix the cause, then redrive to idempotent "
                   "consumers",
    "spanning_workflow": "this workflow waits synchronously on several systems: add timeouts, "
                         "make the calls asynchronous activities or events, or split it",
    "choreography": "nothing owns this event chain: give it an owner (a workflow or saga that "
                    "tracks completion) or at least an alert when the last event never comes",
    "cascade": "bound the fan-out (batching, rate limits) and check every consumer reached "
               "really needs this event",
    "event_storm": "find the producer of the burst; throttle or batch it and check consumers' "
                   "lag and autoscaling",
    "compensation": "compensations ran: check each completed, and fix the failure that "
                    "triggered them",
}

#: Channel names that say "dead letters" (Spring Kafka .DLT/-dlt, -dlq, _dead_letter, a
#: RabbitMQ dead-letter exchange .dlx, Azure Service Bus $DeadLetterQueue ...).
DLQ_NAME = (r"(^|[._:/$-])(dlt|dlq|dlx|dead[._-]?letters?([._-]?(queue|topic|exchange))?)"
            r"([._:/-]|$)|deadletterqueue")
#: Header or attribute names brokers and frameworks add to dead-lettered messages.
DLQ_HEADERS = ("kafka_dlt-original-topic", "kafka_dlt-exception-fqcn",
               "kafka_dlt-exception-message",
               "__connect.errors.topic", "__connect.errors.exception.class.name", "x-death",
               "x-first-death-queue", "x-first-death-reason", "DeadLetterQueueSourceArn",
               "dead-letter-reason", "dlq-original-topic")
#: Spring Kafka's retry topics (``-retry``, ``-retry-0``, ``-retry-5000``): their records carry
#: the dead-letter recoverer's headers but are retries.
RETRY_TOPIC = r"[._-]retry([._-][0-9]+)?$"
#: Header naming the channel a dead letter came from, in order of preference.
DLQ_ORIGIN = ("kafka_dlt-original-topic", "__connect.errors.topic", "x-first-death-queue",
              "dlq-original-topic", "DeadLetterQueueSourceArn")
#: Saga compensation names: an undoing verb prefix (CamelCase, snake or kebab), which counts
#: only after a failure in the same execution (``CancelOrder`` may be a customer's cancel) ...
COMPENSATION_NAME = (r"^(?i:compensate|cancel|refund|undo|revert|rollback|release|unreserve|void)"
                     r"([A-Z_.\- ]|$)|(?i:compensat|roll[_-]?back)")
#: ... or the word itself, which always counts in a workflow engine's steps ...
COMPENSATION_EXPLICIT = r"(?i:compensat|roll[_-]?back)"
#: ... and outside one only "compensation" itself (a span named ROLLBACK is a database's).
COMPENSATION_WORD = r"(?i:compensat)"
#: Span attributes naming a consumer group (current OTel semconv first).
GROUP_ATTRIBUTES = ("messaging.consumer.group.name", "messaging.kafka.consumer.group",
                    "messaging.kafka.consumer_group", "messaging.rabbitmq.queue",
                    "messaging.destination.subscription.name")


@dataclass(frozen=True, slots=True)
class Finding:
    """One hazard at one component: how often, of how many, examples and what to do."""

    hazard: str
    component: str
    count: int
    total: int
    examples: list[dict[str, Any]]
    detail: str
    what_to_do: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = plain(self)
        out.update(out.pop("data"))
        return out


@dataclass(frozen=True, slots=True)
class RisksResult:
    """Every hazard found in the window, in ``HAZARDS`` order then by count."""

    window: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "findings": [f.to_dict() for f in self.findings]}

    def of(self, hazard: str) -> list[Finding]:
        return [f for f in self.findings if f.hazard == hazard]


def analyze(store: Store, *, since: datetime | None = None,
            until: datetime | None = None) -> RisksResult:
    """Every hazard in ``HAZARDS`` among the entities that started in [since, until)."""
    _scope(store, since, until)
    findings: list[Finding] = []
    for detect in (_duplicates, _out_of_order, _retry_storms, _retry_exhausted, _dead_letters,
                   _spanning_workflows, _chains, _event_storms, _compensations):
        findings += detect(store)
    order = {h: i for i, h in enumerate(HAZARDS)}
    findings.sort(key=lambda f: (order[f.hazard], -f.count, f.component))
    window = store.sql("SELECT min(started_at), max(started_at), count(*) FROM _rk_ent").fetchone()
    return RisksResult(
        window={"since": since, "until": until, "first": window[0], "last": window[1],
                "entities": window[2]},
        findings=findings)


# ---------------------------------------------------------------------------- shared tables
def _scope(store: Store, since: datetime | None, until: datetime | None) -> None:
    """What every detector reads: views of the entities in the window (``_rk_ent``; with
    their file, ``_rk_entp``) and temp tables of messages and their deliveries."""
    # Views, not copies: a copy of millions of entities costs more than every detector's
    # reads together. The file path is joined only where a query shows it: DuckDB keeps an
    # unused LEFT JOIN, and paying it on every read of every entity doubled the cost.
    bounds = " ".join(f"AND started_at {op} '{t.isoformat()}'::TIMESTAMPTZ"
                      for op, t in ((">=", since), ("<", until)) if t is not None)
    store.sql(f"CREATE OR REPLACE TEMP VIEW _rk_ent AS SELECT * FROM entities WHERE true {bounds}")
    store.sql("""
CREATE OR REPLACE TEMP VIEW _rk_entp AS
SELECT e.*, s.path FROM _rk_ent e LEFT JOIN sources s ON s.id = e.source_id
""")
    groups = " ".join(f"WHEN json_exists(detail, '$.\"{a}\"') THEN detail->>'$.\"{a}\"'"
                      for a in GROUP_ATTRIBUTES)
    # A delivery: message -> the run or step it triggered (or that consumed it).
    store.sql(f"""
CREATE OR REPLACE TEMP TABLE _rk_grp AS
SELECT k AS uid, any_value(g) AS grp FROM (
    SELECT unnest([uid, run_uid]) AS k, CASE {groups} END AS g
    FROM steps WHERE step_type = 'consumer'
) WHERE k IS NOT NULL AND g IS NOT NULL GROUP BY k
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_msg AS
SELECT m.uid, any_value(m.channel) AS channel, any_value(m.msg_key) AS msg_key,
       any_value(md5(m.payload::VARCHAR)) AS payload_hash, any_value(m.headers) AS headers,
       any_value(m.detail) AS detail,
       any_value(TRY_CAST(m.detail->>'partition' AS BIGINT)) AS part,
       any_value(TRY_CAST(m.detail->>'offset' AS BIGINT)) AS offs,
       -- a change-data-capture snapshot reads a table at once (Debezium source.snapshot
       -- true/first/last/incremental, AWS DMS full load): a burst by design
       bool_or(coalesce(m.detail->>'snapshot', 'false') <> 'false'
               OR coalesce(m.detail->>'operation' = 'load', false)) AS snapshot
FROM messages m GROUP BY m.uid
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_ident AS
WITH i AS (
    SELECT e.uid,
           (SELECT min(k.value) FROM keys k
            WHERE k.entity_uid = e.uid AND k.kind = 'message_id') AS message_id,
           CASE WHEN m.msg_key IS NOT NULL AND m.payload_hash IS NOT NULL
                THEN m.msg_key || '|' || m.payload_hash END AS content,
           m.msg_key, m.part, m.offs
    FROM _rk_ent e LEFT JOIN _rk_msg m ON m.uid = e.uid
    WHERE e.kind = 'message'
)
-- Delivered again: the same message id, else the same record (a Kafka redelivery is the same
-- topic/partition/offset: another offset with equal content was produced twice, not
-- redelivered), else equal key and payload. Dead-lettered and redriven: the same message id,
-- else equal key and payload (a copy on another channel has its own offset).
SELECT uid, coalesce(message_id, CASE WHEN offs IS NOT NULL THEN uid END, content, uid) AS ident,
       coalesce(message_id, content, uid) AS copy, msg_key, part, offs
FROM i
""")
    # Only a consumer's best-evidenced deliveries count: a time-order guess beside a stated
    # link into the same processing is not a second delivery.
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_dlv AS
SELECT m.uid AS msg, m.node AS channel, m.started_at AS produced_at, i.ident, i.msg_key,
       i.part, i.offs, d.uid, d.id, d.node AS consumer, coalesce(g.grp, d.node) AS grp,
       d.started_at, d.status, d.path, d.location, d.execution_id
FROM edges x JOIN _rk_ent m ON m.id = x.src_id JOIN _rk_entp d ON d.id = x.dst_id
JOIN _rk_ident i ON i.uid = m.uid LEFT JOIN _rk_grp g ON g.uid = d.uid
WHERE m.kind = 'message' AND d.kind IN ('run', 'step') AND x.kind IN ('triggers', 'consumes')
QUALIFY x.confidence = max(x.confidence) OVER (PARTITION BY d.uid)
""")


def _example(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"uid": row["uid"], "path": row["path"], "location": row["location"], **extra}


def _finding(hazard: str, component: str, count: int, total: int,
             examples: list[dict[str, Any]], detail: str, **data: Any) -> Finding:
    return Finding(hazard, component, int(count), int(total), examples[:EXAMPLES], detail,
                   WHAT_TO_DO[hazard], data)


# ---------------------------------------------------------------------------- duplicates
def _duplicates(store: Store) -> list[Finding]:
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_dup AS
WITH g AS (
    SELECT grp, ident, min(started_at) FILTER (WHERE status NOT IN ('failed', 'timed_out'))
           AS first_ok
    FROM _rk_dlv GROUP BY grp, ident HAVING count(DISTINCT uid) > 1
)
SELECT d.*, g.first_ok, d.started_at > g.first_ok AS again
FROM _rk_dlv d JOIN g USING (grp, ident)
WHERE g.first_ok IS NOT NULL
  AND EXISTS (SELECT 1 FROM _rk_dlv d2 WHERE d2.grp = g.grp AND d2.ident = g.ident
              AND d2.started_at > g.first_ok)
""")
    findings = []
    totals = {r["grp"]: r["n"] for r in store.rows(
        "SELECT grp, count(*) AS n FROM _rk_dlv GROUP BY grp")}
    dups = store.rows("SELECT * FROM _rk_dup ORDER BY grp, ident, started_at, uid")
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in dups:
        by_group.setdefault(row["grp"], []).append(row)
    for grp, rows in sorted(by_group.items()):
        again = [r for r in rows if r["again"]]
        messages = len({r["ident"] for r in rows})
        consumer = rows[0]["consumer"]
        findings.append(_finding(
            "duplicate_delivery", consumer, len(again), totals[grp],
            [_example(r, message=r["msg"]) for r in again],
            f"{messages} messages processed more than once by consumer group {grp} "
            f"({len(again)} extra deliveries of {totals[grp]})", group=grp, messages=messages))
    findings += _duplicate_effects(store)
    return findings


def _duplicate_effects(store: Store) -> list[Finding]:
    """What each duplicated delivery did: emitted, wrote, called or started, from its subtree."""
    if not store.sql("SELECT count(*) FROM _rk_dup").fetchone()[0]:
        return []
    rows = store.rows("""
WITH RECURSIVE sub(root, id, depth) AS (
    SELECT id, id, 0 FROM _rk_dup
    UNION
    SELECT s.root, x.dst_id, s.depth + 1 FROM sub s JOIN edges x ON x.src_id = s.id
    WHERE x.kind = 'contains' AND s.depth < 16
), eff AS (
    SELECT s.root, d.uid, d.node, d.path, d.location, x.kind
    FROM sub s JOIN edges x ON x.src_id = s.id JOIN _rk_entp d ON d.id = x.dst_id
    JOIN _rk_ent o ON o.id = s.id
    WHERE x.kind IN ('emits', 'writes', 'calls', 'child', 'signals') AND d.node <> o.node
)
SELECT p.grp, p.consumer, p.ident, p.msg, p.uid AS delivery, e.node AS effect_on, e.kind,
       e.uid, e.path, e.location
FROM _rk_dup p JOIN eff e ON e.root = p.id
ORDER BY p.grp, p.ident, e.node, p.started_at, e.uid
""")
    seen: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        seen.setdefault((r["grp"], r["ident"], r["effect_on"]), []).append(r)
    by_group: dict[str, list[list[dict[str, Any]]]] = {}
    for (grp, _, _), effects in seen.items():
        if len({e["delivery"] for e in effects}) > 1:
            by_group.setdefault(grp, []).append(effects)
    findings = []
    for grp, groups in sorted(by_group.items()):
        targets = sorted({g[0]["effect_on"] for g in groups})
        examples = [_example(e, message=e["msg"], delivery=e["delivery"], effect_on=e["effect_on"])
                    for g in groups for e in g]
        messages = len({g[0]["ident"] for g in groups})
        findings.append(_finding(
            "duplicate_effect", groups[0][0]["consumer"], messages, messages,
            examples, f"consumer group {grp} is not idempotent: {messages} duplicated messages "
            f"had their effect twice on {', '.join(targets)}", group=grp, effects_on=targets))
    return findings


# ---------------------------------------------------------------------------- ordering
def _out_of_order(store: Store) -> list[Finding]:
    rows = store.rows("""
WITH first AS (
    SELECT * FROM _rk_dlv WHERE msg_key IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY grp, ident ORDER BY started_at, uid, msg) = 1
), ordered AS (
    SELECT *, max(produced_at) OVER w AS later_produced, max(offs) OVER w AS later_offset,
           arg_max(msg, (produced_at, offs)) OVER w AS overtaken_by
    FROM first
    -- Kafka orders a partition, not a topic: a key's records on two partitions (after
    -- partitions were added) have no order to break. Deliveries that started together (one
    -- batch, one invocation) are taken in offset order: their clock cannot tell otherwise.
    WINDOW w AS (PARTITION BY grp, channel, part, msg_key
                 ORDER BY started_at, offs, produced_at, uid
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT *, (epoch_us(later_produced) - epoch_us(produced_at)) / 1000.0 AS gap_ms,
       later_offset - offs AS offset_gap,
       count(*) OVER (PARTITION BY grp) AS total,
       first(consumer ORDER BY started_at, uid) OVER (PARTITION BY grp) AS group_consumer
FROM ordered
-- Only the late ones leave DuckDB (total and group_consumer are over all): fetching every
-- first delivery into Python cost more than the query. Offsets order a partition exactly;
-- produce times only where there are none (clocks of several producers disagree by more than
-- the gap between two records).
QUALIFY CASE WHEN later_offset IS NOT NULL AND offs IS NOT NULL THEN later_offset > offs
             ELSE coalesce(later_produced > produced_at, false) END
ORDER BY grp, started_at, uid
""")
    findings = []
    by_group: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_group.setdefault(r["grp"], []).append(r)
    for grp, late in sorted(by_group.items()):
        keys = sorted({r["msg_key"] for r in late})
        gaps = [r["gap_ms"] for r in late if r["gap_ms"] is not None]
        findings.append(_finding(
            "out_of_order", late[0]["group_consumer"], len(late), late[0]["total"],
            [_example(r, message=r["msg"], key=r["msg_key"], overtaken_by=r["overtaken_by"],
                      offset_gap=r["offset_gap"]) for r in late],
            f"consumer group {grp} processed {len(late)} messages after a later one of the same "
            f"key ({len(keys)} keys: {', '.join(keys[:3])}); produced up to "
            f"{max(gaps, default=0):.0f} ms apart", group=grp, keys=keys,
            max_gap_ms=max(gaps, default=None)))
    return findings


# ---------------------------------------------------------------------------- retries
def _storms(store: Store, per_minute: str, minimum: int) -> list[dict[str, Any]]:
    """Minutes of one component at ``STORM_FACTOR`` x its median minute (and ``minimum``)."""
    return store.rows(f"""
WITH m AS ({per_minute}),
base AS (SELECT component, median(n) AS baseline, sum(n) AS total FROM m GROUP BY component)
SELECT m.component, m.minute, m.n, b.baseline, b.total
FROM m JOIN base b USING (component)
WHERE m.n >= ? AND m.n >= ? * b.baseline
ORDER BY m.component, m.minute
""", [minimum, STORM_FACTOR])


def _retry_chains(store: Store) -> None:
    """One row per retry chain: a step or run and its later attempts, whether a system folds
    them into one record (Temporal's ``attempt``) or writes one per attempt (Step Functions,
    Argo, Airflow: ``retry_of`` links, each attempt to the one it retried). A chain is named by
    its first attempt, so two attempts with their own names (Argo's ``fail(0)``, ``fail(1)``)
    are one chain, and two activities of one type in one run are two."""
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_first AS
WITH RECURSIVE back(id, first, depth) AS (
    SELECT src_id, dst_id, 1 FROM edges WHERE kind = 'retry_of'
    UNION ALL
    SELECT b.id, x.dst_id, b.depth + 1
    FROM back b JOIN edges x ON x.src_id = b.first AND x.kind = 'retry_of'
    WHERE b.depth < 64
)
SELECT id, arg_max(first, depth) AS first FROM back GROUP BY id
UNION ALL
-- a first attempt is its own chain's name
SELECT DISTINCT dst_id, dst_id FROM edges x WHERE kind = 'retry_of'
  AND NOT EXISTS (SELECT 1 FROM edges y WHERE y.kind = 'retry_of' AND y.src_id = x.dst_id)
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_retry AS
SELECT e.node, coalesce(f.first, e.id) AS chain,
       min(e.started_at) AS started_at,
       greatest(max(coalesce(e.attempt, 1)), count(*)) AS attempts,
       arg_max(e.status, (coalesce(e.attempt, 1), e.started_at)) AS last_status,
       arg_max(e.uid, (coalesce(e.attempt, 1), e.started_at)) AS uid,
       arg_max(e.path, (coalesce(e.attempt, 1), e.started_at)) AS path,
       arg_max(e.location, (coalesce(e.attempt, 1), e.started_at)) AS location,
       arg_max(e.error, (coalesce(e.attempt, 1), e.started_at)) AS error
FROM _rk_entp e LEFT JOIN _rk_first f ON f.id = e.id
WHERE e.kind IN ('run', 'step') AND (e.attempt > 1 OR f.id IS NOT NULL)
GROUP BY ALL
""")


def _retry_storms(store: Store) -> list[Finding]:
    _retry_chains(store)
    minutes = """
SELECT node AS component, date_trunc('minute', started_at) AS minute, sum(attempts - 1) AS n
FROM _rk_retry WHERE started_at IS NOT NULL GROUP BY ALL
UNION ALL
-- minutes a component ran without retrying are part of its baseline
SELECT node, date_trunc('minute', started_at), 0 FROM _rk_ent
WHERE kind IN ('run', 'step') AND started_at IS NOT NULL
  AND node IN (SELECT node FROM _rk_retry)
GROUP BY ALL
"""
    minutes = f"SELECT component, minute, sum(n) AS n FROM ({minutes}) GROUP BY ALL"
    storms = _storms(store, minutes, STORM_MIN_RETRIES)
    findings = []
    for component, rows in _by(storms, "component").items():
        examples = store.rows("""
SELECT uid, path, location, attempts FROM _rk_retry
WHERE node = ? AND date_trunc('minute', started_at) IN ?
ORDER BY attempts DESC, started_at, uid LIMIT ?""",
                              [component, [r["minute"] for r in rows], EXAMPLES])
        count = sum(int(r["n"]) for r in rows)
        findings.append(_finding(
            "retry_storm", component, count, int(rows[0]["total"]),
            [_example(e, attempts=e["attempts"]) for e in examples],
            f"{count} retries in {len(rows)} minutes from {rows[0]['minute']:%Y-%m-%d %H:%M} "
            f"to {rows[-1]['minute']:%H:%M}, peak {max(int(r['n']) for r in rows)}/min against "
            f"a median of {rows[0]['baseline']:g}/min",
            minutes=[r["minute"] for r in rows], baseline_per_minute=rows[0]["baseline"]))
    return findings


def _retry_exhausted(store: Store) -> list[Finding]:
    rows = store.rows("""
WITH failed AS (
    SELECT *, count(*) OVER (PARTITION BY node) AS total FROM _rk_retry
    QUALIFY last_status IN ('failed', 'timed_out')
), again AS (
    -- a failure the engine states it will retry (Temporal/Cadence retryState IN_PROGRESS:
    -- a new run follows) has not exhausted its retries, even when the export ends there
    SELECT uid FROM runs WHERE uid IN (SELECT uid FROM failed)
      AND detail->>'retry_state' = 'RETRY_STATE_IN_PROGRESS'
    UNION ALL
    SELECT uid FROM steps WHERE uid IN (SELECT uid FROM failed)
      AND detail->>'retry_state' = 'RETRY_STATE_IN_PROGRESS'
)
SELECT * FROM failed WHERE uid NOT IN (SELECT uid FROM again)
ORDER BY node, started_at, uid
""")
    findings = []
    for component, group in _by(rows, "node").items():
        errors = sorted({(r["error"] or "").split("\n")[0][:120] for r in group} - {""})
        findings.append(_finding(
            "retry_exhausted", component, len(group), group[0]["total"],
            [_example(r, attempts=r["attempts"]) for r in group],
            f"{len(group)} of {group[0]['total']} retried {component} still failed after up "
            f"to {max(r['attempts'] for r in group)} attempts"
            + (f": {errors[0]}" if errors else ""), errors=errors[:3]))
    return findings


# ---------------------------------------------------------------------------- dead letters
def _dead_letters(store: Store) -> list[Finding]:
    flags = " OR ".join(f"json_exists(m.headers, '$.\"{h}\"') OR json_exists(m.detail, "
                        f"'$.\"{h}\"')" for h in DLQ_HEADERS)
    origin = ", ".join(f"m.headers->>'$.\"{h}\"'" for h in DLQ_ORIGIN)
    rows = store.rows(f"""
WITH dead AS (
    SELECT e.uid, e.node, e.path, e.location, e.started_at, i.copy,
           coalesce({origin}) AS origin,
           regexp_matches(lower(m.channel), ?) AS by_name
    FROM _rk_entp e JOIN _rk_msg m ON m.uid = e.uid JOIN _rk_ident i ON i.uid = e.uid
    WHERE e.kind = 'message'
      AND (regexp_matches(lower(m.channel), ?)
           -- one scan of the text first; the JSON lookups only confirm what it found
           OR (regexp_matches(lower(concat(m.headers::VARCHAR, m.detail::VARCHAR)), ?)
               AND ({flags})
               -- back on the queue it first died in: RabbitMQ's retry through a delay queue
               -- (TTL, then dead-lettered home), a retry and not a dead letter
               AND coalesce(m.headers->>'$."x-first-death-queue"'
                        NOT IN (m.channel, coalesce(m.detail->>'queue', '')), true)
               -- Spring Kafka's non-blocking retries forward through the same recoverer
               -- (kafka_dlt-* headers) to retry topics: a retry, not a dead letter
               AND NOT regexp_matches(lower(m.channel), ?)
               AND NOT json_exists(m.headers, '$."retry_topic-attempts"')))
)
SELECT d.*,
       EXISTS (SELECT 1 FROM _rk_ident i2 JOIN _rk_ent e2 ON e2.uid = i2.uid
               WHERE i2.copy = d.copy AND e2.node <> d.node
                 AND e2.started_at > d.started_at) AS redriven,
       (SELECT any_value(e3.node) FROM _rk_ident i3 JOIN _rk_ent e3 ON e3.uid = i3.uid
        WHERE i3.copy = d.copy AND e3.node <> d.node AND e3.started_at <= d.started_at)
           AS came_from
FROM dead d ORDER BY d.node, d.started_at, d.uid
""", [DLQ_NAME, DLQ_NAME, "|".join(re.escape(h.lower()) for h in DLQ_HEADERS),
      RETRY_TOPIC])
    findings = []
    for channel, group in _by(rows, "node").items():
        origins = sorted({r["origin"] or r["came_from"] for r in group}
                         - {None})
        redriven = sum(1 for r in group if r["redriven"])
        how = "named as a dead-letter channel" if group[0]["by_name"] else "dead-letter metadata"
        findings.append(_finding(
            "dead_letter", channel, len(group), len(group),
            [_example(r, origin=r["origin"] or r["came_from"]) for r in group],
            f"{len(group)} messages dead-lettered ({how})"
            + (f" from {', '.join(origins)}" if origins else "")
            + f"; {redriven} redriven", origins=origins, redriven=redriven))
    return findings


# ---------------------------------------------------------------------------- coupling
def _spanning_workflows(store: Store) -> list[Finding]:
    wf = ", ".join(f"'{s}'" for s in WORKFLOW_SYSTEMS)
    # Workers: components joined directly to a workflow engine's runs and steps (they start
    # them or run their tasks); a call into one is the workflow's own work, not a callee.
    store.sql(f"""
CREATE OR REPLACE TEMP TABLE _rk_workers AS
WITH w AS (
    SELECT id, system FROM _rk_ent WHERE system IN ({wf}) AND kind IN ('run', 'step')
), x AS (  -- the edges of workflow entities, and the entity at their other end
    SELECT w.system, x.dst_id AS other FROM edges x JOIN w ON w.id = x.src_id
    UNION ALL
    SELECT w.system, x.src_id FROM edges x JOIN w ON w.id = x.dst_id
)
SELECT DISTINCT x.system AS wf_system, o.node FROM x JOIN _rk_ent o ON o.id = x.other
WHERE o.system NOT IN ({wf}) AND o.kind IN ('run', 'step')
""")
    # A run's synchronous calls: calls made by its own steps, and calls made by its workers'
    # spans in a trace its steps carry (the W3C context the SDKs' interceptors propagate),
    # inside its time (2 s of skew). A consumer further down the trace is not a worker: what
    # it calls after a message hop is not the workflow waiting.
    store.sql(f"""
CREATE OR REPLACE TEMP TABLE _rk_root AS
SELECT id, uid, node, system, started_at - INTERVAL {SKEW_S} SECOND AS since,
       coalesce(ended_at, started_at) + INTERVAL {SKEW_S} SECOND AS until,
       status, path, location, execution_id,
       epoch_us(ended_at) - epoch_us(started_at) AS run_us
FROM _rk_entp WHERE kind = 'run' AND system IN ({wf})
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_own AS
SELECT r.id AS root, s.id, s.uid, s.node, s.system
FROM _rk_root r JOIN _rk_ent s ON s.run_uid = r.uid
UNION ALL SELECT id, id, uid, node, system FROM _rk_root
""")
    # Only a worker's spans that call something can join a run through its trace: their trace
    # ids and the runs' are looked up once, by entity id, not per run.
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_cand AS
SELECT id, uid, node, system, execution_id, started_at FROM _rk_ent
WHERE node IN (SELECT node FROM _rk_workers)
  AND id IN (SELECT src_id FROM edges WHERE kind = 'calls')
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_tid AS
SELECT n.id, k.value AS trace
FROM keys k JOIN (SELECT id, uid FROM _rk_own UNION SELECT id, uid FROM _rk_cand) n
    ON n.uid = k.entity_uid
WHERE k.kind = 'trace_id'
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_island AS
WITH traces AS (
    SELECT DISTINCT o.root, t.trace FROM _rk_own o JOIN _rk_tid t ON t.id = o.id
), clients AS (
    SELECT root, id, node, system FROM _rk_own
    UNION
    SELECT t.root, c.id, c.node, c.system
    FROM traces t JOIN _rk_tid k ON k.trace = t.trace
    JOIN _rk_cand c ON c.id = k.id
    JOIN _rk_root r ON r.id = t.root
    JOIN _rk_workers w ON w.wf_system = r.system AND w.node = c.node
    WHERE c.execution_id = r.execution_id AND c.started_at BETWEEN r.since AND r.until
)
SELECT r.id AS root, r.uid AS run, r.node AS workflow, r.system AS wf_system,
       r.status AS run_status, r.path, r.location, r.run_us, c.id, c.node, c.system
FROM clients c JOIN _rk_root r ON r.id = c.root
""")
    # One row per run and callee can be hundreds of thousands: DuckDB sums them per workflow
    # and callee, and only the runs themselves (for the counts and examples) reach Python.
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_callee AS
WITH callee AS (
    SELECT i.root, i.run, i.workflow, i.run_status, i.run_us, d.node AS callee,
           bool_or(d.status IN ('failed', 'timed_out')) AS failed,
           sum(epoch_us(d.ended_at) - epoch_us(d.started_at)) AS us
    FROM _rk_island i JOIN edges x ON x.src_id = i.id AND x.kind = 'calls'
    JOIN _rk_ent d ON d.id = x.dst_id
    WHERE d.system <> i.wf_system AND d.node <> i.node
      AND d.node NOT IN (SELECT k.node FROM _rk_workers k WHERE k.wf_system = i.wf_system)
    GROUP BY ALL
), spanning AS (
    SELECT root FROM callee GROUP BY root HAVING count(DISTINCT callee) >= ?
)
SELECT c.* FROM callee c JOIN spanning USING (root)
""", [SPANNING_MIN_SYSTEMS])
    workflows = store.rows("""
SELECT workflow, count(*) AS runs,
       count(*) FILTER (WHERE run_status IN ('failed', 'timed_out')) AS failed_runs,
       sum(coalesce(run_us, 0)) AS run_us, any_value(total) AS total,
       list({'uid': run, 'path': path, 'location': location} ORDER BY run)[1:?] AS examples
FROM (
    SELECT c.workflow, c.run, any_value(c.run_status) AS run_status,
           any_value(c.run_us) AS run_us, any_value(r.path) AS path,
           any_value(r.location) AS location, any_value(t.total) AS total
    FROM _rk_callee c
    JOIN (SELECT DISTINCT root, path, location FROM _rk_island) r USING (root)
    JOIN (SELECT node, count(*) AS total FROM _rk_ent WHERE kind = 'run' GROUP BY node) t
        ON t.node = c.workflow
    GROUP BY c.workflow, c.run
) GROUP BY workflow
""", [EXAMPLES])
    callees = _by(store.rows("""
SELECT workflow, callee, count(DISTINCT run) AS runs,
       count(DISTINCT run) FILTER (WHERE failed AND run_status IN ('failed', 'timed_out'))
           AS blamed,
       sum(us) AS us
FROM _rk_callee GROUP BY ALL ORDER BY workflow, callee
"""), "workflow")
    findings = []
    for w in sorted(workflows, key=lambda w: str(w["workflow"])):
        workflow, failed_runs, run_us = w["workflow"], w["failed_runs"], w["run_us"]
        systems = [{
            "system": c["callee"], "runs": c["runs"],
            "failure_share": round(c["blamed"] / failed_runs, 3) if failed_runs else 0.0,
            "latency_share": round((c["us"] or 0) / run_us, 3) if run_us else None}
            for c in sorted(callees[workflow], key=lambda c: str(c["callee"]))]
        names = ", ".join(s["system"] for s in systems)
        findings.append(_finding(
            "spanning_workflow", workflow, w["runs"], w["total"],
            [_example(r) for r in w["examples"]],
            f"{w['runs']} runs wait synchronously on {len(systems)} other systems ({names}); "
            f"{failed_runs} of them failed", systems=systems))
    return findings


def _chains(store: Store) -> list[Finding]:
    """Message hops joined by actors (the run a producer or consumer belongs to)."""
    wf = ", ".join(f"'{s}'" for s in WORKFLOW_SYSTEMS)
    store.sql(f"""
CREATE OR REPLACE TEMP TABLE _rk_hop AS
SELECT m.uid AS msg, m.node AS channel, m.path, m.location, p.uid AS p_uid, c.uid AS c_uid,
       p.node AS p_node, c.node AS c_node, c.system IN ({wf}) AS c_workflow,
       c.status IN ('failed', 'timed_out') AS failed
FROM edges x JOIN _rk_entp m ON m.id = x.dst_id JOIN _rk_ent p ON p.id = x.src_id
JOIN edges y ON y.src_id = m.id AND y.kind IN ('triggers', 'consumes')
JOIN _rk_ent c ON c.id = y.dst_id
WHERE x.kind = 'emits' AND m.kind = 'message'
""")
    # An actor is the run a producer or consumer belongs to: a span climbs its parents in the
    # same service until one names its run (only a service's local root span does).
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_climb AS
SELECT e.uid, e.parent_uid FROM _rk_ent e JOIN _rk_ent par ON par.uid = e.parent_uid
WHERE e.kind = 'step' AND e.run_uid IS NULL AND par.node = e.node
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_actor AS
WITH RECURSIVE up(start, cur, depth) AS (
    SELECT uid, uid, 0 FROM (SELECT p_uid AS uid FROM _rk_hop UNION SELECT c_uid FROM _rk_hop)
    UNION ALL
    SELECT u.start, c.parent_uid, u.depth + 1
    FROM up u JOIN _rk_climb c ON c.uid = u.cur
    WHERE u.depth < 64
), top AS (
    SELECT start, arg_max(cur, depth) AS cur FROM up GROUP BY start
)
SELECT t.start AS uid, coalesce(CASE WHEN e.kind = 'step' THEN e.run_uid END, e.uid) AS actor
FROM top t JOIN _rk_ent e ON e.uid = t.cur
""")
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_hop AS
SELECT h.*, pa.actor AS p_actor, ca.actor AS c_actor
FROM _rk_hop h JOIN _rk_actor pa ON pa.uid = h.p_uid JOIN _rk_actor ca ON ca.uid = h.c_uid
""")
    # Heads: hops whose producer consumed nothing. Chains grow while the consumer produces.
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_chain AS
WITH RECURSIVE chain(head, path, actor, hops, failed, workflow, entities, systems, last_msg) AS (
    SELECT h.msg, [h.p_node, h.channel, h.c_node], h.c_actor, 1, h.failed, h.c_workflow,
           [h.c_actor], [h.c_node], h.msg
    FROM _rk_hop h
    WHERE NOT EXISTS (SELECT 1 FROM _rk_hop u WHERE u.c_actor = h.p_actor)
    UNION ALL
    SELECT c.head, list_concat(c.path, [h.channel, h.c_node]), h.c_actor, c.hops + 1,
           c.failed OR h.failed, c.workflow OR h.c_workflow, list_append(c.entities, h.c_actor),
           list_append(c.systems, h.c_node), h.msg
    FROM chain c JOIN _rk_hop h ON h.p_actor = c.actor
    WHERE c.hops < 12 AND NOT list_contains(c.entities, h.c_actor)
)
SELECT c.*, NOT EXISTS (SELECT 1 FROM _rk_hop h WHERE h.p_actor = c.actor) AS maximal
FROM chain c
""")
    findings = _choreography(store)
    findings += _cascades(store)
    return findings


def _choreography(store: Store) -> list[Finding]:
    rows = store.rows("""
SELECT c.path, c.hops, c.failed, c.workflow, count(DISTINCT c.head) AS n,
       list(DISTINCT c.head ORDER BY c.head)[1:5] AS heads
FROM _rk_chain c WHERE c.maximal OR c.failed
GROUP BY ALL
""")
    full = [r for r in rows if r["hops"] >= CHAIN_MIN_HOPS and not r["workflow"]]
    findings = []
    for pattern in sorted({tuple(r["path"]) for r in full}):
        plen = len(pattern)
        done = sum(r["n"] for r in full if tuple(r["path"]) == pattern and not r["failed"])
        short = [r for r in rows if not r["workflow"] and (
            (tuple(r["path"]) == pattern and r["failed"])
            or (len(r["path"]) < plen and tuple(r["path"]) == pattern[:len(r["path"])]))]
        incomplete = sum(r["n"] for r in short)
        if not done and not incomplete:
            continue
        heads = [h for r in full if tuple(r["path"]) == pattern for h in r["heads"]]
        heads += [h for r in short for h in r["heads"]]
        examples = store.rows("SELECT uid, path, location FROM _rk_entp WHERE uid IN ? "
                              "ORDER BY started_at, uid", [heads[:EXAMPLES]])
        hops = (plen - 1) // 2
        route = " → ".join(pattern)
        findings.append(_finding(
            "choreography", pattern[1], incomplete, done + incomplete,
            [_example(e) for e in examples],
            f"{route}: {hops} event hops that no workflow owns; {incomplete} of "
            f"{done + incomplete} chains that began this way did not complete",
            route=list(pattern), hops=hops, completed=done))
    return findings


def _cascades(store: Store) -> list[Finding]:
    """What one chain head led to: the entities of its execution from its production on, the
    systems they belong to (kafka, otel, temporal ...), depth and fan-out."""
    # Each head's own row is looked up once: in one statement DuckDB read every entity again
    # for each use of the heads.
    store.sql("""
CREATE OR REPLACE TEMP TABLE _rk_head AS
SELECT c.head, c.depth, m.node, m.path, m.location, m.execution_id, m.started_at
FROM (SELECT head, max(hops) AS depth FROM _rk_chain GROUP BY head) c
JOIN _rk_entp m ON m.uid = c.head
""")
    rows = store.rows(f"""
WITH fan AS (
    SELECT c.head, max(n.consumers) AS fan_out
    FROM (SELECT DISTINCT head, last_msg FROM _rk_chain) c
    JOIN (SELECT msg, count(*) AS consumers FROM _rk_hop GROUP BY msg) n ON n.msg = c.last_msg
    GROUP BY c.head
), reached AS (
    SELECT h.head, count(*) AS entities, count(DISTINCT e.system) AS systems
    FROM _rk_head h JOIN _rk_ent e ON e.execution_id = h.execution_id
        AND e.started_at >= h.started_at - INTERVAL {SKEW_S} SECOND
    GROUP BY h.head
)
SELECT h.head AS uid, h.depth, f.fan_out, r.entities, r.systems, h.node AS channel, h.path,
       h.location, quantile_disc(f.fan_out, 0.5) OVER () AS fan_out_p50,
       quantile_disc(h.depth, 0.5) OVER () AS depth_p50, max(h.depth) OVER () AS depth_max,
       max(f.fan_out) OVER () AS fan_out_max, count(*) OVER () AS total
FROM _rk_head h JOIN fan f USING (head) JOIN reached r USING (head)
-- only the big ones leave DuckDB; the distribution above is over all chains
QUALIFY r.entities > {CASCADE_ENTITIES} OR r.systems > {CASCADE_SYSTEMS}
ORDER BY h.node, r.entities DESC, h.head
""")
    big = rows
    findings = []
    for channel, group in _by(big, "channel").items():
        top = group[0]
        findings.append(_finding(
            "cascade", channel, len(group), top["total"],
            [_example(r, entities=r["entities"], systems=r["systems"], depth=r["depth"],
                      fan_out=r["fan_out"]) for r in group],
            f"{len(group)} messages each led to more than {CASCADE_ENTITIES} entities or "
            f"{CASCADE_SYSTEMS} systems (largest: {top['entities']} entities, "
            f"{top['systems']} systems, depth {top['depth']}); over all event chains: fan-out "
            f"p50 {top['fan_out_p50']}, max {top['fan_out_max']}; depth p50 "
            f"{top['depth_p50']}, max {top['depth_max']}",
            distribution={"fan_out_p50": top["fan_out_p50"], "fan_out_max": top["fan_out_max"],
                          "depth_p50": top["depth_p50"], "depth_max": top["depth_max"]}))
    return findings


def _event_storms(store: Store) -> list[Finding]:
    minutes = """
SELECT node AS component, date_trunc('minute', started_at) AS minute, count(*) AS n
FROM _rk_ent WHERE kind = 'message' AND started_at IS NOT NULL
  AND uid NOT IN (SELECT uid FROM _rk_msg WHERE snapshot)
GROUP BY ALL
"""
    findings = []
    for channel, rows in _by(_storms(store, minutes, STORM_MIN_EVENTS), "component").items():
        examples = store.rows("""
SELECT uid, path, location FROM _rk_entp
WHERE node = ? AND kind = 'message' AND date_trunc('minute', started_at) = ?
ORDER BY started_at, uid LIMIT ?""", [channel, rows[0]["minute"], EXAMPLES])
        count = sum(int(r["n"]) for r in rows)
        findings.append(_finding(
            "event_storm", channel, count, int(rows[0]["total"]),
            [_example(e) for e in examples],
            f"{count} messages in {len(rows)} minutes from {rows[0]['minute']:%Y-%m-%d %H:%M}, "
            f"peak {max(int(r['n']) for r in rows)}/min against a median of "
            f"{rows[0]['baseline']:g}/min",
            minutes=[r["minute"] for r in rows], baseline_per_minute=rows[0]["baseline"]))
    return findings


# ---------------------------------------------------------------------------- compensations
def _compensations(store: Store) -> list[Finding]:
    wf = ", ".join(f"'{s}'" for s in WORKFLOW_SYSTEMS)
    rows = store.rows(f"""
WITH bpmn AS (
    -- Zeebe marks what compensation runs with bpmnEventType COMPENSATION: the handler
    -- activities, and the throw and boundary events that start them (not compensations)
    SELECT uid, coalesce(detail->>'bpmn_element_type' LIKE '%EVENT', false) AS event
    FROM steps
    WHERE uid LIKE 'zeebe:%' AND detail->>'bpmn_event_type' = 'COMPENSATION'
), names AS (
    SELECT e.*, b.uid IS NOT NULL AS handler, e.system IN ({wf}) AS wf,
           split_part(e.component, ':', 3) AS short, coalesce(e.name, '') AS nm
    FROM _rk_entp e LEFT JOIN bpmn b ON b.uid = e.uid
    WHERE e.kind = 'step' AND NOT coalesce(b.event, false)
), comp AS (
    -- Saga names are a workflow's convention: outside an engine, a span named ROLLBACK is a
    -- database transaction and CancelController.* a user's cancel; only "compensat" says so.
    SELECT * EXCLUDE (short, nm),
           handler OR regexp_matches(short, ?) OR regexp_matches(nm, ?)
           OR (wf AND (regexp_matches(short, ?) OR regexp_matches(nm, ?))) AS named
    FROM names
    WHERE handler OR regexp_matches(short, ?) OR regexp_matches(nm, ?)
       OR (wf AND (regexp_matches(short, ?) OR regexp_matches(nm, ?)))
), caused AS (
    SELECT c.node, c.uid, c.path, c.location, c.status, c.named, c.started_at,
           (SELECT arg_max(f.node, f.started_at) FROM _rk_ent f
            WHERE f.execution_id = c.execution_id AND f.status IN ('failed', 'timed_out')
              AND f.started_at <= c.started_at AND f.uid <> c.uid AND f.kind = 'step')
               AS triggered_by
    FROM comp c
)
SELECT * FROM caused WHERE named OR triggered_by IS NOT NULL
ORDER BY node, started_at, uid
""", [COMPENSATION_WORD] * 2 + [COMPENSATION_EXPLICIT] * 2 + [COMPENSATION_WORD] * 2
        + [COMPENSATION_NAME] * 2)
    findings = []
    for component, group in _by(rows, "node").items():
        causes = sorted({r["triggered_by"] for r in group} - {None})
        failed = sum(1 for r in group if r["status"] in ("failed", "timed_out"))
        findings.append(_finding(
            "compensation", component, len(group), len(group),
            [_example(r, triggered_by=r["triggered_by"]) for r in group],
            f"{len(group)} compensations ran"
            + (f", after failures of {', '.join(causes)}" if causes else "")
            + (f"; {failed} of them failed" if failed else ""), triggered_by=causes))
    return findings


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))

