"""Spans from tables: CSV/TSV or Parquet exports of a trace store, one span per row.

What teams export when they pull spans out of their trace store by hand or by pipeline:

- Grafana Explore/Tempo "Download CSV" of a trace data frame: ``traceID``, ``spanID``,
  ``parentSpanID``, ``operationName``, ``serviceName``, ``startTime`` (epoch ms, float),
  ``duration`` (ms); some data sources write 64-bit ids as decimal text.
- ClickHouse ``otel_traces`` (collector ``clickhouse`` exporter) as CSV/Parquet:
  ``Timestamp`` (DateTime64(9) text), ``TraceId``, ``SpanId``, ``ParentSpanId``, ``SpanName``,
  ``SpanKind`` (``SPAN_KIND_SERVER`` in older exporter versions, ``Server`` in newer),
  ``ServiceName``, ``Duration`` (ns), ``StatusCode`` (``STATUS_CODE_ERROR`` / ``Error``),
  ``StatusMessage``, ``ResourceAttributes``/``SpanAttributes`` maps, ``Events.*``/``Links.*``.
- Honeycomb/Datadog CSV exports (``trace.trace_id``, ``trace.parent_id``, ``duration_ms``;
  Datadog's decimal 64-bit ids), Parquet tables from a data lake, public microservice trace
  datasets (``TraceID``/``SpanID``/``ParentID`` with ``root``, ``PodName``, ms times).

Columns are matched by spelling (see ``ingest/_tabular.py``; ``--map COLUMN=FIELD`` overrides).
Each row gives the same rows the OTLP ingestor gives for that span (``otlp_json.add_spans``):
step ``otel:span:<trace>/<span>``, run ``otel:run:...`` of ``otel:service:<service>`` for local
roots, parent links, trace/span keys; columns not used as fields become span attributes (OTel
resource-style names such as ``host.name``, ``k8s.pod.name`` also go to the run) and pass
through the correlation-key rules. Attribute maps (ClickHouse ``{'k':'v'}`` text, Parquet
maps, ``tags`` arrays of ``{key, value}``) are flattened into attributes; ``Links.TraceId``/
``Links.SpanId`` (or a JSON ``links`` column) become span links and an ``exception`` event
the error, as OTLP reads them. Ids that are not hex become stable hex (decimal ids are
converted, other text hashed; the original stays in ``detail`` under its column name).

Quirks: a parent's service is looked up among the 64k rows before and after a span (the OTLP
ingestor looks within one request): a child whose parent lies further away in the file
counts as a local root of its service. A duration column without a unit in its
name gets its unit from the traces themselves (a root span lasts about as long as its spans'
start times spread), else from the start column's unit. CSV carries no types: extra values
stay text. A header line repeated mid-file (concatenated exports) is skipped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ingest import _tabular as tab
from ingest import otlp_json
from ingest.base import Batch, BatchBuilder, Source
from tracemap.errors import IngestError
from tracemap.model import (
    BUS_ALIASES,
    CHANNEL_KINDS,
    TABLES,
    EdgeKind,
    KeyKind,
    Status,
)

NAME = "tabular_spans"

WANTED = frozenset({"trace_id", "span_id", "parent_span_id", "service", "pod", "operation",
                    "kind", "status", "status_message", "scope", "start", "end", "duration"})
#: Fields of the logs format that mean a spans field here.
SYNONYMS = {"time": "start"}
#: Columns holding span links and events (normalized names): ClickHouse ``otel_traces``
#: Nested columns (arrays, one element per link/event), or a JSON array of OTLP-shaped links.
NESTED = frozenset({"linkstraceid", "linksspanid", "links", "eventsname", "eventsattributes"})
LINKS = pl.List(pl.Struct({"tid": pl.String, "sid": pl.String}))

#: Span kinds by spelling (lowercased, ``span_kind_``/``spankind.`` prefixes cut).
KINDS: dict[str, str] = {
    **{str(k): v for k, v in otlp_json.SPAN_KINDS.items()},
    **{v: v for v in otlp_json.SPAN_KINDS.values()},
}
#: Status words (lowercased, ``status_code_``/``statuscode.`` prefixes cut); OTel, gRPC,
#: and what people write by hand.
STATUS_WORDS: dict[str, str] = {
    "ok": Status.OK, "unset": Status.OK, "success": Status.OK, "succeeded": Status.OK,
    "completed": Status.OK, "false": Status.OK, "no": Status.OK,
    "error": Status.FAILED, "err": Status.FAILED, "failed": Status.FAILED,
    "failure": Status.FAILED, "fail": Status.FAILED, "true": Status.FAILED,
    "yes": Status.FAILED, "exception": Status.FAILED, "internal": Status.FAILED,
    "unavailable": Status.FAILED, "aborted": Status.FAILED, "data_loss": Status.FAILED,
    "timeout": Status.TIMED_OUT, "timed_out": Status.TIMED_OUT,
    "deadline_exceeded": Status.TIMED_OUT, "cancelled": Status.CANCELLED,
    "canceled": Status.CANCELLED,
}
#: An error-flag column (``error``, ``is_error``): 1/0 rather than a status code.
FLAG_WORDS = {"1": Status.FAILED, "0": Status.OK}
#: OTLP status codes by our status, for the reference path (add_spans reads codes).
_CODES = {Status.OK: 1, Status.FAILED: 2}

#: How far (in rows) a parent's service is looked up on each side of a span: exports sorted
#: by time rather than by trace still keep a trace's spans this close at 30k spans/s.
WINDOW_ROWS = 65_536


def sniff(head: bytes, path: str) -> bool:
    return tab.sniff_shape(head, path) == "spans"


@dataclass
class _State:
    """Per-file decisions, taken on the first chunk and kept so one file reads one way."""

    cols: tab.Columns
    trace: tab.IdColumn = field(default_factory=lambda: tab.IdColumn(16))
    span: tab.IdColumn = field(default_factory=lambda: tab.IdColumn(8))
    duration_unit: str | None = None
    start_unit: str | None = None
    #: Span-link and span-event columns (ClickHouse ``Links.*``/``Events.*``, ``links``).
    nested: dict[str, str] = field(default_factory=dict)


def parse(src: Source) -> Iterator[Batch]:
    """Stream the table's rows as spans (``src.options["reference_path"]``: build every row
    through ``otlp_json.add_spans``, the slow reference the fast path is tested against)."""
    names, chunks = tab.read_chunks(src)
    cols = tab.resolve(names, WANTED, src.options.get("column_map"), SYNONYMS, src.display)
    for need in ("trace_id", "span_id"):
        if not cols.get(need):
            raise IngestError(
                f"{src.display}: no {need} column (looked for "
                f"{', '.join(tab.ALIASES[need])}, any case/punctuation) among: "
                f"{', '.join(names)}. Name it with --map COLUMN={need}.")
    state = _State(cols)
    state.nested = {tab.norm_name(c): c for c in cols.extras
                    if tab.norm_name(c) in NESTED or c.lower().startswith(("events.", "links."))}
    cols.extras = [c for c in cols.extras if c not in state.nested.values()]
    build = _reference if src.options.get("reference_path") else _fast
    behind: deque[pl.DataFrame] = deque()  # id -> service of finished rows, newest last
    pending: deque[tuple[pl.DataFrame, BatchBuilder]] = deque()
    ahead = 0  # rows pending after the oldest pending chunk
    for n, chunk in enumerate(chunks):
        b = BatchBuilder()
        good = _normalize(chunk, state, b)
        if n == 0:
            b.note("columns", cols.note())
            if cols.get("duration"):
                b.note("units", {"duration": state.duration_unit})
        if pending:
            ahead += good.height
        pending.append((good, b))
        while len(pending) > 1 and ahead >= WINDOW_ROWS:
            yield _finish(pending, behind, src, build)
            ahead -= pending[0][0].height
    while pending:
        yield _finish(pending, behind, src, build)


def _finish(pending: deque[tuple[pl.DataFrame, BatchBuilder]], behind: deque[pl.DataFrame],
            src: Source, build: Any) -> Batch:
    """Rows of the oldest pending chunk, its parents looked up around it; then it moves
    behind (ids only), and what is more than ``WINDOW_ROWS`` behind is dropped."""
    good, b = pending[0]
    ids = [*behind, *(p[0].select("tid", "sid", "service") for p in pending)]
    services = pl.concat(ids).unique(subset=["tid", "sid"], keep="last")
    tables = build(good, services, src, b)
    batch = b.take()
    for name, df in tables.items():
        if df.height:
            batch.tables[name] = _model_frame(name, df)
    pending.popleft()
    behind.append(good.select("tid", "sid", "service"))
    while len(behind) > 1 and sum(f.height for f in behind) - behind[0].height >= WINDOW_ROWS:
        behind.popleft()
    return batch


# --------------------------------------------------------------------------------------------
# Normalizing a chunk: source columns -> one row per usable span, typed


def _normalize(chunk: tab.Chunk, state: _State, b: BatchBuilder) -> pl.DataFrame:
    """The chunk's usable rows as ``tid, sid, parent, service, name, kind, status, error,
    start, end, scope`` plus extras; accounts every row (loaded later, rejected or skipped)."""
    cols = state.cols
    df = chunk.df
    b.read(chunk.records)
    get = cols.get
    tcol, scol = get("trace_id"), get("span_id")
    assert tcol and scol
    # A repeated header line (files concatenated with their headers) is no record of use.
    repeated = (df[tcol].cast(pl.String) == tcol).fill_null(False)
    if repeated.any():
        b.skip("repeated header line", int(repeated.sum()))
        df = df.filter(~repeated)
    tid, tid_src = state.trace(df[tcol])
    sid, sid_src = state.span(df[scol])
    pcol = get("parent_span_id")
    parent = tab.IdColumn(8, state.span.decimal)(df[pcol])[0] if pcol else None
    start, bad_start = _time(df, get("start"), cols.units.get("start"))
    end, bad_end = _time(df, get("end"), cols.units.get("end"))
    if start is not None and state.start_unit is None and get("start"):
        state.start_unit = _start_unit(df[get("start")])
    duration, bad_dur = _duration(df, tid, start, state)
    out = pl.DataFrame({
        tab.LOC: df[tab.LOC], tab.ROW: df[tab.ROW], "tid": tid, "sid": sid,
        "parent": parent if parent is not None else pl.Series([None] * df.height, dtype=pl.String),
        "start": start if start is not None else _nulls(df.height, pl.Int64),
        "end": end if end is not None else _nulls(df.height, pl.Int64),
    })
    if duration is not None:
        out = out.with_columns(
            pl.when(pl.col("end").is_null() & pl.col("start").is_not_null())
            .then(pl.col("start") + duration).otherwise(pl.col("end")).alias("end"),
            pl.when(pl.col("start").is_null() & pl.col("end").is_not_null())
            .then(pl.col("end") - duration).otherwise(pl.col("start")).alias("start"))
    # Rejects: ids first, then times, each naming the column and the value.
    problems = [
        (tid.is_null(), tcol, "a non-empty, non-zero trace id"),
        (sid.is_null(), scol, "a non-empty, non-zero span id"),
        (bad_start, get("start"), "epoch s/ms/µs/ns or an ISO-8601 time"),
        (bad_end, get("end"), "epoch s/ms/µs/ns or an ISO-8601 time"),
        (bad_dur, get("duration"),
         f"a number ({state.duration_unit or 'unit unknown'}) or text like 12ms"),
    ]
    rejected = df[tab.ROW].is_in(list(chunk.bad))
    for i in rejected.arg_true().to_list():
        row = int(df[tab.ROW][i])
        b.reject(df[tab.LOC][i], chunk.bad[row], chunk.raw(row))
    for mask, col, expected in problems:
        if mask is None or col is None:
            continue
        hit = mask.fill_null(False) & ~rejected
        for i in hit.arg_true().to_list():
            value = df[col][i]
            b.reject(df[tab.LOC][i], f"column '{col}': expected {expected}, got "
                     f"{'' if value is None else value!r}", chunk.raw(df[tab.ROW][i]))
        rejected = rejected | hit
    keep = ~rejected
    df, out = df.filter(keep), out.filter(keep)
    tid_src, sid_src = tid_src.filter(keep), sid_src.filter(keep)
    described = _describe(df, cols, tid_src, sid_src)
    events = _event_errors(df, state)
    if events is not None:
        described = described.with_columns(pl.col("error").fill_null(events))
    return out.hstack(described).with_columns(_links(df, state))


def _busy(s: pl.Series) -> list[int]:
    """Rows whose array cell has something in it (``[]`` and nulls skip the Python)."""
    if s.dtype == pl.String:
        t = s.str.strip_chars()
        return (t.is_not_null() & (t != "[]") & (t != "")).arg_true().to_list()
    return s.is_not_null().arg_true().to_list()


def _link_id(value: Any, nbytes: int, decimal: bool | None) -> str | None:
    if value is None:
        return None
    out = tab.slow_id(str(value).strip(), nbytes, bool(decimal))
    return None if out is None or set(out) == {"0"} else out


def _links(df: pl.DataFrame, state: _State) -> pl.Series:
    """Each row's span links as ``[{tid, sid}]``, ids read as the span ids are."""
    n = state.nested
    out: list[list[dict[str, str]] | None] = [None] * df.height
    pairs: dict[int, list[tuple[Any, Any]]] = {}
    if "linkstraceid" in n and "linksspanid" in n:
        tids, sids = df[n["linkstraceid"]], df[n["linksspanid"]]
        for i in _busy(tids):
            pairs.setdefault(i, []).extend(zip(tab.array_cell(tids[i]), tab.array_cell(sids[i]),
                                               strict=False))
    if "links" in n:
        col = df[n["links"]]
        for i in _busy(col):
            for link in tab.array_cell(col[i]):
                if isinstance(link, dict):
                    pairs.setdefault(i, []).append((
                        link.get("traceId", link.get("traceID", link.get("trace_id"))),
                        link.get("spanId", link.get("spanID", link.get("span_id")))))
    for i, found in pairs.items():
        links = [{"tid": t, "sid": s} for t, s in (
            (_link_id(t, 16, state.trace.decimal), _link_id(s, 8, state.span.decimal))
            for t, s in found) if t and s]
        out[i] = links or None
    return pl.Series("links", out, dtype=LINKS)


