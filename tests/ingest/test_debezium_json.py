"""Debezium change events: transaction and position keys, topics, the licence-comment file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "debezium_json"
MYSQL_ENVELOPE = HERE / "debezium_mysql_json_with_schema_envelope.txt"
POSTGRES = HERE / "debezium_postgres_payload_only_transactions.jsonl"


def _keyed(rows: dict[str, Any], kind: str) -> dict[str, set[str]]:
    """value -> the entities that carry it."""
    out: dict[str, set[str]] = {}
    for k in rows.get("keys", []):
        if k["kind"] == kind:
            out.setdefault(k["value"], set()).add(k["entity_uid"])
    return out


def test_changes_of_one_transaction_share_a_key() -> None:
    rows = normalized_rows(POSTGRES)
    assert rows["source"]["records"] == 7
    assert rows["source"]["skipped"] == 2  # the BEGIN and END events of the transaction topic
    tx = _keyed(rows, "business:db_transaction")
    assert tx["fulfillment/571"] == {
        "debezium:msg:fulfillment.public.orders/24023128/0f3e3aaf32fb",
        "debezium:msg:fulfillment.public.order_lines/24023160/ae8685ea011e"}
    # Without a transaction block the connector's txId gives the same key.
    assert tx["fulfillment/573"] == {
        "debezium:msg:fulfillment.public.order_lines/24023500/3a66b4a19d41"}
    assert "fulfillment/570" not in tx  # snapshot reads get no transaction key
    assert _keyed(rows, "business:db_position")["fulfillment/24023128"] == {
        "debezium:msg:fulfillment.public.orders/24023128/0f3e3aaf32fb"}
    events = {m["event_type"] for m in rows["messages"]}
    assert events == {"orders.read", "orders.create", "order_lines.create", "orders.update",
                      "order_lines.delete"}
    # The delete's row is its before image; the update's time has 2.x microseconds.
    update = next(m for m in rows["messages"] if m["event_type"] == "orders.update")
    assert update["produced_at"] == "2019-05-28T08:58:25.010456+00:00"
    assert update["component"] == "kafka:topic:fulfillment.public.orders"
    assert _keyed(rows, "correlation_id")["req-9c1e"] >= {update["uid"]}


def test_rows_of_one_binlog_event_share_a_position_but_not_a_uid(tmp_path: Path) -> None:
    source = {"version": "2.7.0.Final", "connector": "mysql", "name": "dbserver1",
              "ts_ms": 1700000000000, "snapshot": "false", "db": "inventory",
              "table": "customers", "server_id": 223344,
              "gtid": "3E11FA47-71CA-11E1-9E33-C80AA9429562:23", "file": "mysql-bin.000003",
              "pos": 484, "row": 0, "thread": 7, "query": None}
    lines = []
    for row, ident in enumerate((1001, 1002)):
        lines.append(json.dumps({
            "before": {"id": ident, "email": "old@example.com"},
            "after": {"id": ident, "email": "new@example.com"},
            "source": {**source, "row": row}, "op": "u", "ts_ms": 1700000000100}))
    path = tmp_path / "mysql.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rows = normalized_rows(path)
    uids = {m["uid"] for m in rows["messages"]}
    assert len(uids) == 2
    assert all(u.startswith("debezium:msg:dbserver1.inventory.customers/mysql-bin.000003:484:")
               for u in uids)
    assert _keyed(rows, "business:db_position") == {"dbserver1/mysql-bin.000003:484": uids}
    assert _keyed(rows, "business:db_transaction") == {
        "dbserver1/3E11FA47-71CA-11E1-9E33-C80AA9429562:23": uids}


def _with_broken_line(tmp_path: Path) -> Path:
    """The corpus file (17-line licence block, blank line, event on line 19) plus two lines."""
    text = MYSQL_ENVELOPE.read_text()
    event = json.loads(text.splitlines()[18])
    event["payload"]["op"] = "d"
    event["payload"]["before"], event["payload"]["after"] = event["payload"]["after"], None
    path = tmp_path / "with_broken.txt"
    path.write_text(text.rstrip("\n") + "\n" + '{"schema": {"type": "struct"}, "payload": {"bef'
                    + "\n" + json.dumps(event) + "\n")
    return path


def test_licence_comment_is_not_a_record_and_line_numbers_stay_right(tmp_path: Path) -> None:
    rows = normalized_rows(_with_broken_line(tmp_path))
    assert rows["source"]["records"] == 3  # the comment lines count as nothing
    assert rows["source"]["loaded"] == 2
    assert [r["location"] for r in rows["rejects"]] == ["line 20"]
    assert rows["rejects"][0]["reason"].startswith(
        "expected a Debezium change event (JSON object with payload/before/after/source/op), "
        "one per line: ")
    locations = sorted((m["location"], m["event_type"]) for m in rows["messages"])
    assert locations == [("line 19", "products.create"), ("line 21", "products.delete")]


def test_gzipped_file_gives_the_same_rows(tmp_path: Path) -> None:
    plain = _with_broken_line(tmp_path)
    packed = tmp_path / "with_broken.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = normalized_rows(plain), normalized_rows(packed)
    assert a["source"]["format"] == b["source"]["format"] == "debezium_json"
    assert a["messages"] == b["messages"] and a["rejects"] == b["rejects"]


def test_schema_envelope_and_payload_only_give_one_row(tmp_path: Path) -> None:
    event = json.loads(MYSQL_ENVELOPE.read_text().splitlines()[18])
    path = tmp_path / "payload_only.jsonl"
    path.write_text(json.dumps(event["payload"]) + "\n")
    with_schema, bare = normalized_rows(MYSQL_ENVELOPE), normalized_rows(path)
    assert [m["uid"] for m in bare["messages"]] == [m["uid"] for m in with_schema["messages"]]
    assert bare["messages"][0]["uid"] == (
        "debezium:msg:dbserver1.inventory.products/mysql-bin.000003:154:0/27020aa1d2db")
    assert bare["messages"][0]["channel"] == "dbserver1.inventory.products"
    assert with_schema["messages"][0]["detail"]["envelope"] == (
        "dbserver1.inventory.products.Envelope")


def test_unknown_op_is_rejected_with_what_was_found(tmp_path: Path) -> None:
    event = json.loads(MYSQL_ENVELOPE.read_text().splitlines()[18])["payload"]
    event["op"] = "x"
    path = tmp_path / "bad_op.jsonl"
    path.write_text(json.dumps(event) + "\n")
    rows = normalized_rows(path)
    assert rows["rejects"] == [{"location": "line 1",
                                "reason": "field 'op': expected one of c, u, d, r, t, m, got 'x'"}]


def test_op_of_another_type_is_rejected_and_the_next_event_loads(tmp_path: Path) -> None:
    event = json.loads(MYSQL_ENVELOPE.read_text().splitlines()[18])["payload"]
    odd = {**event, "op": ["c"]}
    path = tmp_path / "odd_op.jsonl"
    path.write_text(json.dumps(odd) + "\n" + json.dumps(event) + "\n")
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (2, 1)
    assert rows["rejects"] == [{
        "location": "line 1",
        "reason": "field 'op': expected one of c, u, d, r, t, m, got ['c']"}]


WATCH_TOPIC = HERE / "watch_topic_key_tab_value_terminal.txt"


def test_key_tab_value_lines_of_a_copied_terminal_give_keyed_events() -> None:
    import ingest
    from ingest.base import Source

    module, rule = ingest.detection(Source(WATCH_TOPIC))
    assert (module.NAME, rule) == (
        "debezium_json", "first record, line 7; after 1 shell prompt, 5 text lines")
    rows = normalized_rows(WATCH_TOPIC)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (10, 4, 0, 6)
    key = ('{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,'
           '"field":"id"}],"optional":false,"name":"dbserver1.inventory.customers.Key"},'
           '"payload":{"id":%d}}')
    assert [(m["location"], m["msg_key"]) for m in rows["messages"]] == [
        (f"line {7 + i}", key % (1001 + i)) for i in range(4)]
    assert sorted(_keyed(rows, "message_key")) == [key % (1001 + i) for i in range(4)]


def test_a_key_document_on_its_own_line_is_the_next_events_key(tmp_path: Path) -> None:
    # The same real records with key and value on lines of their own (docs, pretty dumps).
    records = [line for line in WATCH_TOPIC.read_text().splitlines() if "\t" in line]
    path = tmp_path / "key_then_value.jsonl"
    path.write_text("".join(line.replace("\t", "\n") + "\n" for line in records))
    rows = normalized_rows(path)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (8, 4, 0, 4)
    assert [json.loads(m["msg_key"])["payload"]["id"] for m in rows["messages"]] == [
        1001, 1002, 1003, 1004]


PAIMON_KEYED = HERE / "paimon_key_semicolon_value_with_schema.txt"


def test_key_semicolon_value_after_a_licence_block_is_detected_and_keyed() -> None:
    # Paimon's test resource, verbatim: a licence comment, then `<key>;<value>` with a key
    # document whose schema is null (not a `.Key` schema): the value decides the format.
    import ingest
    from ingest.base import Source

    module, rule = ingest.detection(Source(PAIMON_KEYED))
    assert (module.NAME, rule) == ("debezium_json", "start of file")
    rows = normalized_rows(PAIMON_KEYED)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (1, 1, 0, 0)
    assert "rejects" not in rows
    key = '{"schema": null ,"payload": {"id": 101}}'
    (msg,) = rows["messages"]
    assert (msg["uid"], msg["component"], msg["event_type"], msg["msg_key"], msg["produced_at"],
            msg["status"], msg["location"]) == (
        "debezium:msg:dbserver1.inventory.products/mysql-bin.000003:154:0/27020aa1d2db",
        "kafka:topic:dbserver1.inventory.products", "products.create", key,
        "2020-05-13T07:40:06.100000+00:00", "ok", "line 18")
    assert msg["payload"]["after"]["name"] == "scooter"
    assert _keyed(rows, "message_key") == {key: {msg["uid"]}}
