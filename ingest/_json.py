"""JSON inputs read as records, and the record helpers the JSON ingestors share.

Not an ingestor (the registry does not list it). The readers turn a file into ``(location,
value)`` pairs, rejecting what is not JSON with the location and reason the loader reports;
the helpers describe one record: where it is (``elements``, ``at``), what it is (``shape``),
its reject's raw text (``raw_json``, ``raw_text``), its detail (``compact``) and keys
(``unique``). ``ingest/base.py`` keeps the value-level JSON functions (``loads``, ``dumps``,
``first_json_value``, ``is_json_lines``) that non-JSON code uses too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ingest.base import (
    LOG_TEXT_MESSAGE,
    RAW_CAP,
    BatchBuilder,
    Source,
    dumps,
    first_json_value,
    is_json,
    is_json_lines,
    loads,
    log_message,
    noise_kind,
    select_path,
)

#: A UTF-8 byte order mark, which some Windows tools write before JSON.
BOM = b"\xef\xbb\xbf"
#: What a reader lets stand before the JSON (see ``json_documents``).
Before = Literal["", "bom", "comments"]
#: Recovers records from a whole document that is not JSON (see ``json_documents``).
Salvage = Callable[[bytes, BatchBuilder], list[tuple[str, Any]] | None]
# --------------------------------------------------------------------------------------------
# Readers


def json_documents(src: Source, b: BatchBuilder, *, before: Before = "",
                   salvage: Salvage | None = None) -> Iterator[tuple[str, Any]]:
    """Each JSON document of the file with its location: one per line, or one whole document.

    JSON lines (``is_json_lines``) give ``("line N", value)``; otherwise the file is one
    document, ``("document", value)``. A line that is not JSON is one rejected record; so is a
    whole document, unless ``salvage`` recovers records from it (a cut-off span array; it
    rejects what it cannot recover itself).

    ``before`` is what may stand before the JSON, as each format has allowed it: only white
    space (``""``: otlp_json); a byte order mark before the document (``"bom"``: the Jaeger,
    Zipkin and OTLP logs readers); a byte order mark before any line, and a byte order mark
    and comment lines (``#``, ``//``, ``/* */``) before the document (``"comments"``:
    ``json_records``).
    """
    if is_json_lines(src):  # judged on the whole first line: records can be far over 64 KiB
        for number, line in src.lines():
            try:
                yield f"line {number}", loads(
                    line.removeprefix(BOM) if before == "comments" else line)
            except ValueError as exc:
                b.read()
                b.reject(f"line {number}", f"expected a JSON document per line: {exc}", line)
        return
    whole = src.read_document()
    data = whole.lstrip(BOM) if before == "bom" else whole
    if before == "comments":
        data = first_json_value(data)
    try:
        doc = loads(data)
    except ValueError as exc:
        rescued = salvage(data, b) if salvage else None
        if rescued is None:
            kept = cut_document(whole, data, exc, b, "one JSON document")
            if kept is not None:
                yield "document", kept
        yield from rescued or []
        return
    yield "document", doc


@dataclass(frozen=True, slots=True)
class Cut:
    """A whole document that ends inside a value: its export or copy stopped mid-record.

    ``inside`` is what the end cut (``object``, ``array``, ``string``). ``complete`` is the
    document closed after the last complete element of its outermost array (the records
    before the cut), None when there is none; ``kept`` counts those elements and ``rest`` is
    the offset in the document where the cut element starts.
    """

    inside: str
    complete: bytes | None
    kept: int
    rest: int


#: Strings (whose brackets do not count), brackets, and a lone quote: a string the end cut.
_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]|"')
_CLOSER = {b"[": b"]", b"{": b"}"}


def cut_at(data: bytes) -> Cut | None:
    """How one JSON document ``data`` is cut, when it ends inside a value (None when it does
    not: brackets that do not match, or text after a complete value). Ask it when the parser
    failed at the end of the data: what is not JSON can look like a string left open.

    The records kept are the complete elements of the outermost array (``[...]``,
    ``{"events": [...]}``, ``{"history": {"events": [...]}}``, ``{"resourceSpans": [...]}``),
    which only objects can hold: an element counts only once its closing bracket is read,
    and the closed document must parse, so no record is ever kept half.
    """
    stack: list[list[Any]] = []  # [bracket, complete elements, where the last one ended]
    inside = ""
    for m in _STRUCTURE.finditer(data):
        token = m.group()
        if token == b'"':
            inside = "string"
            break
        if token[:1] == b'"':
            continue
        if token in (b"[", b"{"):
            stack.append([token, 0, 0])
            continue
        if not stack or _CLOSER[stack[-1][0]] != token:
            return None
        stack.pop()
        if not stack:
            return None  # a complete value: the document fails for another reason
        stack[-1][1] += 1
        stack[-1][2] = m.end()
    if not stack:
        return None
    inside = inside or ("array" if stack[-1][0] == b"[" else "object")
    outer = next((i for i, frame in enumerate(stack) if frame[0] == b"["), None)
    if outer is None or not stack[outer][1]:
        return Cut(inside, None, 0, len(data))
    rest = stack[outer][2]
    closed = data[:rest] + b"".join(_CLOSER[f[0]] for f in reversed(stack[:outer + 1]))
    try:
        loads(closed)
    except ValueError:
        return Cut(inside, None, 0, len(data))
    return Cut(inside, closed, stack[outer][1], rest)


def cut_document(whole: bytes, data: bytes, exc: ValueError, b: BatchBuilder,
                  expected: str) -> Any:
    """Reject a whole document that does not parse, located by byte offset (in the file's
    bytes, after gunzip): where a cut document ends, else where the parser stopped. Returns
    the document closed after its complete records when it is cut (``cut_at``), so they
    are kept; else None."""
    start = len(whole) - len(data)  # data is whole without what stood before the JSON
    pos = getattr(exc, "pos", None)  # in characters
    stop = (len(data.decode("utf-8", "replace")[:pos].encode("utf-8", "replace"))
            if isinstance(pos, int) else 0)
    # Cut only when the parser ran out of data, not when it met something that is not JSON
    # (Python's parser places an unterminated string where the string starts).
    ran_out = stop >= len(data.rstrip()) or str(exc).startswith("Unterminated string")
    cut = cut_at(data) if ran_out else None
    b.read()
    if cut is None:  # an error without a position (nested too deep) names no byte
        where = f"byte {start + stop}" if isinstance(pos, int) else "file"
        b.reject(where, f"expected {expected} (truncated?): {exc}", data[:200])
        return None
    end = len(whole)  # the file ends there (gunzipped): the whole remainder is cut
    why = (f"expected {expected} (truncated?): the document ends at byte {end}, inside an "
           f"unfinished {cut.inside}")
    if cut.complete is None:
        b.reject(f"byte {end}", f"{why}; no complete record before it", data[:200])
        return None
    b.reject(f"byte {end}", f"{why}; the {cut.kept} complete records before byte "
             f"{start + cut.rest} are kept, the one cut there is not", data[cut.rest:][:200])
    return loads(cut.complete)


def has_log_prefix(src: Source) -> bool:
    """Whether the file's first non-blank line is a log event behind a log viewer's prefix
    (``sam logs``, ``aws logs tail``: ``base.log_message``), its message a record or text."""
    for line in src.head().splitlines():
        if line.strip():
            return log_message(line.strip().removeprefix(BOM)) is not None
    return False


def log_records(src: Source, b: BatchBuilder) -> Iterator[tuple[str, Any]]:
    """Each JSON log message of a log viewer's output, located by the line it starts on.

    ``sam logs`` prints ``<log stream> <time> <message>``, a JSON message pretty-printed over
    the lines that follow (no prefix on them); a record ends where the next prefixed line
    starts. A message that is not JSON is skipped (``LOG_TEXT_MESSAGE``); one that starts as JSON
    but does not parse is rejected; lines before the first prefix are skipped as noise.
    """
    start, parts = 0, []

    def flush() -> Iterator[tuple[str, Any]]:
        text = b"\n".join(parts).strip()
        if not text:
            return
        try:
            yield f"line {start}", loads(text)
        except ValueError as exc:
            b.read()
            if text[:1] in (b"{", b"["):
                b.reject(f"line {start}", f"expected a JSON log message: {exc}", text)
            else:
                b.skip(LOG_TEXT_MESSAGE)

    for number, line in src.lines():
        record = log_message(line)
        if record is None and not start:
            b.read()
            b.skip(noise_kind(line) or PREAMBLE)
            continue
        if record is not None:
            yield from flush()
            start, parts = number, [record]
        else:
            parts.append(line)
    yield from flush()


def json_records(src: Source, b: BatchBuilder, *, array_paths: tuple[str, ...] = (),
                 item: str = "") -> Iterator[tuple[str, Any]]:
    """Each top-level record of a JSON file, with its location (``json_documents``).

    JSON lines give one record per line (``line 12``). Otherwise the file is one document
    (``document``). A top-level array gives its elements (``<item>[3]``, or ``line 12[3]``), an
    object with an array at one of ``array_paths`` (dotted, e.g. ``hits.hits``) gives that
    array's elements (``hits.hits[3]``, ``line 12 hits.hits[3]``). A line or document that is
    not JSON is one rejected record.
    """
    for where, doc in json_documents(src, b, before="comments"):
        if where == "document":
            yield from _expand(doc, where, "", item, array_paths)
        else:
            yield from _expand(doc, where, f"{where} ", where, array_paths)


def _expand(doc: Any, where: str, prefix: str, item: str,
            array_paths: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    if isinstance(doc, list):
        for i, element in enumerate(doc):
            yield f"{item}[{i}]", element
        return
    if isinstance(doc, dict):
        for path in array_paths:
            found = select_path(doc, path)
            if found and isinstance(found[0], list):
                for i, element in enumerate(found[0]):
                    yield f"{prefix}{path}[{i}]", element
                return
    yield where, doc


@dataclass(frozen=True, slots=True)
class Keyed:
    """A record value read with the Kafka message key a console consumer printed before it
    (``--property print.key=true``): ``key`` is the key's text as written."""

    key: str | None
    value: Any


