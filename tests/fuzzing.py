"""Mutations of real input files, and the check every mutated file must pass.

Shared by ``tests/test_fuzz.py`` (a few cases per format, in CI) and ``scripts/fuzz_long.py``
(thousands). A mutation takes a fixture's bytes and a ``random.Random`` (hypothesis's
``st.randoms()`` in tests, a seeded one in the long run) and returns the mutated bytes with the
lines it touched, so the check can require that the rest of a line format still loads.

Structured mutations parse the fixture (JSON, JSON lines, YAML, JSON5), change one node and
write it back with an emitter that can also write what no serializer will: duplicate keys,
invalid UTF-8, nesting 100k deep, numbers past 64 bits.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import traceback
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import json5
import orjson
import yaml
from polars.exceptions import PanicException

import ingest
from ingest.base import Source, UnreadableFile
from tests.conftest import FIXTURES, fixture_files
from tracemap.errors import IngestError
from tracemap.load import ingest_paths
from tracemap.store import Store

#: Every mutation; structured ones fall back to a byte flip on files they cannot parse.
MUTATIONS = (
    "truncate", "flip_bytes", "retype", "wrong_enum", "deep_nesting", "huge_string",
    "invalid_utf8", "duplicate_key", "drop_key", "duplicate_element", "empty", "gzip_cut",
)

#: Values of every JSON type, and ones parsers treat specially (NaN, > 64-bit, -0).
OTHER_TYPES: tuple[Any, ...] = (
    None, True, False, 0, -1, 2**63, 2**64 + 1, -(2**70), 1.5e308, 0.1, "", "null", "0",
    "not-a-number", "1970-01-01T00:00:00Z", "9999-99-99T99:99:99Z", [], {}, [1, "a", None],
    {"a": {"b": []}},
)
RAW_NUMBERS = (b"NaN", b"-Infinity", b"1e999", b"-0", b"1E-400", b"00012", b"0x1F")

#: Strings a system might write in an enum field of another version, or an attacker might.
WRONG_ENUMS = (
    "", "UNSPECIFIED", "EVENT_TYPE_UNSPECIFIED", "STATUS_CODE_ERROR", "Unknown", "null",
    "\u0000", "\u202e\u0645", "<script>alert(1)</script>", "'; DROP TABLE runs; --",
    "\x1b[31mred\x1b[0m", "-1", "1e309", " ", "a" * 300,
)

DEPTHS = (1_025, 5_000, 100_000)


@dataclass
class Mutant:
    """A mutated file: its bytes, what was done, and which 1-based lines changed (None: all)."""

    data: bytes
    mutation: str
    touched: set[int] | None = None
    note: str = ""


# --------------------------------------------------------------------------------------------
# Emitting JSON with what serializers refuse


class Raw(bytes):
    """Bytes written verbatim into the output (invalid UTF-8, NaN, 100k-deep nesting)."""


@dataclass
class Pairs:
    """A JSON object written as its pairs, so a key can appear twice."""

    items: list[tuple[str, Any]] = field(default_factory=list)


def emit(value: Any) -> bytes:
    """JSON bytes for ``value``; ``Raw`` and ``Pairs`` make what no serializer would."""
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, Pairs | dict):
        items = value.items if isinstance(value, Pairs) else list(value.items())
        return b"{" + b",".join(emit(k if isinstance(k, Raw) else str(k)) + b":" + emit(v)
                            for k, v in items) + b"}"
    if isinstance(value, list | tuple):
        return b"[" + b",".join(emit(v) for v in value) + b"]"
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------------------------
# Reading a fixture as structure


@dataclass
class Parsed:
    """A fixture as structure: ``docs`` and how to write them back."""

    kind: str  # json, lines, yaml, text-lines, binary
    docs: list[Any]
    lines: list[bytes] = field(default_factory=list)
    #: For ``lines``: indexes of the lines holding a JSON record (comment lines are left).
    records: list[int] = field(default_factory=list)


def parse_fixture(data: bytes, path: Path) -> Parsed:
    """The fixture as documents (JSON, YAML, JSON5) or as JSON lines; binary if neither."""
    lines = data.splitlines()
    nonblank = [ln for ln in lines if ln.strip()]
    if path.suffix in (".pb", ".bin", ".parquet"):
        return Parsed("binary", [])
    if path.suffix in (".csv", ".tsv"):
        return Parsed("text-lines", [], lines)
    try:
        return Parsed("json", [orjson.loads(data)])
    except orjson.JSONDecodeError:
        pass
    if path.suffix in (".yaml", ".yml"):
        return Parsed("yaml", [d for d in yaml.load_all(data, Loader=_TaggedLoader)  # noqa: S506
                               if d is not None])
    if len(nonblank) > 1:
        records = [i for i, ln in enumerate(lines) if ln.strip()[:1] in (b"{", b"[")
                   and _json_container(ln)]
        if len(records) > 1:
            return Parsed("lines", [], lines, records)
    if path.suffix == ".json5":
        return Parsed("json", [json5.loads(data.decode())])
    return Parsed("binary", [])


class _TaggedLoader(yaml.SafeLoader):
    """Safe YAML that reads CloudFormation short-form tags (``!GetAtt X.Arn``, SAM templates)
    as their long form, which the mutated document is written back in."""


def _long_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_TaggedLoader.add_multi_constructor("!", _long_form)


def _json_container(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict | list)
    except orjson.JSONDecodeError:
        return False


def _nodes(doc: Any, limit: int = 20_000) -> list[tuple[Any, Any]]:
    """``(container, key)`` of every node under ``doc`` (breadth first, bounded)."""
    out: list[tuple[Any, Any]] = []
    queue = deque([doc]) if isinstance(doc, dict | list) else deque()
    while queue and len(out) < limit:
        node = queue.popleft()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for k in keys:
            out.append((node, k))
            if isinstance(node[k], dict | list):
                queue.append(node[k])
    return out


# --------------------------------------------------------------------------------------------
# Mutations of one node


def _retype(value: Any, rng: random.Random) -> Any:
    if rng.random() < 0.2:
        return Raw(rng.choice(RAW_NUMBERS))
    choices = [v for v in OTHER_TYPES if type(v) is not type(value)]
    return rng.choice(choices)


def _wrong_enum(value: Any, rng: random.Random) -> Any:
    if isinstance(value, str) and value and rng.random() < 0.5:
        variants = (value + "X", value.lower(), value.upper(), value[:-1], value[::-1],
                    value.replace("_", ""), "  " + value, value + "\n")
        return rng.choice(variants)
    if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.5:
        return rng.choice((value + 1, -value, 99, -5, 2**31))
    return rng.choice(WRONG_ENUMS)


def _deep(rng: random.Random) -> Raw:
    depth = rng.choice(DEPTHS)
    if rng.random() < 0.5:
        return Raw(b"[" * depth + b"]" * depth)
    return Raw(b'{"a":' * depth + b"1" + b"}" * depth)


def _huge(rng: random.Random, cap: int) -> Any:
    size = rng.choice((20_000, 200_000, cap))
    text = rng.choice(("x", "é", "\\", '"', "\n", "\u2028"))
    return (text * size)[:size]


def _bad_utf8(value: Any, rng: random.Random) -> Raw:
    base = value.encode("utf-8", "replace") if isinstance(value, str) else b"v"
    base = base[: 200].replace(b"\\", b"").replace(b'"', b"")
    junk = rng.choice((b"\xff", b"\xfe\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                       b"\xe2\x82", b"\x80\x80"))
    cut = rng.randrange(len(base) + 1)
    return Raw(b'"' + base[:cut] + junk + base[cut:] + b'"')


def mutate_node(doc: Any, mutation: str, rng: random.Random, huge_cap: int) -> tuple[Any, str]:
    """``doc`` with one node changed by ``mutation``; returns the new root and what changed."""
    nodes = _nodes(doc)
    if not nodes:
        return (_deep(rng) if mutation == "deep_nesting" else _retype(doc, rng)), "root"
    if mutation in ("duplicate_key", "drop_key"):
        dict_nodes = [(c, k) for c, k in nodes if isinstance(c, dict)]
        nodes = dict_nodes or nodes
    if mutation == "duplicate_element":
        nodes = [(c, k) for c, k in nodes if isinstance(c, list)] or nodes
    container, key = rng.choice(nodes)
    value = container[key]
    if mutation == "retype":
        container[key] = _retype(value, rng)
    elif mutation == "wrong_enum":
        container[key] = _wrong_enum(value, rng)
    elif mutation == "deep_nesting":
        container[key] = _deep(rng)
    elif mutation == "huge_string":
        container[key] = _huge(rng, huge_cap)
    elif mutation == "invalid_utf8":
        if isinstance(container, dict) and rng.random() < 0.3:
            # The key itself carries the invalid bytes.
            items = [(_bad_utf8(k, rng) if k == key else k, v) for k, v in container.items()]
            return _replace(doc, container, Pairs(items)), f"key {key}"
        container[key] = _bad_utf8(value, rng)
    elif mutation == "duplicate_key" and isinstance(container, dict):
        items = list(container.items())
        twin = (key, _retype(value, rng))
        index = next(i for i, (k, _) in enumerate(items) if k == key)
        items.insert(index + rng.choice((0, 1)), twin)
        pairs = Pairs(items)
        return _replace(doc, container, pairs), f"{key}"
    elif mutation == "drop_key" and isinstance(container, dict):
        del container[key]
    elif mutation == "duplicate_element" and isinstance(container, list):
        container.insert(key, value)
    else:
        container[key] = _retype(value, rng)
    return doc, str(key)


def _replace(doc: Any, old: Any, new: Any) -> Any:
    """``doc`` with the container ``old`` (by identity) replaced by ``new``."""
    if doc is old:
        return new
    for container, key in _nodes(doc):
        if container[key] is old:
            container[key] = new
            return doc
    return doc


# --------------------------------------------------------------------------------------------
# Mutations of a file


def _flip(data: bytes, rng: random.Random, avoid_newlines: bool) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 5, 20))):
        i = rng.randrange(len(buf))
        new = rng.randrange(256)
        if avoid_newlines and (new in (10, 13) or buf[i] in (10, 13)):
            continue
        buf[i] = new
    return bytes(buf)


def _write(parsed: Parsed, docs: list[Any]) -> bytes:
    if parsed.kind == "yaml":
        # Top-level keys in block style (so readers take the YAML path), values as JSON flow
        # (JSON is YAML, and the emitter can write what YAML dumpers would not).
        return b"---\n".join(_yaml_doc(d) for d in docs)
    return emit(docs[0])


def _yaml_doc(doc: Any) -> bytes:
    if isinstance(doc, Pairs | dict):
        items = doc.items if isinstance(doc, Pairs) else list(doc.items())
        return b"".join(emit(k if isinstance(k, Raw) else str(k)) + b": " + emit(v) + b"\n"
                        for k, v in items)
    return emit(doc) + b"\n"


def mutate(data: bytes, path: Path, mutation: str, rng: random.Random, *,
           huge_cap: int = 1 << 20) -> Mutant:
    """``data`` (the bytes of fixture ``path``) changed by ``mutation``."""
    if mutation == "empty" or not data:
        return Mutant(b"", "empty")
    if mutation == "gzip_cut":
        packed = gzip.compress(data, mtime=0)
        return Mutant(packed[: rng.randrange(10, len(packed))], mutation)
    parsed = parse_fixture(data, path)
    line_based = parsed.kind in ("lines", "text-lines")
    if line_based:
        # One line changes; every other line must still load.
        numbers = parsed.records or [i for i, ln in enumerate(parsed.lines) if ln.strip()]
        if parsed.kind == "text-lines" and len(numbers) > 1:
            numbers = numbers[1:]  # keep the CSV header: a broken header is a whole-file case
        index = rng.choice(numbers)
        line = parsed.lines[index]
        if mutation == "truncate":
            if rng.random() < 0.5:  # the file ends mid-line, as a writer killed mid-record
                cut = b"\n".join(parsed.lines[:index] + [line[: rng.randrange(len(line))]])
                # Cut in its first record, the file is one broken line: a whole-file case.
                first = index == numbers[0]
                return Mutant(cut, mutation, None if first else {index + 1})
            new = line[: rng.randrange(len(line))]
        elif mutation == "flip_bytes" or parsed.kind == "text-lines":
            new = _text_line(line, mutation, rng, huge_cap) if parsed.kind == "text-lines" \
                else _flip(line, rng, avoid_newlines=True)
        else:
            doc, note = mutate_node(orjson.loads(line), mutation, rng, huge_cap)
            new = emit(doc)
        lines = list(parsed.lines)
        lines[index] = new.replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        return Mutant(b"\n".join(lines) + b"\n", mutation, {index + 1})
    if mutation == "truncate":
        return Mutant(data[: rng.randrange(len(data))], mutation)
    if mutation == "flip_bytes" or parsed.kind == "binary":
        if parsed.kind == "binary" and mutation == "huge_string":
            at = rng.randrange(len(data))
            return Mutant(data[:at] + b"\xff" * 10_000 + data[at:], mutation)
        return Mutant(_flip(data, rng, avoid_newlines=False), "flip_bytes")
    doc_index = rng.randrange(len(parsed.docs)) if parsed.docs else 0
    if not parsed.docs:
        return Mutant(_flip(data, rng, avoid_newlines=False), "flip_bytes")
    docs = list(parsed.docs)
    docs[doc_index], note = mutate_node(docs[doc_index], mutation, rng, huge_cap)
    return Mutant(_write(parsed, docs), mutation, note=note)


def _text_line(line: bytes, mutation: str, rng: random.Random, huge_cap: int) -> bytes:
    """A CSV row with one cell changed (wrong type, huge, invalid UTF-8, a stray quote)."""
    sep = b"\t" if b"\t" in line else b","
    cells = line.split(sep)
    i = rng.randrange(len(cells))
    if mutation == "huge_string":
        cells[i] = b"x" * rng.choice((20_000, huge_cap))
    elif mutation == "invalid_utf8":
        cells[i] = cells[i] + rng.choice((b"\xff", b"\xc3(", b"\xed\xa0\x80"))
    elif mutation == "flip_bytes":
        return _flip(line, rng, avoid_newlines=True)
    else:
        cells[i] = rng.choice((b"", b"NaN", b"-1", b"99999999999999999999999", b'"', b'"a""',
                               b"true", b"1970-13-45", b"\x00", b"a,b", b"=1+1"))
    return sep.join(cells)


# --------------------------------------------------------------------------------------------
# The check


#: Reject locations name the line this way in every line format.
LINE_IN_LOCATION = re.compile(r"\bline (\d+)\b")


@dataclass
class Outcome:
    """What one mutated file gave: counters from parse and from the loader, or a crash."""

    records: int = 0
    loaded: int = 0
    rejected: int = 0
    skipped: int = 0
    crash: str | None = None  # a signature: exception type and the innermost tracemap frame
    file_error: str | None = None  # the file as a whole refused on purpose (cut .gz, no header)
    #: Values that did not fit their column (an object where text belongs): kept as text or
    #: dropped by ``base.frame`` and counted; not a failure, but a field to check.
    coerced: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def crash_signature(exc: BaseException) -> str:
    """``Type at module.py:line (function)`` of the innermost frame in ingest/ or tracemap/."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "/ingest/" in f.filename or "/tracemap/" in f.filename]
    where = (f"{Path(frames[-1].filename).name}:{frames[-1].lineno} ({frames[-1].name})"
             if frames else "?")
    return f"{type(exc).__name__} at {where}"


