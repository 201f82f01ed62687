"""Peers that send no telemetry become virtual nodes, named by the client spans that call them
(OTel semconv ``db.system.name``/``db.system`` + ``db.namespace``, ``peer.service``,
``rpc.service``, ``server.address``/``net.peer.name``; Zipkin ``remoteEndpoint``); a client
span answered by an exported server span makes none (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES, SCENARIOS
from tests.correlation.landscape import correlate, rows, score

FILES = (SCENARIOS / "peers", FIXTURES / "zipkin_json" / "zipkin_api_v2_traces_list.json")
CALLED = {"postgresql:database:orders", "redis:database:cache.internal",
          "peer:host:api.stripe.com", "otel:service:inventory", "peer:rpc:pricing.Quote",
          "mysql:database:mysql"}


def test_uninstrumented_peers_are_virtual_nodes(tmp_path: Path) -> None:
    tm = correlate(tmp_path, *FILES)
    expected = {("otel:service:checkout", peer, "calls") for peer in CALLED} | {
        ("otel:service:checkout", "otel:service:users", "calls"),
        ("otel:service:frontend", "otel:service:backend", "calls")}
    assert score(tm, expected, "peers") == (1.0, 1.0)
    virtual = {r["component"] for r in rows(
        tm, "SELECT component FROM component_nodes WHERE virtual")}
    assert virtual == CALLED
    graph = {n["component"]: n["virtual"] for n in tm.graph().nodes}
    assert graph["postgresql:database:orders"] and not graph["otel:service:users"]
    evidence = rows(tm, "SELECT rule, evidence FROM edges WHERE dst LIKE 'virtual:peer:%' "
                        "AND evidence LIKE '%db.system.name%'")
    assert [e["rule"] for e in evidence] == ["virtual_peer"]


def test_hidden_and_impact_see_the_virtual_peers(tmp_path: Path) -> None:
    tm = correlate(tmp_path, *FILES)
    hidden = tm.hidden()
    assert CALLED <= {h.target for h in hidden.hidden}
    assert hidden.observed == len(hidden.hidden)  # nothing declared: every observed one listed
    reached = {i.component for i in tm.impact("postgresql:database:orders").impacted}
    assert reached == {"otel:service:checkout"}  # a change to the database reaches its caller