def json_values(src: Source, b: BatchBuilder, expected: str, *,
                keyed: bool = False) -> Iterator[tuple[str, Any]]:
    """Each top-level JSON value of the file with where it is.

    JSON lines give ``("line N", value)``; a whole-file document (pretty-printed object or
    array) gives ``("", value)``. The file is JSON lines when its first record line parses on
    its own, or when its first does not but its second does (a broken first line must not
    turn a large JSON-lines file into one rejected document). A line or document that is not
    JSON is one rejected record whose reason says ``expected``.

    With ``keyed`` (dumps of a Kafka topic), a line that is a key, a separator and a JSON
    value (``split_keyed``) gives a ``Keyed`` value, and noise is skipped and counted: text
    lines before the first record (a captured terminal: the command, the tool's banner) and
    shell prompts or kcat status lines anywhere (``noise_kind``).
    """
    first: list[bytes] = []
    known = len(src.oversized)
    for _, line in _record_lines(src):
        if keyed and _noise(line, not first):
            continue
        first.append(line if not keyed else _value_part(line))
        if len(first) == 2:
            break
    # The peek read lines the full pass reads again: over-long ones must be rejected once.
    del src.oversized[known:]
    if not first:
        return
    is_lines = src.line_range is not None or is_json(first[0]) or (
        len(first) == 2 and is_json(first[1]) and first[1][:1] in (b"{", b"["))
    if is_lines:
        started = False
        for number, line in _record_lines(src):
            noise = _noise(line, not started) if keyed else None
            if noise:
                b.read()
                b.skip(noise)
                continue
            started = True
            try:
                yield f"line {number}", loads(line)
            except ValueError as exc:
                pair = split_keyed(line) if keyed else None
                if pair is not None:
                    yield f"line {number}", Keyed(*pair)
                    continue
                b.read()
                b.reject(f"line {number}", f"expected {expected}, one per line: {exc}", line)
        return
    whole = src.read_document()
    data = first_json_value(whole)
    try:
        doc = loads(data)
    except ValueError as exc:
        if _has_second_value(data):
            yield from concatenated(whole, data, b, expected)
            return
        kept = cut_document(whole, data, exc, b, f"{expected} as one JSON document")
        if kept is None:
            return
        doc = kept
    yield "", doc