def clean_rejects(fmt: str, path: Path) -> set[str]:
    """Reject locations of the unmutated fixture (a line format's baseline)."""
    store = Store(":memory:")
    try:
        ingest_paths(store, [str(path)], fmt=fmt)
        return {r[0] for r in store.sql("SELECT location FROM rejects").fetchall()}
    finally:
        store.close()


def check(fmt: str, mutated: Path, mutant: Mutant, baseline: set[str] | None = None,
          *, load: bool = True, store: Store | None = None) -> Outcome:
    """Parse ``mutated`` as ``fmt`` and load it into a store; report what went wrong.

    ``store``: an open store to reuse (opening one costs more than most cases); the file is
    loaded with ``force``, replacing what an earlier case loaded from the same path.

    ``problems`` lists broken properties: counters that do not add up, a whole-file reject
    for a line format where only some lines changed, a reject on a line the mutation did not
    touch. ``crash`` is set when an exception escaped ``parse``.
    """
    out = Outcome()
    module = ingest.get(fmt)
    src = Source(mutated)
    try:
        for batch in module.parse(src):
            out.records += batch.records
            out.loaded += batch.loaded
            out.rejected += len(batch.rejects)
            out.skipped += batch.skipped
            batch.tables  # noqa: B018 - framing the rows counts the values made to fit
            for column, n in batch.notes.get("coerced_values", {}).items():
                out.coerced[column] = out.coerced.get(column, 0) + n
    except (UnreadableFile, IngestError) as exc:
        # The designed way to refuse a whole file: the loader makes it one reject.
        out.file_error = str(exc)
        if mutant.touched is not None:
            out.problems.append(f"whole file refused for a one-line change: {exc}")
        out.records, out.loaded, out.rejected, out.skipped = 1, 0, 1, 0
    except (Exception, PanicException) as exc:  # noqa: BLE001 - recorded as a finding
        out.crash = crash_signature(exc)
        return out
    if out.file_error is None:
        out.records += len(src.oversized)
        out.rejected += len(src.oversized)
    if out.records != out.loaded + out.rejected + out.skipped:
        out.problems.append(f"parse does not reconcile: {out}")
    if not load:
        return out
    own = store is None
    store = store or Store(":memory:")
    try:
        (result,) = ingest_paths(store, [str(mutated)], fmt=fmt, force=True).sources
        if result.status not in ("new", "replaced"):
            out.problems.append(f"loader status {result.status}: {result.message}")
        row = store.sql("SELECT records, loaded, rejected, skipped FROM sources "
                        "ORDER BY id DESC LIMIT 1").fetchone()
        if row[0] != row[1] + row[2] + row[3]:
            out.problems.append(f"source row does not reconcile: {row}")
        if (row[0], row[1], row[2], row[3]) != (out.records, out.loaded, out.rejected,
                                                out.skipped):
            out.problems.append(f"loader counts {row} differ from parse's {out}")
        rejects = store.sql("SELECT location, reason FROM rejects WHERE source_id = "
                            "(SELECT max(id) FROM sources)").fetchall()
    except (Exception, PanicException) as exc:  # noqa: BLE001 - recorded as a finding
        out.crash = "load: " + crash_signature(exc)  # the loader rolled its transaction back
        return out
    finally:
        if own:
            store.close()
    for _location, reason in rejects:
        if "internal error" in reason:
            out.problems.append(f"internal error reject: {reason}")
    if mutant.touched is not None and baseline is not None:
        for location, reason in rejects:
            if location == "file":
                out.problems.append(f"whole-file reject for a one-line change: {reason}")
                continue
            m = LINE_IN_LOCATION.search(location)
            if location not in baseline and m and int(m.group(1)) not in mutant.touched:
                out.problems.append(f"untouched {location} rejected: {reason}")
    return out


def fuzz_cases() -> list[tuple[str, Path]]:
    """``(format, fixture)`` for every registered ingestor's fixtures."""
    return [(p.relative_to(FIXTURES).parts[0], p) for p in fixture_files()
            if p.relative_to(FIXTURES).parts[0] in ingest.BY_NAME]