def _event_errors(df: pl.DataFrame, state: _State) -> pl.Series | None:
    """The error an ``exception`` span event names (message, else type), as OTLP reads it."""
    n = state.nested
    if "eventsname" not in n:
        return None
    names = df[n["eventsname"]]
    attrs = df[n["eventsattributes"]] if "eventsattributes" in n else None
    out: list[str | None] = [None] * df.height
    for i in _busy(names):
        events = tab.array_cell(names[i])
        bags = tab.array_cell(attrs[i]) if attrs is not None else []
        for j, name in enumerate(events):
            if name != "exception":
                continue
            ev = bags[j] if j < len(bags) and isinstance(bags[j], dict) else {}
            text = str(ev.get("exception.message") or ev.get("exception.type") or "")
            if text:
                out[i] = text
                break
    return pl.Series("events", out, dtype=pl.String)


def _nulls(n: int, dtype: pl.DataType) -> pl.Series:
    return pl.Series([None] * n, dtype=dtype)


def _time(df: pl.DataFrame, col: str | None, unit: str | None
          ) -> tuple[pl.Series | None, pl.Series | None]:
    if not col:
        return None, None
    return tab.times_us(df[col], unit)


def _start_unit(s: pl.Series) -> str | None:
    """The unit numeric start times are in (for durations with no unit of their own)."""
    if not s.dtype.is_numeric():
        num = tab.as_text(s).cast(pl.Float64, strict=False)
    else:
        num = s.cast(pl.Float64)
    med = num.filter(num > 0).median()
    return tab.unit_of_magnitude(float(med)) if isinstance(med, int | float) else None


