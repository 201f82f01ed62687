"""Logs from tables: CSV/TSV or Parquet exports of log records, one record per row.

What log stores and datasets export: Loki/Grafana "Download CSV" (``time``, ``line``,
labels), Elasticsearch/Kibana CSV reports (``@timestamp``, ``message``, ``log.level``),
ClickHouse ``otel_logs`` (``Timestamp``, ``TraceId``, ``SpanId``, ``SeverityText``,
``ServiceName``, ``Body``) and otlp2parquet's Parquet of it (binary ids, ``AnyValue``
bodies), Datadog log CSVs, and public microservice RCA datasets whose log tables carry
``TraceID``/``SpanID``/``PodName`` next to the raw container log line.

Each row becomes a ``logs`` row, attached to the span ``otel:span:<trace>/<span>`` (the uid the
trace ingestors give it) when the row has both ids. A message that is a Docker ``json-file``
line (``{"log":"...\\n","stream":"stderr","time":"..."}``) or a CRI line (``<time> stderr F
<text>``, containerd/CRI-O) is unwrapped: the text is the body, the stream goes to ``detail``,
the time is used when the row has none. Without a level column (or with an empty cell) the
level is read from the text: JSON ``"level":"error"`` (pino's numeric 10..60 too), logfmt
``level=error``, klog ``E1024 12:00:00``, ``[error]``, an upper-case ``ERROR`` word, and a
``Traceback``/``...Exception`` means error. The level found is kept in ``detail.severity_text``
(``detail.severity_source = "message"`` when read from the text).

Ids follow ``tabular_spans`` (non-hex ids hashed to stable hex, original kept in ``detail``);
a Kubernetes pod name gives the service as there. A row whose time is present but unreadable is
rejected (``line N``/``row N``, naming the column and the value).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import polars as pl
from polars.exceptions import PanicException

from ingest import _tabular as tab
from ingest.base import Batch, BatchBuilder, Source, UnreadableFile
from tracemap.model import TABLES, Severity

NAME = "tabular_logs"

WANTED = frozenset({"trace_id", "span_id", "service", "pod", "time", "level", "message"})
#: Fields of the spans format that mean a logs field here.
SYNONYMS = {"start": "time"}

#: Level spellings (lowercased, trailing digits cut, as ``INFO2``) -> severity.
LEVELS: dict[str, str] = {
    **dict.fromkeys(("trace", "trc", "finest", "finer", "verbose", "t"), Severity.TRACE),
    **dict.fromkeys(("debug", "dbg", "fine", "d"), Severity.DEBUG),
    **dict.fromkeys(("info", "information", "informational", "notice", "config", "i", "inf"),
                    Severity.INFO),
    **dict.fromkeys(("warn", "warning", "w", "wrn"), Severity.WARN),
    **dict.fromkeys(("error", "err", "severe", "e", "exception", "traceback"), Severity.ERROR),
    **dict.fromkeys(("fatal", "critical", "crit", "alert", "emergency", "emerg", "panic", "f",
                     "ftl"), Severity.FATAL),
}
#: Columns holding an OTel SeverityNumber (normalized names).
NUMBER_COLUMNS = frozenset({"severitynumber", "severitynum"})
#: pino/bunyan numeric levels.
PINO_LEVELS: dict[int, str] = {10: Severity.TRACE, 20: Severity.DEBUG, 30: Severity.INFO,
                               40: Severity.WARN, 50: Severity.ERROR, 60: Severity.FATAL}
#: OTel SeverityNumber ranges of four: 1-4 trace ... 21-24 fatal.
NUMBER_LEVELS = (Severity.TRACE, Severity.DEBUG, Severity.INFO, Severity.WARN, Severity.ERROR,
                 Severity.FATAL)

#: Where a level hides in message text, most explicit first (group 1 is the level word).
TEXT_LEVELS: tuple[str, ...] = (
    r'"(?:level|severity|lvl|loglevel|log\.level|levelname|severity_text)"\s*:\s*"([A-Za-z]+)',
    r'"level"\s*:\s*(\d{2})\b',  # pino / bunyan
    r'(?:^|\s)(?:level|lvl|severity)=(?:")?([A-Za-z]+)',
    r"^([IWEF])\d{4} \d\d:\d\d:\d\d",  # klog / glog
    r"\[(?i)(trace|debug|info|notice|warn|warning|error|err|fatal|critical|crit|panic|severe)\]",
    r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|PANIC|SEVERE)\b",
    r"(Traceback) \(most recent call last\)|\w(Exception)\b|^(panic):",
)

#: A CRI (containerd, CRI-O) container log line: time, stream, partial/full tag, text.
CRI_LINE = r"^(\d{4}-\d\d-\d\dT\S+) (stdout|stderr) ([FP]) (.*)$"


def sniff(head: bytes, path: str) -> bool:
    return tab.sniff_shape(head, path) == "logs"


def parse(src: Source) -> Iterator[Batch]:
    names, chunks = tab.read_chunks(src)
    cols = tab.resolve(names, WANTED, src.options.get("column_map"), SYNONYMS, src.display)
    trace, span = tab.IdColumn(16), tab.IdColumn(8)
    first = True
    for chunk in chunks:
        b = BatchBuilder()
        if first:
            b.note("columns", cols.note())
            first = False
        try:
            logs = _rows(chunk, cols, trace, span, b)
        except (pl.exceptions.PolarsError, PanicException) as exc:
            raise UnreadableFile(tab.unusable_types(chunk.df, exc)) from None
        batch = b.take()
        if logs.height:
            batch.tables["logs"] = logs
        yield batch


def _nulls(n: int, dtype: pl.DataType = pl.String) -> pl.Series:
    return pl.Series([None] * n, dtype=dtype)


def _rows(chunk: tab.Chunk, cols: tab.Columns, trace: tab.IdColumn, span: tab.IdColumn,
          b: BatchBuilder) -> pl.DataFrame:
    df = chunk.df
    n = df.height
    b.read(chunk.records)
    get = cols.get
    tid, tid_src = trace(df[get("trace_id")]) if get("trace_id") else (_nulls(n), _nulls(n))
    sid, sid_src = span(df[get("span_id")]) if get("span_id") else (_nulls(n), _nulls(n))
    message = df[get("message")] if get("message") else _nulls(n)
    message = tab.cell_text(message)  # a number, a struct or list (JSON text), bytes (hex)
    d = pl.DataFrame({
        "msg": message,
        "level": tab.as_text(df[get("level")]) if get("level") else _nulls(n),
        "service": tab.as_text(df[get("service")]) if get("service") else _nulls(n),
        "pod": tab.as_text(df[get("pod")]) if get("pod") else _nulls(n),
    })
    m = pl.col("msg")
    docker = m.str.starts_with("{") & m.str.contains('"log"')
    cri = m.str.extract_groups(CRI_LINE)
    d = d.with_columns(
        pl.when(docker).then(m.str.json_path_match("$.log")).alias("d_log"),
        pl.when(docker).then(m.str.json_path_match("$.stream")).alias("d_stream"),
        pl.when(docker).then(m.str.json_path_match("$.time")).alias("d_time"),
        cri.alias("cri"),
    ).with_columns(
        pl.coalesce(pl.col("d_log").str.strip_chars_end("\r\n"),
                    pl.col("cri").struct.field("4"), m).alias("body"),
        pl.coalesce("d_stream", pl.col("cri").struct.field("2")).alias("stream"),
        pl.coalesce("d_time", pl.col("cri").struct.field("1")).alias("line_time"),
    )
    # Time: the time column, else the container runtime's time of the line.
    tcol = get("time")
    if tcol:
        t_us, bad = tab.times_us(df[tcol], cols.units.get("time"))
    else:
        t_us, bad = _nulls(n, pl.Int64), pl.Series([False] * n)
    line_us, _ = tab.times_us(d["line_time"], None)
    time = t_us.fill_null(line_us) if t_us.null_count() else t_us
    rejected = df[tab.ROW].is_in(list(chunk.bad))
    for i in rejected.arg_true().to_list():
        row = int(df[tab.ROW][i])
        b.reject(df[tab.LOC][i], chunk.bad[row], chunk.raw(row))
    hit = bad.fill_null(False) & ~rejected
    for i in hit.arg_true().to_list():
        b.reject(df[tab.LOC][i], f"column '{tcol}': expected epoch s/ms/µs/ns or an ISO-8601 "
                 f"time, got {df[tcol][i]!r}", chunk.raw(int(df[tab.ROW][i])))
    keep = ~(rejected | hit)
    b.loaded(int(keep.sum()))
    number_col = next((c for c in cols.extras if tab.norm_name(c) in NUMBER_COLUMNS), None)
    d = d.with_columns(
        (tab.as_text(df[number_col]).str.to_integer(strict=False) if number_col
         else _nulls(n, pl.Int64)).alias("sevnum"))
    sev = _severity(d)
    d = d.hstack(sev).with_columns(
        pl.Series("tid", tid), pl.Series("sid", sid), pl.Series("time", time),
        pl.coalesce("service", tab.service_from_pod(pl.col("pod"))).alias("service"),
    )
    extras, _ = tab.extra_columns(df, [c for c in cols.extras if c != number_col])
    kept = {"k8s.pod.name": d["pod"], "stream": d["stream"], "severity_text": d["sev_text"],
            "severity_source": d["sev_source"]}
    if get("trace_id"):
        kept[get("trace_id")] = tid_src  # type: ignore[index]
    if get("span_id"):
        kept[get("span_id")] = sid_src  # type: ignore[index]
    for name, s in kept.items():
        extras.setdefault(name, s)
    ex = pl.DataFrame(extras)
    detail = tab.json_members(tab.fragment(ex, list(ex.columns))) if ex.width else pl.lit("{}")
    out = d.hstack(ex.select(detail.alias("detail")) if ex.width
                   else pl.DataFrame({"detail": ["{}"] * n}))
    out = out.with_columns(df[tab.LOC].alias("location"), df[tab.ROW].alias("_row")).filter(keep)
    usable = df.filter(keep)
    raw_rows = pl.DataFrame([tab.cell_text(usable[c]).fill_null("") for c in usable.columns
                             if c not in tab.INTERNAL]).select(
        pl.concat_str(pl.all(), separator="\x1f"))
    uids = [f"log:record:{hashlib.sha256(r.encode()).hexdigest()[:32]}"
            for r in raw_rows.to_series().to_list()]
    logs = out.with_columns(
        pl.Series("uid", uids, dtype=pl.String),
        pl.when(pl.col("tid").is_not_null() & pl.col("sid").is_not_null())
        .then(pl.lit("otel:span:") + pl.col("tid") + "/" + pl.col("sid")).alias("entity_uid"),
        pl.col("tid").alias("trace_id"), pl.col("sid").alias("span_id"),
    )
    return logs.select([
        (pl.col(c).cast(pl.Int64).cast(t) if isinstance(t, pl.Datetime) else pl.col(c).cast(t))
        .alias(c) for c, t in TABLES["logs"].items()])


def _severity(d: pl.DataFrame) -> pl.DataFrame:
    """``severity``, ``severity_number``, ``sev_text`` (the spelling) and ``sev_source``."""
    col = pl.col("level")
    word = col.str.to_lowercase().str.replace(r"\d+$", "")
    num = col.str.to_integer(strict=False)
    from_column = (
        pl.when(num.is_in(list(PINO_LEVELS))).then(
            num.replace_strict(PINO_LEVELS, default=None, return_dtype=pl.String))
        .when((num >= 1) & (num <= 24)).then(
            ((num - 1) // 4).replace_strict(dict(enumerate(NUMBER_LEVELS)), default=None,
                                            return_dtype=pl.String))
        .otherwise(word.replace_strict(LEVELS, default=None, return_dtype=pl.String)))
    body = pl.col("body")
    found = [body.str.extract(p, 1) for p in TEXT_LEVELS[:-1]]
    exc = TEXT_LEVELS[-1]
    found.append(pl.coalesce(body.str.extract(exc, 1), body.str.extract(exc, 2),
                             body.str.extract(exc, 3)))
    token = pl.coalesce(found)
    tok_num = token.str.to_integer(strict=False)
    from_text = (pl.when(tok_num.is_not_null())
                 .then(tok_num.replace_strict(PINO_LEVELS, default=None, return_dtype=pl.String))
                 .otherwise(token.str.to_lowercase().replace_strict(
                     LEVELS, default=None, return_dtype=pl.String)))
    # An OTel SeverityNumber column (ClickHouse otel_logs) decides first, as otlp_logs_json
    # folds severity; then the level column; then the text.
    otel = pl.col("sevnum")
    otel_ok = ((otel >= 1) & (otel <= 24)).fill_null(False)
    by_number = ((otel - 1) // 4).replace_strict(dict(enumerate(NUMBER_LEVELS)), default=None,
                                                 return_dtype=pl.String)
    use_column = col.is_not_null()
    return d.select(
        pl.when(otel_ok).then(by_number)
        .when(use_column).then(from_column.fill_null(Severity.UNKNOWN.value))
        .otherwise(from_text.fill_null(Severity.UNKNOWN.value)).alias("severity"),
        pl.when(otel_ok).then(otel)
        .when(use_column & (num >= 1) & (num <= 24) & ~num.is_in(list(PINO_LEVELS)))
        .then(num).cast(pl.Int32).alias("severity_number"),
        pl.when(use_column).then(col).otherwise(token).alias("sev_text"),
        pl.when(~use_column & ~otel_ok & token.is_not_null()).then(pl.lit("message"))
        .alias("sev_source"),
    )
