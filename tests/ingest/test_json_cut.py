"""A whole JSON document cut short: rejected at the byte where it ends, complete records kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ingest._json import cut_at
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

BATCH = FIXTURES / "cloudevents_json" / "ce_v1_batch_tracing_extensions.json"
HISTORY = FIXTURES / "temporal_json" / "sdkjava_activity_retry_failed.json"


def _cut_in_third_event(data: bytes) -> int:
    """An offset inside the third element of the top-level array (in its ``source`` value)."""
    return data.index(b'"/audit"') + 3


def test_a_cut_batch_keeps_its_complete_events(tmp_path: Path) -> None:
    data = BATCH.read_bytes()
    cut = tmp_path / "batch.json"
    cut.write_bytes(data[:_cut_in_third_event(data)])
    whole, rows = normalized_rows(BATCH), normalized_rows(cut)
    end = len(cut.read_bytes())
    assert (rows["source"]["records"], rows["source"]["loaded"],
            rows["source"]["rejected"]) == (3, 2, 1)
    # the two complete CloudEvents, as the whole file gives them
    assert rows["messages"] == [m for m in whole["messages"] if m["location"] in ("[0]", "[1]")]
    rest = data.index(b"}", data.index(b'"data_base64"')) + 1  # where the second event ends
    assert rows["rejects"] == [{
        "location": f"byte {end}",
        "reason": "expected a CloudEvent (JSON object with specversion, id, source, type) or a "
                  "batch of them as one JSON document (truncated?): the document ends at "
                  f"byte {end}, inside an unfinished string; the 2 complete records before "
                  f"byte {rest} are kept, the one cut there is not"}]


def test_the_offset_is_in_the_gunzipped_bytes(tmp_path: Path) -> None:
    data = BATCH.read_bytes()
    plain, packed = tmp_path / "batch.json", tmp_path / "batch.json.gz"
    plain.write_bytes(data[:_cut_in_third_event(data)])
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert normalized_rows(packed)["rejects"] == normalized_rows(plain)["rejects"]


def test_a_document_broken_inside_is_located_where_the_parser_stopped(tmp_path: Path) -> None:
    broken = tmp_path / "batch.json"
    text = BATCH.read_text().replace('"order 1042 placed"', '"order é" placed"')
    broken.write_text(text)
    rows = normalized_rows(broken)
    at = len(text[:text.rindex('placed"')].encode())  # bytes, not characters: é is two
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (1, 1)
    assert rows["rejects"][0]["location"] == f"byte {at}"


def test_a_history_cut_mid_event_closes_after_its_last_complete_event() -> None:
    data = HISTORY.read_bytes()
    events = json.loads(data)["events"]
    start = data.index(b'"eventId": "7"')
    cut = cut_at(data[:start + 13])  # inside the seventh event's id
    assert cut is not None and cut.inside == "string" and cut.kept == 6
    assert cut.complete is not None and json.loads(cut.complete) == {"events": events[:6]}
    assert cut_at(data) is None  # a complete document is not cut
    assert cut_at(b'{"events": [{"eventId": "1"}]} trailing') is None  # nor text after one


def test_a_cut_before_any_complete_record_keeps_nothing() -> None:
    data = HISTORY.read_bytes()
    cut = cut_at(data[:data.index(b'"eventId": "1"') + 5])
    assert cut is not None and cut.complete is None and cut.kept == 0