def _duration(df: pl.DataFrame, tid: pl.Series, start: pl.Series | None, state: _State
              ) -> tuple[pl.Series | None, pl.Series | None]:
    col = state.cols.get("duration")
    if not col:
        return None, None
    s = df[col]
    if state.duration_unit is None:
        state.duration_unit = (state.cols.units.get("duration")
                               or ("us" if isinstance(s.dtype, pl.Duration) else None)
                               or _unit_from_traces(s, tid, start)
                               or state.start_unit
                               or _unit_from_magnitude(s))
    return tab.durations_us(s, state.duration_unit)


def _numbers(s: pl.Series) -> pl.Series:
    return (s.cast(pl.Float64, strict=False) if s.dtype.is_numeric()
            else tab.as_text(s).cast(pl.Float64, strict=False))


def _unit_from_traces(s: pl.Series, tid: pl.Series, start: pl.Series | None) -> str | None:
    """The duration unit that makes traces consistent with themselves.

    A trace's longest span (its root) lasts about as long as its spans' start times spread,
    and never less: the ratio of the longest raw duration to that spread (in µs) is about
    10^0..10^1.5 when durations are µs, 10^3..10^4.5 when ns, 10^-3..10^-1.5 when ms.
    The median over traces, rounded to the nearest unit, is the answer.
    """
    if start is None:
        return None
    df = pl.DataFrame({"tid": tid, "start": start, "d": _numbers(s)}).drop_nulls()
    per = (df.group_by("tid").agg(spread=pl.col("start").max() - pl.col("start").min(),
                                  longest=pl.col("d").max())
           .filter((pl.col("spread") > 0) & (pl.col("longest") > 0)))
    if not per.height:
        return None
    k = per.select((pl.col("longest") / pl.col("spread")).log10().median()).item()
    exponent = math.floor((k + 0.75) / 3) * 3
    return {3: "ns", 0: "us", -3: "ms", -6: "s"}.get(max(-6, min(3, exponent)))