#: What text before a topic dump's first record is counted as when skipped.
PREAMBLE = "text before the first record"
#: Separators ``kafka-console-consumer`` users set as ``key.separator`` (tab by default).
_KEY_SEPARATOR = re.compile(r"\s*(?:\t|\||:|,|=>|->|;)?\s*")


def _noise(line: bytes, before_first: bool) -> str | None:
    """What a line of a topic dump is when it is not a record (``json_values(keyed=True)``)."""
    kind = noise_kind(line)
    if kind is None and before_first and line[:1] not in (b"{", b"["):
        kind = PREAMBLE
    return kind


def split_keyed(line: bytes) -> tuple[str | None, Any] | None:
    """``(key text, value)`` from a console consumer's ``key<separator>value`` line, or None.

    The key is a JSON value (a Debezium ``{schema, payload}`` key document, a number, a
    string) followed by a short separator, or any text up to a tab (string keys; ``null``
    for none); the value must be one JSON value.
    """
    text = line.decode("utf-8", "replace")
    if text[:1] in ("{", "[", '"'):
        try:
            _, end = json.JSONDecoder().raw_decode(text)
        except (ValueError, RecursionError):
            return None
        key, rest = text[:end], text[end:]
        rest = rest[_KEY_SEPARATOR.match(rest).end():]  # type: ignore[union-attr]
    elif "\t" in text:
        key, _, rest = text.partition("\t")
    else:
        return None
    if not rest:
        return None
    try:
        value = loads(rest)
    except ValueError:
        return None
    return (None if key.strip() == "null" else key.strip()), value


