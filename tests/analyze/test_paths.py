"""paths over a store built from files (tests/fixtures/scenarios/risks_kafka: three executions,
one per route a record of orders.placed took)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tracemap
from tests.conftest import FIXTURES, SCENARIOS
from tracemap.cli import app

CHAIN = ["otel:service:checkout", "kafka:topic:orders.placed", "otel:service:billing",
         "kafka:topic:invoices.created", "otel:service:ledger", "kafka:topic:ledger.posted",
         "otel:service:notifier"]


@pytest.fixture(scope="module")
def tm(tmp_path_factory: pytest.TempPathFactory) -> tracemap.Tracemap:
    tm = tracemap.open(tmp_path_factory.mktemp("paths") / "store.duckdb")
    result = tm.ingest([str(SCENARIOS / "risks_kafka")])
    assert result.totals["rejected"] == 0
    return tm


def _hash(hops: list[tuple[str, str, str]]) -> str:
    """The documented pathway hash: md5 of the sorted ``source>target:kind`` hops."""
    text = "|".join(sorted(f"{s}>{t}:{k}" for s, t, k in hops))
    return hashlib.md5(text.encode()).hexdigest()[:16]


def test_each_route_is_one_pathway(tm: tracemap.Tracemap) -> None:
    result = tm.paths()
    assert result.executions == 3
    by_components = {tuple(p.components): p for p in result.paths}
    assert set(by_components) == {
        tuple(CHAIN),
        tuple(CHAIN[:3]),  # ord-3: billing emitted nothing
        (*CHAIN[:3], "kafka:topic:orders.placed.DLT"),  # ord-2: dead-lettered
    }
    chain = by_components[tuple(CHAIN)]
    hops = [(h.source, h.target, h.kind) for h in chain.hops]
    assert hops == [(a, b, "emits" if a.startswith("otel") else "triggers")
                    for a, b in zip(CHAIN, CHAIN[1:], strict=False)]
    assert chain.hash == _hash(hops)
    assert (chain.count, chain.failure_rate) == (1, 0.0)
    # ord-1 was processed at +1 s and replayed at +301 s: the lag is the median of both
    lag = next(h for h in chain.hops if h.target == "otel:service:billing")
    assert lag.p50_ms == 150997.0
    dead = by_components[(*CHAIN[:3], "kafka:topic:orders.placed.DLT")]
    assert dead.failure_rate == 1.0


def test_from_to_focuses_on_one_route(tm: tracemap.Tracemap) -> None:
    result = tm.paths(source="billing", target="ledger.posted")
    [path] = result.paths
    assert path.components == CHAIN[2:6]
    assert [(h.source, h.target) for h in path.hops] == list(zip(CHAIN[2:5], CHAIN[3:6],
                                                                 strict=True))
    assert [c["component"] for c in path.inside] == CHAIN[2:6]
    assert tm.paths(source="ledger", target="checkout").paths == []


def test_cli_json_contract(tm: tracemap.Tracemap) -> None:
    r = CliRunner().invoke(app, ["paths", "--db", tm.db, "--json", "--to", "orders.placed.DLT"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    [path] = doc["paths"]
    assert {"hash", "components", "count", "p50_ms", "p95_ms", "p99_ms", "failure_rate",
            "hops"} <= set(path)
    assert path["hops"][-1] == {"from": "otel:service:billing",
                                "to": "kafka:topic:orders.placed.DLT", "kind": "emits",
                                "p50_ms": 3.0, "p95_ms": 3.0}
    r = CliRunner().invoke(app, ["paths", "--db", tm.db, "--format", "md"])
    assert r.exit_code == 0, r.output
    assert "### Pathways" in r.output


def test_unknown_component_is_a_clear_error(tm: tracemap.Tracemap) -> None:
    r = CliRunner().invoke(app, ["paths", "--db", tm.db, "--from", "nosuchthing"])
    assert r.exit_code == 1
    assert "nosuchthing" in r.output


def test_a_single_service_trace_is_a_pathway(tmp_path: Path) -> None:
    # telemetrygen's spans (jaeger's OTLP fixture) never leave the service: one pathway of one
    # component, hashed from its name, no hops; the three-service trace keeps its hop hash
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(FIXTURES / "otlp_json" / "jaeger_fixture_otlp2jaeger_in.otlp.json"),
               str(FIXTURES / "otlp_json" / "jaeger_fixture_otel_traces_01.otlp.json")])
    result = tm.paths()
    assert result.executions == 2
    alone = next(p for p in result.paths if p.components == ["otel:service:telemetrygen"])
    assert alone.hops == [] and alone.count == 1
    assert alone.hash == hashlib.md5(b"otel:service:telemetrygen").hexdigest()[:16]
    [other] = [p for p in result.paths if p is not alone]
    assert len(other.components) > 1 and other.hops
    assert other.hash == _hash([(h.source, h.target, h.kind) for h in other.hops])


def test_a_cycle_orders_only_its_members(tmp_path: Path) -> None:
    # Argo's nested retries: template "success" runs before sub-dag and again inside it (a
    # cycle success <-> sub-dag); the workflow and its entry template stay upstream of it
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(FIXTURES / "argo_workflow" / "argo_wf_dag_nested_retries.status.yaml")])
    [path] = tm.paths().paths
    assert path.components == [
        "argo:workflow:retry-with-dags", "argo:template:retry-with-dags.retry-with-dags",
        "argo:template:retry-with-dags.success", "argo:template:retry-with-dags.sub-dag",
        "argo:template:retry-with-dags.fail"]
    assert len({(h.source, h.target, h.kind) for h in path.hops}) == len(path.hops)
