"""AWS DMS Kafka records: transaction keys, before images, pretty JSON, the licence comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "dms_kafka"
PAIMON = HERE / "aws_dms_kafka_target_records.txt"
PRETTY = HERE / "dms_kafka_pretty_transaction_details.json"


def _tx(rows: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for k in rows.get("keys", []):
        if k["kind"] == "business:db_transaction":
            out.setdefault(k["value"], set()).add(k["entity_uid"])
    return out


def test_transaction_id_joins_the_changes_of_one_transaction() -> None:
    rows = normalized_rows(PAIMON)
    assert rows["source"]["loaded"] == 4
    assert _tx(rows) == {"670014899490": {m["uid"] for m in rows["messages"]}}
    assert sorted(m["event_type"] for m in rows["messages"]) == [
        "product.delete", "product.insert", "product.insert", "product.update"]
    assert {m["channel"] for m in rows["messages"]} == {"test.product"}
    update = next(m for m in rows["messages"] if m["event_type"] == "product.update")
    # add-before-image-columns: the BI_ columns stay in the row as DMS wrote it.
    assert update["payload"]["data"]["BI_address"] == "Shanghai"
    assert update["payload"]["data"]["address"] == "Beijing"
    assert update["produced_at"] == "2024-10-27T12:39:03.210671+00:00"


def test_transaction_details_and_server_option(tmp_path: Path) -> None:
    rows = normalized_rows(PRETTY, server="pg-prod")
    assert set(_tx(rows)) == {"pg-prod/1139", "pg-prod/1140"}
    assert len(_tx(rows)["pg-prod/1140"]) == 2  # foo update and bar delete
    control = next(m for m in rows["messages"] if m["detail"]["record-type"] == "control")
    assert control["uid"].startswith("dms:msg:awsdms_apply_exceptions/-/")
    assert control["event_type"] == "awsdms_apply_exceptions.create-table"
    update = next(m for m in rows["messages"] if m["event_type"] == "foo.update")
    assert update["detail"]["before_image_field"] == "before-image"
    assert update["payload"]["before-image"] == {"id": 42, "age": 32}
    assert update["uid"].startswith("dms:msg:public.foo/00000002/7C007328.2.00000002/7C007328/")


def test_pretty_records_are_located_by_their_first_line_and_a_bad_one_is_skipped(
        tmp_path: Path) -> None:
    text = PRETTY.read_text()
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line == "{"]
    assert starts == [1, 11, 33, 59]
    lines = text.splitlines()
    lines[11 + 3] = '        "name": John,'  # inside the second record
    path = tmp_path / "broken_pretty.json"
    path.write_text("\n".join(lines) + "\n")
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 4 and rows["source"]["loaded"] == 3
    assert [r["location"] for r in rows["rejects"]] == ["line 11"]
    assert rows["rejects"][0]["reason"].startswith(
        "expected an AWS DMS record (JSON object with data and metadata): Expecting value")
    assert sorted(m["location"] for m in rows["messages"]) == ["line 1", "line 33", "line 59"]


def test_licence_comment_then_a_broken_line(tmp_path: Path) -> None:
    lines = PAIMON.read_text().splitlines()
    assert lines[18].startswith('{"data"')  # the first record is on line 19
    lines[19] = lines[19][:80]  # cut the second record short
    path = tmp_path / "cut.txt"
    path.write_text("\n".join(lines) + "\n")
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 4 and rows["source"]["loaded"] == 3
    assert [r["location"] for r in rows["rejects"]] == ["line 20"]
    assert sorted(m["location"] for m in rows["messages"]) == ["line 19", "line 21", "line 22"]


def test_record_without_metadata_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "no_meta.jsonl"
    path.write_text(PAIMON.read_text().splitlines()[18] + '\n{"data": {"id": 1}}\n')
    rows = normalized_rows(path, fmt="dms_kafka")
    assert rows["rejects"] == [{
        "location": "line 2",
        "reason": "expected a DMS record with a 'metadata' object, got an object with keys data"}]
