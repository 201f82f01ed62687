"""OTLP traces as binary protobuf: ExportTraceServiceRequest (or TracesData) messages.

What an OTLP/HTTP ``application/x-protobuf`` body, the Collector ``file`` exporter with
``format: proto``, and ``otel-cli``/test captures hold. Parsed with opentelemetry-proto; the
spans then go through the same mapping as ``otlp_json``, so both encodings give the same rows.
A file may be gzip-compressed (as the Collector writes with ``compression: gzip``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest import otlp_json
from ingest.base import Batch, BatchBuilder, Source, proto_fields, proto_first

NAME = "otlp_proto"


def sniff(head: bytes, path: str) -> bool:
    # resource_spans(1) -> scope_spans(2) -> spans(2) -> a span starts trace_id(1), 16 bytes.
    if not head.startswith(b"\x0a"):
        return False
    span = proto_first(head, 1, 2, 2)
    if not span:
        return False
    fields = proto_fields(span)
    return bool(fields) and fields[0][:2] == (1, 2) and len(fields[0][2]) == 16


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    doc = request_dict(src, b, ExportTraceServiceRequest())
    if doc is not None:
        otlp_json.spans_from_request(doc, "message", src, b)
    yield b.take()


def request_dict(src: Source, b: BatchBuilder, request: Message) -> dict[str, Any] | None:
    """The file parsed as one OTLP export ``request``, as the dict ``json_format`` makes of it
    (the OTLP/JSON shape); None, with the file rejected as one record, when it does not parse.
    """
    data = src.read_document()
    try:
        request.ParseFromString(data)
    except DecodeError as exc:
        b.read()
        b.reject("file", f"expected a protobuf {request.DESCRIPTOR.name} (truncated?): {exc}")
        return None
    return json_format.MessageToDict(request)
