"""Format registry: every ingestor, in sniff order (most specific first).

``INGESTORS`` is explicit: a format exists when it is listed here. ``get(name)`` finds one by
name (with a suggestion for a typo); ``detect(src)`` asks each in order whether it recognises
the start of a file, and ``detection(src)`` also says by which rule: the file's first
``SNIFF_BYTES``, or else its first complete record(s) past noise lines and log prefixes
(``ingest.base.record_view``: a long first line, a shell prompt, ``sam logs`` prefixes).
"""

from __future__ import annotations

import difflib
from types import ModuleType

from ingest import (
    airflow_rest,
    argo_workflow,
    cadence_json,
    canal_json,
    cloudevents_json,
    dbt_log,
    debezium_json,
    dms_kafka,
    eventbridge_json,
    jaeger_json,
    kafka_kcat,
    kafka_lambda,
    openlineage_json,
    otlp_json,
    otlp_logs_json,
    otlp_logs_proto,
    otlp_proto,
    rabbitmq_json,
    sqs_lambda,
    stepfunctions_asl,
    stepfunctions_json,
    tabular_logs,
    tabular_spans,
    temporal_json,
    temporal_proto,
    zeebe_json,
    zipkin_json,
    zipkin_v1_json,
)
from ingest._json import head_object, shape
from ingest.base import RecordView, Source, record_view
from tracemap.errors import UnknownFormatError

#: Sniff order matters: a format whose signature is a strict subset of another's comes later.
INGESTORS: tuple[ModuleType, ...] = (
    temporal_json,
    cadence_json,
    stepfunctions_json,
    stepfunctions_asl,
    argo_workflow,
    airflow_rest,
    openlineage_json,
    zeebe_json,
    dbt_log,
    kafka_lambda,
    debezium_json,
    canal_json,
    dms_kafka,
    eventbridge_json,
    cloudevents_json,
    rabbitmq_json,
    sqs_lambda,
    jaeger_json,
    zipkin_v1_json,  # before zipkin_json, whose sniff a v1 span array also passes
    zipkin_json,
    otlp_json,
    otlp_logs_json,
    kafka_kcat,
    tabular_spans,
    tabular_logs,
    temporal_proto,
    otlp_logs_proto,
    otlp_proto,  # binary: last, its sniff accepts any protobuf that parses as traces
)

BY_NAME: dict[str, ModuleType] = {m.NAME: m for m in INGESTORS}


def names() -> list[str]:
    """Every format name, in sniff order."""
    return [m.NAME for m in INGESTORS]


def summary(module: ModuleType) -> str:
    """The first line of an ingestor's docstring: what ``tracemap formats`` prints."""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def get(name: str) -> ModuleType:
    """The ingestor called ``name``; a near miss gets a suggestion."""
    if name in BY_NAME:
        return BY_NAME[name]
    close = difflib.get_close_matches(name, BY_NAME, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UnknownFormatError(
        f"Unknown format '{name}'.{hint} `tracemap formats` lists the {len(BY_NAME)} formats."
    )


def detect(src: Source) -> ModuleType:
    """The first ingestor whose ``sniff`` claims the file (see ``detection``)."""
    return detection(src)[0]


#: The rule that chose a format when the start of the file settled it.
HEAD_RULE = "start of file"


def detection(src: Source) -> tuple[ModuleType, str]:
    """The ingestor that claims the file, and the rule that chose it.

    Each sniffer is shown the file's head first (``HEAD_RULE``); when none claims it, the
    file's first complete record(s), found past noise lines (shell prompts, kcat status
    lines, comments) and log prefixes in a bounded read (``RecordView.rule`` says which).
    A file no ingestor claims raises ``UnknownFormatError`` saying what its start looks like
    and, in ``declined``, what each format looks for.
    """
    head = src.head()
    module = _claim(head, str(src.path))
    if module is not None:
        return module, HEAD_RULE
    view = record_view(src) if head else None
    if view is not None and view.head != head:
        module = _claim(view.head, str(src.path))
        if module is not None:
            return module, view.rule()
    what = (f"is empty (tried {len(INGESTORS)})" if not head else
            f"was recognised by no ingestor (tried {len(INGESTORS)}): {_looks(head, view)}")
    error = UnknownFormatError(
        f"{src.display}: this file {what}. Pass --format NAME; `tracemap formats` lists them "
        "and what each reads.")
    error.declined = {m.NAME: looks_for(m) for m in INGESTORS}  # type: ignore[attr-defined]
    raise error


def _claim(head: bytes, path: str) -> ModuleType | None:
    for module in INGESTORS:
        try:
            if module.sniff(head, path):
                return module
        except Exception:  # noqa: BLE001 - a sniff must never stop detection
            continue
    return None


def looks_for(module: ModuleType) -> str:
    """What a format's sniff looks for, in a few words: its ``LOOKS_FOR`` if it states one,
    else its summary (why it declined a file it did not claim)."""
    return str(getattr(module, "LOOKS_FOR", "") or summary(module))


def _looks(head: bytes, view: RecordView | None) -> str:
    """What the start of an unclaimed file is, briefly, for the error message."""
    if b"\x00" in head[:1024]:
        return "it is binary, and no binary format (protobuf, Parquet) parses it"
    text = view.head if view is not None else head
    obj = head_object(text)
    where = f" (line {view.line})" if view is not None and view.line > 1 else ""
    if obj is not None:
        return f"its first record{where} is {shape(obj)}, which no format's signature matches"
    first = text.lstrip()[:60].split(b"\n", 1)[0].decode("utf-8", "replace")
    return f"it starts with {first!r}, not a record any format reads"
