"""canal_json: Canal flat messages become messages on their table's topic, DDL included."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FIXTURES
from tests.golden import counts_and_rejects, normalized_rows

HERE = FIXTURES / "canal_json"
DATA = HERE / "flink_canal_data.jsonl"
TABLES = HERE / "flink_canal_data_filter_table.jsonl"


def test_each_message_is_one_change_event_of_its_table() -> None:
    rows = normalized_rows(DATA)
    assert rows["source"]["records"] == rows["source"]["loaded"] == 11
    by_id = {m["detail"]["id"]: m for m in rows["messages"]}
    assert [by_id[i]["event_type"] for i in range(3, 14)] == [
        "products2.create", "products2.update", "products2.update", "products2.create",
        "products2.create", "products2.update", "products2.update", "products2.delete",
        "products2.update", "products2.delete", "schema_change"]
    first = by_id[3]
    assert (first["channel"], first["component"], first["produced_at"]) == (
        "inventory.products2", "kafka:topic:inventory.products2",
        "2020-05-13T12:38:35.477000+00:00")  # ts, when Canal sent it
    assert (first["detail"]["rows"], first["detail"]["event_ts_ms"]) == (9, 1589373515000)
    assert len(first["payload"]["data"]) == 9
    ddl = by_id[13]
    assert (ddl["channel"], ddl["detail"]["type"], ddl["detail"]["sql"]) == (
        "inventory.user02", "CREATE", "CREATE TABLE `xj_`.`user02` (`uid` int(0) NOT NULL,"
        "`uname` varchar(255) NULL, PRIMARY KEY (`uid`))")


def test_repeated_message_ids_stay_apart() -> None:
    """Canal's ids repeat (6 and 9 twice here): the content decides the uid."""
    rows = normalized_rows(TABLES)
    assert rows["source"]["records"] == rows["source"]["loaded"] == 16
    uids = [m["uid"] for m in rows["messages"]]
    assert len(set(uids)) == 16
    assert sorted({m["channel"] for m in rows["messages"]}) == [
        "mydb.orders", "mydb.product", "mydb.project", "mydb.projects"]


def test_topic_option_names_the_channel(tmp_path: Path) -> None:
    from tracemap.load import ingest_paths
    from tracemap.store import Store

    store = Store(":memory:")
    try:
        ingest_paths(store, [str(DATA)], options={"topic": "products_binlog"})
        channels = store.rows("SELECT DISTINCT channel, detail->>'topic_from' AS t FROM messages")
    finally:
        store.close()
    assert channels == [{"channel": "products_binlog", "t": "option"}]


def test_init_rows_watermarks_and_bad_messages(tmp_path: Path) -> None:
    lines = DATA.read_text().splitlines()
    first = json.loads(lines[0])
    first["type"] = "INIT"  # a full load's rows, as Flink's canal-data-with-init.txt has them
    watermark = {"id": 0, "database": "", "table": "", "pkNames": None, "isDdl": False,
                 "type": "TIDB_WATERMARK", "es": 1640007049196, "ts": 1640007050284,
                 "sql": "", "sqlType": None, "mysqlType": None, "data": None, "old": None,
                 "_tidb": {"watermarkTs": 429918007904436226}}  # TiCDC docs' example
    untyped = {**json.loads(lines[1]), "type": None}
    path = tmp_path / "canal.jsonl"
    path.write_text("\n".join([json.dumps(first), json.dumps(watermark), json.dumps(untyped),
                               lines[2]]) + "\n")
    counts, rejects = counts_and_rejects(path, "canal_json")
    assert counts == (4, 2, 1, 1)
    assert rejects == [("line 3", "field 'type': expected INSERT, UPDATE, DELETE or a DDL "
                        "type, got None")]
    rows = normalized_rows(path, "canal_json")
    assert sorted(m["event_type"] for m in rows["messages"]) == [
        "products2.read", "products2.update"]


def test_ticdc_messages_transaction_key_and_time_from_the_commit_tso(tmp_path: Path) -> None:
    """TiCDC's canal-json (``enable-tidb-extension``), as its storage sink writes it: CRLF
    line ends, no ``ts``/``es``; the commit TSO is the transaction key, and its physical part
    (ms << 18) the time. A watermark is skipped."""
    row = {"id": 0, "database": "test", "table": "t", "pkNames": ["id"], "isDdl": False,
           "type": "INSERT", "sqlType": {"id": 4}, "mysqlType": {"id": "int"},
           "data": [{"id": "1"}], "old": None, "_tidb": {"commitTs": 429918007904436226}}
    watermark = {"isDdl": False, "type": "TIDB_WATERMARK",
                 "_tidb": {"watermarkTs": 429918007904436226}}
    path = tmp_path / "CDC000001.json"
    path.write_text(json.dumps(row) + "\r\n" + json.dumps(watermark) + "\r\n")
    rows = normalized_rows(path)
    assert rows["source"]["format"] == "canal_json"
    assert (rows["source"]["loaded"], rows["source"]["skipped"]) == (1, 1)
    (message,) = rows["messages"]
    # the TiCDC docs pair this TSO with es 1640007049196: the same millisecond
    assert message["produced_at"] == "2021-12-20T13:30:49.196000+00:00"
    assert [(k["kind"], k["value"]) for k in rows["keys"]] == [
        ("business:db_transaction", "tidb/429918007904436226")]
