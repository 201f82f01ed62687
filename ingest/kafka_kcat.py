"""Kafka records as ``kcat -C -J`` (kafkacat) writes them: one JSON envelope per line.

``{"topic", "partition", "offset", "tstype", "ts", "broker", "headers": [k, v, k, v ...],
"key", "payload"}`` (kcat 1.4+; ``headers`` since 1.5). Quirks handled: flat header arrays
with repeated names, ``null`` payloads (tombstones), keys and payloads that are binary text
(schema-registry magic bytes, U+FFFD where bytes were lost), ``key_error``/``payload_error``
from deserializers, and ``-s avro`` output where key/payload are already JSON values.

kcat's informational lines (``% Waiting for group rebalance``, ``% Reached end of topic ...``:
``KC_INFO`` prints them to stderr, prefixed ``% ``) are in the file when a console run was
captured with ``2>&1``, and a copied terminal starts with the shell prompt and command
(``$ kcat -C -b ... -J``), or docs print the bare command above the output. They are not
records: sniffing passes over them and parsing counts them as skipped (``kcat status line``,
``shell prompt``, ``command line``: ``base.noise_kind``). Any other line that is not JSON is
a reject. Piped through ``jq .`` (as docs show it), each envelope is pretty-printed over
several lines; they are read one after another. The DuckDB fast path cannot read past a line
that is not a record: it stops (in practice before delivering the read buffer that holds it)
and Python reads the rest of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from ingest import _duck
from ingest._json import PREAMBLE, concatenated, elements, head_object
from ingest.base import (
    Batch,
    BatchBuilder,
    KeyRules,
    Source,
    cap_payload,
    dumps,
    first_json_value,
    loads,
    noise_kind,
    us_from_ms,
)
from tracemap.model import PAYLOAD_CAP, KeyKind, Status, channel_component, kafka_record_uid

NAME = "kafka_kcat"
#: What ``sniff`` looks for (said for a file no format claims).
LOOKS_FOR = "a JSON object per line with topic, partition and offset (kcat -J)"

#: Header names that name a record's event type (CloudEvents binary mode, common conventions).
EVENT_TYPE_HEADERS = ("ce_type", "ce-type", "eventtype", "event-type", "event_type", "type")
#: Payload fields that name a record's event type.
EVENT_TYPE_FIELDS = ("type", "eventType", "event_type", "@type")


def sniff(head: bytes, path: str) -> bool:
    # Status lines and a prompt before the first record are passed over by detection's
    # first-record rule (``ingest.detection``), which says so.
    text = first_json_value(head)
    line = text.split(b"\n", 1)[0]
    if (line.startswith(b"{") and b'"topic"' in line and b'"partition"' in line
            and b'"offset"' in line):
        return True
    # ``kcat -J | jq .``: the envelope pretty-printed; ``tstype``/``broker`` are kcat's names.
    obj = head_object(text)
    return (obj is not None and {"topic", "partition", "offset"} <= obj.keys()
            and ("tstype" in obj or "broker" in obj))


def _pretty(src: Source) -> bool:
    """Whether the envelopes are pretty-printed (piped through ``jq .``): the first line that
    opens a JSON value is a bare ``{`` or ``[``, as jq writes it."""
    for _, raw in src.lines():
        line = raw.strip()
        if line[:1] in (b"{", b"["):
            return line in (b"{", b"[")
    return False


def _pretty_records(src: Source, b: BatchBuilder) -> Iterator[tuple[str, Any]]:
    """Each envelope of a pretty-printed dump with the line it starts on; the noise lines
    (a prompt, the command, kcat's ``% `` lines) are counted as skipped, kept as blank lines
    so that locations stay the file's own."""
    lines = src.read_document().split(b"\n")
    started = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        noise = noise_kind(line) if line else None
        if line and not noise and not started and line[:1] not in (b"{", b"["):
            noise = PREAMBLE
        if noise:
            b.read()
            b.skip(noise)
            lines[i] = b""
        elif line:
            started = True
    text = b"\n".join(lines)
    expected = "a kcat -J JSON object"
    for where, value in concatenated(text, text, b, expected):
        yield from elements(value, where)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    if _pretty(src):
        for where, rec in _pretty_records(src, b):
            b.read()
            reason = _add_record(b, src, rec, where)
            if reason:
                b.reject(where, reason, dumps(rec))
            else:
                b.loaded()
            if b.ready():
                yield b.take()
        yield b.take()
        return
    if _duck.usable(src):
        yield from _fast(src, b)
        return
    for number, line in src.lines():
        _line(b, src, number, line)
        if b.ready():
            yield b.take()
    yield b.take()


def _line(b: BatchBuilder, src: Source, number: int, line: bytes) -> None:
    """One input line: a loaded record, a reject, or a skipped kcat status line."""
    b.read()
    noise = noise_kind(line)  # kcat's ``% `` status lines, the shell prompt of a capture
    if noise:
        b.skip(noise)
        return
    where = f"line {number}"
    try:
        rec = loads(line)
    except ValueError as exc:
        b.reject(where, f"expected a kcat -J JSON object: {exc}", line)
        return
    reason = _add_record(b, src, rec, where)
    if reason:
        b.reject(where, reason, line)
    else:
        b.loaded()


def _add_record(b: BatchBuilder, src: Source, rec: Any, where: str) -> str | None:
    """Add one record; returns why it is unusable, or None."""
    if not isinstance(rec, dict):
        return f"expected a JSON object with topic/partition/offset, got {type(rec).__name__}"
    place = position(rec)
    if isinstance(place, str):
        return place
    topic, partition, offset = place
    headers = header_dict(rec.get("headers"))
    payload = rec.get("payload")
    decoded = _json_payload(payload)
    uid = kafka_record_uid(topic, partition, offset)
    # The producer's own JSON text is kept as written (1.50 stays 1.50); other values as JSON.
    text, cut = cap_payload(payload)
    try:
        produced = us_from_ms(rec.get("ts")) if rec.get("tstype") != "none" else None
    except (TypeError, ValueError):
        return f"field 'ts': expected epoch milliseconds, got {rec.get('ts')!r}"
    key = rec.get("key")
    b.message(
        uid=uid, system="kafka", component=channel_component("kafka", topic), channel=topic,
        event_type=event_type(headers, decoded) or ("tombstone" if payload is None else None),
        msg_key=key if isinstance(key, str) or key is None else str(key),
        produced_at=produced, status=Status.OK, headers=headers, payload=text, location=where,
        detail={"partition": partition, "offset": offset, "tstype": rec.get("tstype"),
                "broker": rec.get("broker"), "payload_truncated": cut or None,
                "key_error": rec.get("key_error"), "payload_error": rec.get("payload_error")},
    )
    b.keys(uid, src.rules.headers(headers))
    b.keys(uid, src.rules.payload(decoded))
    if key not in (None, ""):
        b.key(uid, KeyKind.MESSAGE_KEY, key if isinstance(key, str) else str(key))
    if "ce_id" in headers:
        b.key(uid, KeyKind.MESSAGE_ID, f"{headers.get('ce_source', '')}/{headers['ce_id']}")
    return None


def position(rec: dict[str, Any]) -> tuple[str, int, int] | str:
    """A record's ``(topic, partition, offset)``, its uid in every Kafka format, or why they
    are unusable."""
    topic, partition, offset = rec.get("topic"), rec.get("partition"), rec.get("offset")
    if not isinstance(topic, str) or not topic:
        return "field 'topic': expected a non-empty string"
    try:
        return topic, int(partition), int(offset)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity
        return f"fields 'partition'/'offset': expected integers, got {partition!r}/{offset!r}"


def header_dict(raw: Any) -> dict[str, str]:
    """kcat's flat ``[name, value, name, value ...]`` headers as a dict (last value wins)."""
    out: dict[str, str] = {}
    if isinstance(raw, list):
        for i in range(0, len(raw) - 1, 2):
            name, value = raw[i], raw[i + 1]
            if isinstance(name, str):
                out[name] = value if isinstance(value, str) or value is None else str(value)
    elif isinstance(raw, dict):
        out = {str(k): v if isinstance(v, str) or v is None else str(v) for k, v in raw.items()}
    return out


def _json_payload(payload: Any) -> Any:
    """The payload as a JSON value when it is JSON text (or already decoded), else None."""
    if isinstance(payload, dict | list):
        return payload
    if isinstance(payload, str) and payload[:1] in ("{", "["):
        try:
            return loads(payload)
        except ValueError:
            return None
    return None


def event_type(headers: dict[str, str], payload: Any) -> str | None:
    """A record's event type from its headers, else from its payload's type field."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in EVENT_TYPE_HEADERS:
        if lowered.get(name):
            return lowered[name]
    if isinstance(payload, dict):
        for name in EVENT_TYPE_FIELDS:
            if isinstance(payload.get(name), str):
                return payload[name]
    return None


# ---------------------------------------------------------------------------------------------
# Fast path: DuckDB reads the file (ingest/_duck.py) and computes _add_record's rows in SQL.

#: kcat's envelope as read_json reads it: every field as JSON text, so the SQL can tell a
#: string from a number (kcat writes strings; anything else is left to Python).
_ENVELOPE = dict.fromkeys(("topic", "partition", "offset", "tstype", "ts", "broker", "headers",
                           "key", "payload", "key_error", "payload_error"), "JSON")

#: One row per line, in file order. ``ok`` lists every condition under which these columns are
#: exactly _add_record's rows; a line failing one is ``slow`` and Python reads it. Cheap tests
#: stand for costly ones: a headers array whose JSON text is exactly as long as its strings
#: quoted holds only strings and nulls and nothing to escape, so its object text is quotes and
#: colons, never DuckDB's JSON writer (which spells \u001F where orjson writes \u001f). Keys
#: come out as columns (``k_*``) that ``_fast_batch`` turns into key rows.
FAST_SQL = """
WITH doc AS (
    SELECT topic AS j_topic, partition AS j_part, "offset" AS j_off, tstype AS j_tstype,
           ts AS j_ts, broker AS j_broker, headers AS j_headers, "key" AS j_key,
           payload AS j_payload, key_error AS j_key_error, payload_error AS j_payload_error
    FROM %(json_lines)s
), rec AS (
    SELECT *,
        CASE WHEN starts_with(j_topic, '"') THEN json_extract_string(j_topic, '$') END AS topic,
        CASE WHEN regexp_full_match(j_part, '-?[0-9]{1,18}') THEN j_part::VARCHAR::BIGINT END
            AS part,
        CASE WHEN regexp_full_match(j_off, '-?[0-9]{1,18}') THEN j_off::VARCHAR::BIGINT END
            AS off,
        CASE WHEN regexp_full_match(j_ts, '-?[0-9]{1,15}') THEN j_ts::VARCHAR::BIGINT END AS ts,
        CASE WHEN starts_with(j_tstype, '"') THEN json_extract_string(j_tstype, '$') END
            AS tstype,
        CASE WHEN starts_with(j_key, '"') THEN json_extract_string(j_key, '$') END AS msg_key,
        CASE WHEN starts_with(j_payload, '"') THEN json_extract_string(j_payload, '$') END AS p,
        CASE WHEN j_headers IS NULL THEN []::VARCHAR[]
             ELSE try(from_json(j_headers, '["VARCHAR"]')) END AS hs
    FROM doc
), hdr AS (
    SELECT *,
        list_transform(range(1, len(hs) // 2 + 1), lambda i: hs[2 * i - 1]) AS names,
        list_transform(range(1, len(hs) // 2 + 1), lambda i: hs[2 * i]) AS vals,
        j_headers IS NULL OR strlen(j_headers) = 2 + greatest(len(hs) - 1, 0)
            + coalesce(list_sum(list_transform(hs, lambda h: coalesce(strlen(h) + 2, 4))), 0)
            AS plain_headers,
        starts_with(p, '{') OR starts_with(p, '[') AS dec
    FROM rec
), txt AS (
    SELECT *,
        CASE WHEN dec THEN try(json_extract(p, $paths)) END AS ex,
        CASE WHEN p IS NULL THEN NULL
             WHEN dec THEN CASE WHEN try(json_extract(p, $paths)) IS NOT NULL THEN p
                                ELSE to_json(p)::VARCHAR END
             WHEN json_valid(p) THEN p ELSE to_json(p)::VARCHAR END AS text
    FROM hdr
), checked AS (
    SELECT *,
        strlen(text) > $cap AND length(text) > $cap AS cut,
        topic <> '' AND part IS NOT NULL AND off IS NOT NULL
        AND (j_ts IS NULL OR ts IS NOT NULL)
        AND (j_tstype IS NULL OR tstype IS NOT NULL)
        AND (j_broker IS NULL OR regexp_full_match(j_broker, '-?[0-9]{1,18}'))
        AND (j_key IS NULL OR msg_key IS NOT NULL)
        AND (j_payload IS NULL OR p IS NOT NULL)
        AND (j_key_error IS NULL OR starts_with(j_key_error, '"'))
        AND (j_payload_error IS NULL OR starts_with(j_payload_error, '"'))
        AND len(hs) %% 2 = 0 AND plain_headers AND list_count(names) = len(names)
        AND NOT coalesce(regexp_matches(p, 'NaN|Infinity|,[ \t\n\r]*[\\]}]') OR %(duplicates)s
                 OR (strlen(p) > 2000
                     AND strlen(p) - strlen(replace(replace(p, '[', ''), '{', '')) > 1000),
                 false)
        AS ok
    FROM txt
), msg AS (
    SELECT *,
        CASE WHEN cut THEN '{"truncated":true,"size":' || length(text) || ',"head":'
                           || to_json(left(text, 1024))::VARCHAR || '}'
             ELSE text END AS payload,
        CASE WHEN len(names) = 0 THEN '{}'
             WHEN list_count(vals) = len(vals)
             THEN '{"' || array_to_string(list_transform(range(1, len(names) + 1),
                                          lambda i: names[i] || '":"' || vals[i]), '","') || '"}'
             ELSE '{' || array_to_string(list_transform(range(1, len(names) + 1),
                  lambda i: '"' || names[i] || '":' || coalesce('"' || vals[i] || '"', 'null')),
                  ',') || '}' END AS headers,
        '{"partition":' || part || ',"offset":' || off
            || ',"tstype":' || coalesce(j_tstype::VARCHAR, 'null')
            || ',"broker":' || coalesce(j_broker::VARCHAR, 'null')
            || ',"payload_truncated":' || CASE WHEN cut THEN 'true' ELSE 'null' END
            || ',"key_error":' || coalesce(j_key_error::VARCHAR, 'null')
            || ',"payload_error":' || coalesce(j_payload_error::VARCHAR, 'null') || '}'
            AS detail
    FROM checked
)
SELECT
    CASE WHEN ok AND NOT contains(detail, '\\u00')
              AND (text IS NOT DISTINCT FROM p OR NOT contains(payload, '\\u00'))
         THEN 'fast' ELSE 'slow' END AS kind,
    'kafka:msg:' || topic || '/' || part || '/' || off AS uid, 'kafka' AS system,
    $component || CASE WHEN regexp_matches(topic, $edge_space)
                       THEN regexp_replace(topic, $strip, '', 'g') ELSE topic END AS component,
    topic AS channel,
    coalesce(nullif(json_extract_string(coalesce(%(type_fields)s), '$'), ''),
             CASE WHEN p IS NULL THEN 'tombstone' END) AS payload_type,
    msg_key,
    CASE WHEN (tstype IS NULL OR tstype <> 'none') AND ts > 0 THEN ts * 1000 END AS produced_at,
    payload, headers, detail, names, vals,
    %(payload_keys)s
FROM msg
"""


def fast_query(rules: KeyRules) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The fast-path SQL, its parameters, and the key kind of each key column.

    Raises ValueError when a rule cannot be expressed in DuckDB's JSONPath.
    """
    params: dict[str, Any] = {
        "cap": PAYLOAD_CAP, "component": channel_component("kafka", "_").removesuffix("_"),
        "strip": _duck.STRIP, "edge_space": _duck.EDGE_SPACE,
    }
    pay = _duck.payload_sql("p", "ex", EVENT_TYPE_FIELDS, rules, params)
    params["paths"] = pay.paths
    # The first string among the payload's type fields (a "" one still wins, then gives none).
    type_fields = ", ".join(f"CASE WHEN starts_with(ex[{i + 1}], '\"') THEN ex[{i + 1}] END"
                            for i in range(len(EVENT_TYPE_FIELDS)))
    sql = FAST_SQL % {"json_lines": _duck.json_lines(_ENVELOPE), "type_fields": type_fields,
                      "payload_keys": pay.keys, "duplicates": pay.duplicates}
    return sql, params, {**pay.kinds, "msg_key": str(KeyKind.MESSAGE_KEY)}


def _fast(src: Source, b: BatchBuilder) -> Iterator[Batch]:
    """Read the file with DuckDB; the lines it leaves to Python go through ``_line``."""
    slow: set[int] = set()
    after: int | None = None
    done = 0
    try:
        sql, params, key_kinds = fast_query(src.rules)
    except ValueError:
        after = 0  # a key rule DuckDB cannot express: the whole file the Python way
    else:
        try:
            for df in _duck.read_json_lines(src, sql, params):
                pairs = _duck.header_pairs(df)
                fast = df.filter(pl.col("kind") == "fast").join(
                    pairs.odd_lines.to_frame("line"), on="line", how="anti")
                if fast.height:
                    done += fast.height
                    yield _fast_batch(fast, pairs.table.join(fast.select("line"), on="line"),
                                      src.rules, key_kinds)
                slow.update(df.filter(pl.col("kind") == "slow")["line"].to_list())
                slow.update(pairs.odd_lines.to_list())
        except _duck.Stopped as stop:
            after = stop.lines  # DuckDB could not go on: Python takes over from the next line
            b.note("fast_path_stopped", {"after_line": after, "reason": str(stop)})
    b.note("fast_path", {"duckdb_records": done, "python_lines": len(slow),
                         "python_from_line": None if after is None else after + 1})
    for number, line in _duck.lines_at(src, slow, after):
        _line(b, src, number, line)
        if b.ready():
            yield b.take()
    yield b.take()


def _fast_batch(fast: pl.DataFrame, pairs: pl.DataFrame, rules: KeyRules,
                key_kinds: dict[str, str]) -> Batch:
    """The rows of the lines DuckDB vouched for; ``pairs`` holds their headers, one per row."""
    header_type = _duck.first_header(pairs, EVENT_TYPE_HEADERS)
    ce = (pairs.filter(pl.col("name") == "ce_id").select("line", pl.col("value").alias("ce_id"))
          .join(pairs.filter(pl.col("name") == "ce_source")
                .select("line", pl.col("value").alias("ce_source"), pl.lit(True).alias("has")),
                on="line", how="left")
          .select("line", pl.format("{}/{}", pl.when(pl.col("has")).then(
              pl.col("ce_source").fill_null("None")).otherwise(pl.lit("")),
              pl.col("ce_id").fill_null("None")).alias("value")))
    messages = (fast.join(header_type, on="line", how="left")
                .with_columns(pl.coalesce("header_type", "payload_type").alias("event_type"),
                              pl.format("line {}", pl.col("line")).alias("location"),
                              pl.lit(str(Status.OK)).alias("status")))
    uid = fast.select("line", "uid")
    keys = pl.concat([
        _duck.header_keys(pairs.join(uid, on="line"), rules),
        _duck.key_columns(fast, key_kinds),
        ce.join(uid, on="line").select(pl.col("uid").alias("entity_uid"),
                                       pl.lit(str(KeyKind.MESSAGE_ID)).alias("kind"), "value"),
    ])
    return Batch(framed={"messages": _duck.model_frame("messages", messages),
                         "keys": _duck.model_frame("keys", keys)},
                 records=fast.height, loaded=fast.height)
