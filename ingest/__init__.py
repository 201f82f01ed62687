"""Format registry: every ingestor, in sniff order (most specific first).

``INGESTORS`` is explicit: a format exists when it is listed here. ``get(name)`` finds one by
name (with a suggestion for a typo); ``detect(src)`` asks each in order whether it recognises
the start of a file.
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
from ingest.base import Source
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
    """The first ingestor whose ``sniff`` claims the file."""
    head = src.head()
    for module in INGESTORS:
        try:
            if module.sniff(head, str(src.path)):
                return module
        except Exception:  # noqa: BLE001 - a sniff must never stop detection
            continue
    what = "is empty" if not head else "was recognised by no ingestor"
    raise UnknownFormatError(
        f"{src.display}: this file {what} (tried {len(INGESTORS)}). "
        "Pass --format NAME; `tracemap formats` lists them."
    )