def _unit_from_magnitude(s: pl.Series) -> str:
    """Last resort (ISO start, no trace structure): fractions mean ms, big integers ns."""
    num = _numbers(s).drop_nulls()
    if not num.len():
        return "us"
    if (num != num.floor()).any():
        return "ms"
    med = num.median()
    return "ns" if isinstance(med, int | float) and med >= 1e5 else "ms"


def _describe(df: pl.DataFrame, cols: tab.Columns, tid_src: pl.Series, sid_src: pl.Series
              ) -> pl.DataFrame:
    """Service, name, kind, status, error, scope, and the extra columns (JSON-ready)."""
    get = cols.get
    n = df.height
    text = {f: tab.as_text(df[get(f)]) if get(f) else _nulls(n, pl.String)
            for f in ("service", "pod", "operation", "kind", "status", "status_message",
                      "scope")}
    extras, resource = tab.extra_columns(df, cols.extras)
    # A resource bag's service.name names the service when no column does.
    bag_service = extras.get("service.name") if "service.name" in resource else None
    text["bag_service"] = (tab.as_text(bag_service) if bag_service is not None
                           else _nulls(n, pl.String))
    d = pl.DataFrame(text)
    pod = tab.service_from_pod(pl.col("pod"))
    kind = (pl.col("kind").str.to_lowercase()
            .str.replace(r"^(span_kind_|spankind\.|spankind_|kind_)", ""))
    status = _status(pl.col("status"), cols.flag_status,
                     df[get("status")].dtype if get("status") else pl.String)
    out = d.select(
        pl.coalesce(pl.col("service"), pod, pl.col("bag_service"), pl.lit("unknown_service"))
        .alias("service"),
        pl.col("operation").fill_null("").alias("name"),
        kind.replace_strict(KINDS, default="unspecified", return_dtype=pl.String)
        .fill_null("unspecified").alias("kind"),
        status.alias("status"),
        pl.col("status_message").alias("error"),
        pl.col("scope").fill_null("").alias("scope"),
    )
    # What the source said, where we read it into another shape: kept under its column name.
    kept: dict[str, pl.Series] = {}
    if get("status"):
        kept[get("status")] = df[get("status")]
    kept[get("trace_id")] = tid_src  # type: ignore[index]
    kept[get("span_id")] = sid_src  # type: ignore[index]
    if get("pod"):
        kept["k8s.pod.name"] = df[get("pod")]
        resource.add("k8s.pod.name")
    for name, s in kept.items():
        extras.setdefault(name, tab.jsonable(s))
    # Attributes as columns ``x:<name>``, resource attributes ``r:<name>`` (both paths read
    # these prefixes); the members add_spans writes itself are left out.
    ex = pl.DataFrame({f"{'r' if name in resource else 'x'}:{name}": s
                       for name, s in extras.items() if name not in _FIXED_DETAIL})
    return out.hstack(ex) if ex.width else out


