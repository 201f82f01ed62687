"""OTLP logs as binary protobuf: ExportLogsServiceRequest (or LogsData) messages.

What an OTLP/HTTP ``application/x-protobuf`` body to ``/v1/logs`` and the Collector ``file``
exporter with ``format: proto`` in a logs pipeline hold. Parsed with opentelemetry-proto; the
records then go through the same mapping as ``otlp_logs_json``, so both encodings give the same
rows (uids included). A file may be gzip-compressed.
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ingest import otlp_logs_json, otlp_proto
from ingest.base import Batch, BatchBuilder, Source, proto_fields, proto_first

NAME = "otlp_logs_proto"

#: ``(field number, wire type)`` of every LogRecord field (logs.proto, OTLP 1.0-1.5):
#: time_unix_nano 1 and observed_time_unix_nano 11 are fixed64, flags 8 fixed32, the ids bytes.
#: A Span starts with trace_id (1, bytes), which no LogRecord field is.
LOG_RECORD_FIELDS = frozenset({(1, 1), (2, 0), (3, 2), (5, 2), (6, 2), (7, 0), (8, 5), (9, 2),
                               (10, 2), (11, 1), (12, 2)})


def sniff(head: bytes, path: str) -> bool:
    # resource_logs(1) -> scope_logs(2) -> log_records(2): a record made of LogRecord fields.
    if not head.startswith(b"\x0a"):
        return False
    record = proto_first(head, 1, 2, 2)
    if not record:
        return False
    fields = proto_fields(record)
    return bool(fields) and all((n, w) in LOG_RECORD_FIELDS for n, w, _ in fields)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    doc = otlp_proto.request_dict(src, b, ExportLogsServiceRequest())
    if doc is not None:
        yield from otlp_logs_json.logs_from_request(doc, "message", b)
    yield b.take()
