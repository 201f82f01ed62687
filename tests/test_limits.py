"""Resource limits, fast variants (the real sizes are in scripts/limits.py): nesting 100k deep
in every format that parses JSON, YAML or protobuf, a gzip bomb of one endless line, many
tiny files."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

import ingest.base
from tests.conftest import FIXTURES
from tests.fuzzing import Raw, _nodes, _write, emit, fuzz_cases, parse_fixture
from tests.golden import counts_and_rejects

DEPTH = 100_000
DEEP = Raw(b"[" * DEPTH + b"]" * DEPTH)
#: What each reader says about nesting it refuses.
NESTING = {"json": "JSON nested deeper than 1024 levels",
           "yaml": "exceeded maximum nesting depth",
           "json5": "JSON5 nested too deeply"}


def _first_structured(fmt: str) -> tuple[Path, str] | None:
    """The format's first fixture with a structure to nest into, and its reader."""
    for f, path in fuzz_cases():
        if f != fmt:
            continue
        kind = parse_fixture(path.read_bytes(), path).kind
        if kind in ("json", "lines", "yaml"):
            reader = "json5" if path.suffix == ".json5" else "yaml" if kind == "yaml" else "json"
            return path, reader
    return None


DEEP_CASES = [(fmt, *found) for fmt in sorted({f for f, _ in fuzz_cases()})
              if (found := _first_structured(fmt))]




def deep_variant(fixture: Path) -> bytes:
    """The fixture with one value (of the first record of a line format) nested 100k deep."""
    parsed = parse_fixture(fixture.read_bytes(), fixture)
    doc = orjson.loads(parsed.lines[parsed.records[0]]) if parsed.kind == "lines" \
        else parsed.docs[0]
    nodes = _nodes(doc)
    container, key = nodes[len(nodes) // 2]
    container[key] = DEEP
    if parsed.kind == "lines":
        lines = list(parsed.lines)
        lines[parsed.records[0]] = emit(doc)
        return b"\n".join(lines) + b"\n"
    return _write(parsed, [doc, *parsed.docs[1:]])


@pytest.mark.parametrize(("fmt", "fixture", "reader"), DEEP_CASES,
                         ids=[c[0] for c in DEEP_CASES])
def test_nesting_100k_deep_is_one_reject_saying_so(fmt: str, fixture: Path, reader: str,
                                                  tmp_path: Path) -> None:
    parsed = parse_fixture(fixture.read_bytes(), fixture)
    deep = tmp_path / fixture.name
    deep.write_bytes(deep_variant(fixture))
    (records, loaded, rejected, skipped), rejects = counts_and_rejects(deep, fmt)
    assert records == loaded + rejected + skipped
    nested = [r for r in rejects if any(text in r[1] for text in NESTING.values())]
    assert len(nested) == 1, rejects
    assert NESTING[reader] in nested[0][1] or fmt == "argo_workflow"  # JSON, then YAML
    if parsed.kind == "lines":  # the other lines load as if the deep one were not there
        first = parsed.records[0]
        assert nested[0][0] == f"line {first + 1}"
        lines = list(parsed.lines)
        lines[first] = b""
        without = tmp_path / f"without-{fixture.name}"
        without.write_bytes(b"\n".join(lines) + b"\n")
        (records_w, loaded_w, _, skipped_w), _ = counts_and_rejects(without, fmt)
        assert (records, loaded, skipped) == (records_w + 1, loaded_w, skipped_w)


def _nested_any_value(depth: int) -> bytes:
    """An OTLP AnyValue holding an ArrayValue holding an AnyValue ... ``depth`` times, built
    from the sizes outwards so it costs O(depth) (protobuf nests by length prefixes)."""
    core = b"\x0a\x01x"  # AnyValue{string_value: "x"}
    sizes = [len(core)]
    for _ in range(depth):  # AnyValue{array_value(5): ArrayValue{values(1): <inner>}}
        inner = sizes[-1]
        array = 1 + _varint_size(inner) + inner
        sizes.append(1 + _varint_size(array) + array)
    out = bytearray()
    for inner in reversed(sizes[:-1]):
        array = 1 + _varint_size(inner) + inner
        out += b"\x2a" + _varint(array) + b"\x0a" + _varint(inner)
    return bytes(out + core)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _varint_size(n: int) -> int:
    return len(_varint(n))


def test_protobuf_nesting_100k_deep_is_one_reject(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(
        (FIXTURES / "otlp_proto" / "otlp_proto_example_trace.pb").read_bytes())
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="deep").value.string_value = "PLACEHOLDER"
    data = request.SerializeToString()
    value = b"\x0a\x0bPLACEHOLDER"
    deep_value = _nested_any_value(DEPTH)
    # Re-frame every enclosing message by hand: cheaper than building 100k protobuf objects.
    path = tmp_path / "deep.pb"
    path.write_bytes(_replace_nested(data, value, deep_value))
    (records, loaded, rejected, _), rejects = counts_and_rejects(path, "otlp_proto")
    assert (records, loaded, rejected) == (1, 0, 1)
    assert rejects[0][0] == "file" and "Error parsing message" in rejects[0][1]


def _replace_nested(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` (protobuf) with the field value ``old`` replaced by ``new``, every enclosing
    length prefix fixed up."""
    at = data.index(old)
    return _reframe(data, at, at + len(old), new)


def _reframe(buf: bytes, start: int, end: int, new: bytes) -> bytes:
    i = 0
    out = bytearray()
    while i < len(buf):
        tag_start = i
        tag, i = _read_varint(buf, i)
        wire = tag & 7
        if wire == 2:
            size, i = _read_varint(buf, i)
            if i <= start and end <= i + size:
                inner = new if (i, i + size) == (start, end) else _reframe(
                    buf[i:i + size], start - i, end - i, new)
                out += buf[tag_start:tag_start + _varint_size(tag)] + _varint(len(inner)) + inner
            else:
                out += buf[tag_start:i + size]
            i += size
        elif wire == 0:
            _, i = _read_varint(buf, i)
            out += buf[tag_start:i]
        else:
            i += 8 if wire == 1 else 4
            out += buf[tag_start:i]
    return bytes(out)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def test_gzip_bomb_of_one_endless_line_is_one_reject(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.base, "MAX_LINE_BYTES", 1 << 20)
    kcat = (FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl").read_bytes()
    bomb = tmp_path / "dump.jsonl.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(kcat)
        fh.write(b'{"payload": "')
        for _ in range(64):
            fh.write(b"x" * (1 << 20))
        fh.write(b'"}\n')
        fh.write(kcat)
    assert bomb.stat().st_size < 200_000
    (records, loaded, rejected, _), rejects = counts_and_rejects(bomb, "kafka_kcat")
    assert (records, loaded, rejected) == (25, 24, 1)
    assert rejects == [("line 13", "line of 67,108,880 bytes is over the 1 MiB limit for one "
                        "record; split the record or export it another way")]