_FIXED_DETAIL = frozenset({"otel.kind", "otel.scope", "service.name"})


def _status(s: pl.Expr, flag: bool, dtype: pl.DataType) -> pl.Expr:
    """Our status from an OTel/gRPC/HTTP status code or word, or an error flag."""
    low = (s.str.to_lowercase()
           .str.replace(r"^(status_code_|statuscode\.|statuscode_|status_)", ""))
    words = {**STATUS_WORDS, **(FLAG_WORDS if flag or dtype == pl.Boolean else {})}
    # pandas writes an int column holding blanks as floats: 500.0 is HTTP 500.
    num = pl.coalesce(s.str.to_integer(strict=False),
                      s.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False))
    by_number = (pl.when(num.is_in([0, 1])).then(pl.lit(Status.OK.value))
                 .when(num == 2).then(pl.lit(Status.FAILED.value))
                 .when((num >= 100) & (num < 500)).then(pl.lit(Status.OK.value))
                 .when((num >= 500) & (num < 600)).then(pl.lit(Status.FAILED.value))
                 .otherwise(pl.lit(Status.UNKNOWN.value)))
    return (pl.when(s.is_null()).then(pl.lit(Status.OK.value))  # unset, as OTLP reads it
            .when(low.is_in(list(words))).then(
                low.replace_strict(words, default=None, return_dtype=pl.String))
            .when(num.is_not_null()).then(by_number)
            .otherwise(pl.lit(Status.UNKNOWN.value)))


