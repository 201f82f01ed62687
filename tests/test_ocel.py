"""OCEL 2.0 export: read back by pm4py's own OCEL 2.0 importers, counts and relationships intact.

The store is built from real exports: the skew_traceparent scenario (OTLP spans of a checkout
publishing to Kafka, the kcat dump, the billing consumer) and dbt's OpenLineage run events.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tracemap
from tests.conftest import FIXTURES
from tracemap.cli import app

MESSAGE = "kafka:msg:orders.placed/0/42"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ocel") / "s.duckdb"
    tracemap.open(path).ingest([str(FIXTURES / "scenarios" / "skew_traceparent"),
                                str(FIXTURES / "openlineage_json" /
                                    "ol_dbt_postgres_run_events.jsonl")])
    return path


def _pm4py():
    with warnings.catch_warnings():  # pm4py's import warns about optional extras it lacks
        warnings.simplefilter("ignore")
        return pytest.importorskip("pm4py")


@pytest.mark.parametrize("fmt, name", [("ocel-json", "log.jsonocel"),
                                       ("ocel-sqlite", "log.sqlite")])
def test_pm4py_reads_the_export_back(db: Path, tmp_path: Path, fmt: str, name: str) -> None:
    pm4py = _pm4py()
    result = tracemap.open(db).export(tmp_path / name, fmt=fmt)
    assert (result.events, result.objects, result.e2o, result.o2o, result.untimed) == (
        21, 24, 51, 20, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = pm4py.read_ocel2_json if fmt == "ocel-json" else pm4py.read_ocel2_sqlite
        log = read(str(tmp_path / name))
    assert len(log.events) == result.events
    assert len(log.objects) == result.objects  # every object is related to some event
    assert len(log.relations) == result.e2o  # no (event, object) pair carries two qualifiers
    assert len(log.o2o) == result.o2o
    assert log.objects["ocel:type"].value_counts().to_dict() == {
        "component": 15, "dataset": 5, "execution": 3, "channel": 1}
    message = log.relations[log.relations["ocel:eid"] == MESSAGE]
    related = set(zip(message["ocel:qualifier"], message["ocel:oid"], strict=True))
    assert related - {r for r in related if r[0] == "execution"} == {
        ("channel", "kafka:topic:orders.placed"), ("consumer", "otel:service:billing"),
        ("producer", "otel:operation:checkout/orders.placed publish")}
    qualifiers = log.relations["ocel:qualifier"].value_counts().to_dict()
    assert qualifiers == {"execution": 21, "component": 17, "reads": 7, "writes": 3,
                          "channel": 1, "producer": 1, "consumer": 1}


def test_json_layout_follows_the_specification(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "log.json"
    r = CliRunner().invoke(app, ["export", "--format", "ocel-json", "-o", str(out),
                                 "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "21 events, 24 objects, 51 event-object and 20 object-object" in r.output
    doc = json.loads(out.read_text())
    assert list(doc) == ["eventTypes", "objectTypes", "objects", "events"]
    event = next(e for e in doc["events"] if e["id"] == MESSAGE)
    assert event["type"] == "kafka:topic:orders.placed"
    assert event["time"].endswith("Z")
    assert {a["name"]: a["value"] for a in event["attributes"]}.keys() == {
        "entity", "system", "status", "name", "duration_ms"}
    types = {t["name"] for t in doc["eventTypes"]}
    assert {e["type"] for e in doc["events"]} == types


def test_sqlite_layout_has_the_specified_tables(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "log.sqlite"
    tracemap.open(db).export(out, fmt="ocel-sqlite")
    with sqlite3.connect(out) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        maps = dict(conn.execute("SELECT ocel_type, ocel_type_map FROM object_map_type"))
        assert {"event", "object", "event_object", "object_object", "event_map_type",
                "object_map_type"} <= tables
        assert {f"object_{m}" for m in maps.values()} <= tables
        assert conn.execute(f"SELECT count(*) FROM object_{maps['dataset']}").fetchone() == (5,)


def test_unknown_export_format_is_a_usage_error(db: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["export", "--format", "xes", "-o", str(tmp_path / "x"),
                                 "--db", str(db)])
    assert r.exit_code == 2
    assert "expected one of ocel-json, ocel-sqlite, got 'xes'" in r.output