def _value_part(line: bytes) -> bytes:
    """The value of a ``key<separator>value`` line (the line itself when it is not one)."""
    if is_json(line):
        return line
    pair = split_keyed(line)
    return dumps(pair[1]).encode() if pair is not None else line


def _record_lines(src: Source) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines after a leading comment block (licence headers, notes).

    ``/* ... */`` blocks and ``#``/``//`` lines before the first record are not records: they
    are passed over without being counted; line numbers stay those of the file. A
    ``line_range`` past the file's start is past its first record too.
    """
    started = bool(src.line_range and src.line_range.start)
    in_comment = False
    for number, line in src.lines():
        if not started:
            if number == 1:
                line = line.lstrip(b"\xef\xbb\xbf").strip()
            if in_comment:
                end = line.find(b"*/")
                if end < 0:
                    continue
                in_comment, line = False, line[end + 2 :].strip()
            while line.startswith(b"/*"):
                end = line.find(b"*/", 2)
                if end < 0:
                    in_comment, line = True, b""
                    break
                line = line[end + 2 :].strip()
            if not line or line.startswith((b"#", b"//")):
                continue
            started = True
        yield number, line


def _has_second_value(data: bytes) -> bool:
    """Is ``data`` a complete JSON value followed by another one (pretty-printed records)?"""
    text = data.decode("utf-8", "replace")
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        return False
    return text[end:].lstrip()[:1] in ("{", "[")


_NON_SPACE = re.compile(r"\S")


def concatenated(whole: bytes, data: bytes, b: BatchBuilder,
                  expected: str) -> Iterator[tuple[str, Any]]:
    """Values written one after another, each pretty-printed over several lines.

    A console consumer prints records of a pretty-JSON producer (DMS ``MessageFormat`` json)
    this way. Each value is located by the line it starts on; a value that does not decode is
    rejected up to the next line that starts with ``{`` and reading resumes there.
    """
    text = data.decode("utf-8", "replace")
    line = whole[: len(whole) - len(data)].count(b"\n") + 1
    decoder, pos = json.JSONDecoder(), 0
    while True:
        start = _NON_SPACE.search(text, pos)
        if start is None:
            return
        line += text.count("\n", pos, start.start())
        pos = start.start()
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            nxt = text.find("\n{", pos)
            end = len(text) if nxt < 0 else nxt + 1
            b.read()
            b.reject(f"line {line}", f"expected {expected}: {exc}", text[pos:end])
        else:
            yield f"line {line}", value
        line += text.count("\n", pos, end)
        pos = end


# --------------------------------------------------------------------------------------------
# Sniffing


def head_object(head: bytes) -> dict[str, Any] | None:
    """The first JSON object of a head (inside a top-level array too), if it is complete there.

    For sniffing: checks on an object's top-level keys are much stricter than byte searches.
    None when the head holds no complete first object (cut at the sniff limit, or not JSON).
    """
    text = first_json_value(head)
    if text.startswith(b"["):
        text = text[1:].lstrip()
    if not text.startswith(b"{"):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def starts_with_key(head: bytes, *names: str) -> bool:
    """Does the head start with an object (maybe inside an array) whose first key is in ``names``?

    For sniffing heads whose first object is cut at the sniff limit, where ``head_object``
    cannot help.
    """
    text = first_json_value(head)
    if text.startswith(b"["):
        text = text[1:].lstrip()
    m = re.match(rb'\{\s*"([^"]{1,64})"\s*:', text)
    return bool(m) and m.group(1).decode("utf-8", "replace") in names


# --------------------------------------------------------------------------------------------
# One record: location, reject reason and raw text, detail, keys


def elements(value: Any, where: str, whole: str = "") -> Iterator[tuple[str, Any]]:
    """A top-level JSON value as records with their locations: each element of an array
    (``at(where, "[i]")``), else the value itself (at ``where``, or at ``whole`` when the value
    is the whole file and ``where`` is empty)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield at(where, f"[{i}]"), item
    else:
        yield where or whole, value


def envelope_records(b: BatchBuilder, event: Any, where: str, name: str, kind: type,
                     expected: str) -> Any:
    """The records field ``name`` of a Lambda event (or another envelope), if it has records.

    An event without it, or with it of another ``kind``, is one rejected record (``expected``
    says what it should have been); an event with it empty is well-formed, and one record
    skipped as ``empty event``. Either way there is nothing more to add: None.
    """
    records = event.get(name) if isinstance(event, dict) else None
    if not isinstance(records, kind):
        b.read()
        b.reject(where or "document", f"expected {expected}, got {shape(event)}",
                 raw_json(event))
        return None
    if not records:
        b.read()
        b.skip("empty event")
        return None
    return records


def at(where: str, suffix: str) -> str:
    """A location inside a value found at ``where`` (``line 3`` + ``[2]`` -> ``line 3 [2]``)."""
    return f"{where} {suffix}" if where else suffix


def shape(value: Any) -> str:
    """What a value is, for reject reasons: ``an object with keys a, b``, ``list``, ``null``."""
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6])
        return f"an object with keys {keys}" if keys else "an empty object"
    return "null" if value is None else type(value).__name__


def raw_json(value: Any) -> str:
    """A decoded value back as JSON text for a reject's ``raw`` (capped), spaced as
    ``json.dumps`` writes it (the bus formats' rejects)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:2048]
    except (TypeError, ValueError):
        return repr(value)[:2048]


def raw_text(value: Any, cap: int = RAW_CAP) -> str:
    """A record as compact JSON text (``dumps``) for a reject's ``raw`` (capped); never raises,
    whatever the nesting."""
    try:
        return dumps(value)[:cap]
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__} not printable>"


def compact(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail object without its null fields (absent and null mean the same there)."""
    return {k: v for k, v in detail.items() if v is not None}


def unique(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Key pairs without repeats (the same id often arrives by two routes: header and body)."""
    return list(dict.fromkeys((str(k), str(v)) for k, v in pairs if v not in (None, "")))


def byte_text(value: Any) -> str | None:
    """A Java ``byte[]`` as JSON (signed or unsigned ints) decoded as UTF-8; strings pass through.

    Bytes that are not UTF-8 become U+FFFD, as kcat shows them, so the texts compare equal.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, int) for x in value):
        return bytes(x & 0xFF for x in value).decode("utf-8", "replace")
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