# --------------------------------------------------------------------------------------------
# Fast path: the OTLP ingestor's rows, built column-wise


def _extra_names(df: pl.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith(("x:", "r:"))]


def _fast(good: pl.DataFrame, services: pl.DataFrame, src: Source, b: BatchBuilder
          ) -> dict[str, pl.DataFrame]:
    """Rows identical to ``otlp_json.add_spans`` for the same spans, with no per-row Python."""
    b.loaded(good.height)
    if not good.height:
        return {}
    extras = _extra_names(good)
    resource = [c for c in extras if c.startswith("r:")]
    attrs = [c for c in extras if c not in resource]
    ren = {c: c[2:] for c in extras}
    df = (good.join(services.rename({"sid": "parent", "service": "parent_service"}),
                    on=["tid", "parent"], how="left", maintain_order="left")
          .with_columns(
              (pl.lit("otel:span:") + pl.col("tid") + "/" + pl.col("sid")).alias("uid"),
              pl.when(pl.col("parent").is_not_null())
              .then(pl.lit("otel:span:") + pl.col("tid") + "/" + pl.col("parent"))
              .alias("parent_uid"))
          .with_columns(
              (pl.col("parent").is_null() | pl.col("parent_service").is_null()
               | (pl.col("parent_service") != pl.col("service"))).alias("local_root")))
    df = df.with_columns(
        pl.when("local_root").then(pl.lit("otel:run:") + pl.col("tid") + "/" + pl.col("sid"))
        .alias("run_uid"))
    named = df.select([pl.col(c).alias(ren[c]) for c in extras])
    frags = (named.select(tab.fragment(named, [ren[c] for c in resource]).alias("_res"),
                          tab.fragment(named, [ren[c] for c in attrs]).alias("_attrs"))
             if extras else pl.DataFrame({"_res": _nulls(df.height, pl.String),
                                          "_attrs": _nulls(df.height, pl.String)}))
    fixed = (pl.struct(pl.col("kind").alias("otel.kind"), pl.col("scope").alias("otel.scope"),
                       pl.col("service").alias("service.name"))
             .struct.json_encode().str.slice(1).str.head(-1))
    run_fixed = (pl.struct(pl.col("service").alias("service.name"),
                           pl.col("uid").alias("root_span"), pl.col("kind").alias("otel.kind"))
                 .struct.json_encode().str.slice(1).str.head(-1))
    df = df.hstack(frags)
    where = pl.col(tab.LOC)
    steps = df.select(
        "uid", "run_uid", pl.lit("otel").alias("system"),
        _component("operation", pl.col("service") + "/" + pl.col("name")).alias("component"),
        "name", pl.col("kind").alias("step_type"), "status",
        pl.col("start").alias("started_at"), pl.col("end").alias("ended_at"),
        "parent_uid", "error", where.alias("location"),
        tab.json_members(pl.col("_res"), pl.col("_attrs"), fixed).alias("detail"),
    )
    roots = df.filter("local_root")
    runs = roots.select(
        pl.col("run_uid").alias("uid"), pl.lit("otel").alias("system"),
        _component("service", pl.col("service")).alias("component"), "name", "status",
        pl.col("start").alias("started_at"), pl.col("end").alias("ended_at"), "error",
        where.alias("location"), "parent_uid",
        tab.json_members(run_fixed, pl.col("_res")).alias("detail"),
    )
    links = [
        roots.select(pl.col("run_uid").alias("src_uid"), pl.col("uid").alias("dst_uid"),
                     pl.lit(EdgeKind.CONTAINS.value).alias("kind"),
                     pl.lit("local root span of the service").alias("evidence"),
                     where.alias("location")),
        df.filter(pl.col("parent").is_not_null()).select(
            pl.col("parent_uid").alias("src_uid"), pl.col("uid").alias("dst_uid"),
            # otlp_json.parent_edge: containment in a service, a consumer follows its
            # producer, anything else across services is a call.
            pl.when(pl.col("parent_service") == pl.col("service"))
            .then(pl.lit(EdgeKind.CONTAINS.value))
            .when(pl.col("kind") == "consumer").then(pl.lit(EdgeKind.FOLLOWS_FROM.value))
            .otherwise(pl.lit(EdgeKind.CALLS.value))
            .alias("kind"), pl.lit("parentSpanId").alias("evidence"), where.alias("location")),
    ]
    span_links = (df.select("uid", "links", where.alias("location")).explode("links")
                  .drop_nulls("links").unnest("links"))
    links.append(span_links.select(
        (pl.lit("otel:span:") + pl.col("tid") + "/" + pl.col("sid")).alias("src_uid"),
        pl.col("uid").alias("dst_uid"), pl.lit(EdgeKind.FOLLOWS_FROM.value).alias("kind"),
        pl.lit("span link").alias("evidence"), "location"))
    keys = [
        roots.select(pl.col("run_uid").alias("entity_uid"),
                     pl.lit(KeyKind.TRACE_ID.value).alias("kind"), pl.col("tid").alias("value")),
        df.select(pl.col("uid").alias("entity_uid"), pl.lit(KeyKind.TRACE_ID.value).alias("kind"),
                  pl.col("tid").alias("value")),
        df.select(pl.col("uid").alias("entity_uid"), pl.lit(KeyKind.SPAN_ID.value).alias("kind"),
                  pl.col("sid").alias("value")),
    ]
    # Correlation-key rules on the span attributes (not the resource), as KeyRules.attributes.
    present = {ren[c]: c for c in attrs}
    for attr, kind in src.rules.attribute_keys.items():
        if attr in present:
            value = _key_text(df[present[attr]])
            keys.append(df.select(pl.col("uid").alias("entity_uid")).with_columns(
                pl.lit(str(kind)).alias("kind"), value.alias("value"))
                .filter(pl.col("value").is_not_null() & (pl.col("value") != "")))
    keys.extend(_channel_keys(df, present))
    return {"steps": steps, "runs": runs, "links": pl.concat(links), "keys": pl.concat(keys)}


def _component(kind: str, name: pl.Expr) -> pl.Expr:
    """``model.component("otel", kind, name)`` as an expression (name stripped)."""
    name = name.str.strip_chars()
    return pl.lit(f"otel:{kind}:") + pl.when(name.is_null()).then(pl.lit("unknown")).otherwise(name)


def _key_text(s: pl.Series) -> pl.Series:
    """Values as ``str(value)`` writes them (what ``KeyRules`` stores)."""
    if s.dtype == pl.String:
        return s
    return pl.Series(s.name, [None if v is None or isinstance(v, dict | list) else str(v)
                              for v in s.to_list()], dtype=pl.String)


def _channel_keys(df: pl.DataFrame, present: dict[str, str]) -> list[pl.DataFrame]:
    """Channel and Kafka message-key keys from messaging attributes, as ``_add_span``."""
    out: list[pl.DataFrame] = []
    bus_col = present.get("messaging.system")
    if not bus_col:
        return out
    bus = _key_text(df[bus_col])
    dests = [_key_text(df[present[n]]) for n in ("messaging.destination.name",
             "messaging.destination", "messaging.kafka.topic") if n in present]
    if dests:
        frame = pl.DataFrame({"uid": df["uid"], "run_uid": df["run_uid"], "bus": bus,
                              **{f"d{i}": d for i, d in enumerate(dests)}})
        # ``a or b or c``: an empty destination falls through to the next spelling.
        dest = pl.coalesce([pl.when(pl.col(f"d{i}") != "").then(pl.col(f"d{i}"))
                            for i in range(len(dests))])
        low = pl.col("bus").str.strip_chars().str.to_lowercase()
        system = low.replace(BUS_ALIASES)
        kind = low.replace_strict(CHANNEL_KINDS, default="destination", return_dtype=pl.String)
        channel = system + ":" + kind + ":" + dest.str.strip_chars()
        ch = frame.filter((pl.col("bus") != "") & dest.is_not_null()).with_columns(
            channel.alias("value"), pl.lit(KeyKind.CHANNEL.value).alias("kind"))
        out.append(ch.select(pl.col("uid").alias("entity_uid"), "kind", "value"))
        out.append(ch.filter(pl.col("run_uid").is_not_null())
                   .select(pl.col("run_uid").alias("entity_uid"), "kind", "value"))
    key_col = present.get("messaging.kafka.message.key")
    if key_col:
        frame = pl.DataFrame({"uid": df["uid"], "bus": bus, "k": _key_text(df[key_col])})
        out.append(frame.filter((pl.col("bus") != "") & pl.col("k").is_not_null()
                                & (pl.col("k") != ""))
                   .select(pl.col("uid").alias("entity_uid"),
                           pl.lit(KeyKind.MESSAGE_KEY.value).alias("kind"),
                           pl.col("k").alias("value")))
    return out


def _model_frame(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Columns in the model's order and dtypes (times from epoch µs), missing ones null."""
    exprs = []
    for name, dtype in TABLES[table].items():
        col = pl.col(name) if name in df.columns else pl.lit(None)
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.cast(pl.Int64).cast(dtype).alias(name))
        else:
            exprs.append(col.cast(dtype).alias(name))
    return df.select(exprs)


# --------------------------------------------------------------------------------------------
# Reference path: each row in the decoded shape otlp_json.add_spans takes


def _reference(good: pl.DataFrame, services: pl.DataFrame, src: Source, b: BatchBuilder
               ) -> dict[str, pl.DataFrame]:
    """Rows of the chunk through ``otlp_json.add_spans`` (one call per chunk, as per request).

    Slow (Python per row); the fast path must give the same rows (tests/ingest).
    """
    b.read(-good.height)  # add_spans reads each span itself; _normalize counted them already
    spans = [to_otlp(row) for row in good.iter_rows(named=True)]
    otlp_json.add_spans(spans, src, b)
    # OTLP status codes say only ok/error: the statuses a table can spell beyond those
    # (timed_out, cancelled) are set on the rows add_spans made, as the fast path sets them.
    special = {f"otel:span:{r['tid']}/{r['sid']}": r["status"]
               for r in good.select("tid", "sid", "status").iter_rows(named=True)
               if r["status"] not in _CODES}
    for row in b.rows["steps"]:
        row["status"] = special.get(row["uid"], row["status"])
    for row in b.rows["runs"]:
        span_uid = "otel:span:" + row["uid"].removeprefix("otel:run:")
        row["status"] = special.get(span_uid, row["status"])
    return {}


def to_otlp(row: dict[str, Any]) -> tuple[str, dict[str, Any], str, dict[str, Any], str]:
    """One normalized row as ``(location, span, service, resource attrs, scope)``."""
    resource: dict[str, Any] = {"service.name": row["service"]}
    attrs: list[dict[str, Any]] = []
    for name, value in row.items():
        if not name.startswith(("x:", "r:")) or value is None:
            continue
        if name.startswith("r:"):
            resource[name[2:]] = value
        else:
            attrs.append({"key": name[2:], "value": any_value(value)})
    status = row["status"]
    span: dict[str, Any] = {
        "traceId": row["tid"], "spanId": row["sid"], "parentSpanId": row["parent"],
        "name": row["name"], "kind": otlp_json._KIND_NAMES[row["kind"]],
        "startTimeUnixNano": None if row["start"] is None else str(row["start"] * 1000),
        "endTimeUnixNano": None if row["end"] is None else str(row["end"] * 1000),
        "status": {"code": _CODES.get(status, 0), "message": row["error"]},
        "attributes": attrs,
        "links": [{"traceId": link["tid"], "spanId": link["sid"]} for link in row["links"] or ()],
    }
    return row[tab.LOC], span, row["service"], resource, row["scope"]


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP AnyValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": any_value(v)}
                                           for k, v in value.items()]}}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": value if isinstance(value, str) else str(value)}
