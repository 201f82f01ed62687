"""The analyzer commands through the CLI: contracts, formats, exit codes, name resolution."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tracemap.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


def test_impact_fail_on_is_a_ci_gate(scenario) -> None:
    tm, _ = scenario()
    code, out = _run("impact", "orders", "--db", tm.db, "--fail-on", "high")
    assert code == 3, out
    code, out = _run("impact", "otel:service:billing", "--db", tm.db, "--fail-on", "low")
    assert code == 0, out  # nothing depends on billing
    code, out = _run("impact", "orders", "--db", tm.db, "--fail-on", "severe")
    assert code == 2 and "expected low, medium or high" in out


def test_impact_markdown_and_json_contract(scenario) -> None:
    tm, _ = scenario()
    code, out = _run("impact", "orders", "--db", tm.db, "--format", "md")
    assert code == 0, out
    assert out.startswith("### Change impact of kafka:topic:orders (downstream)")
    assert "| high | otel:service:audit | 1 |" in out
    code, out = _run("impact", "orders", "--db", tm.db, "--json")
    data = json.loads(out)
    assert (data["target"], data["direction"]) == ("kafka:topic:orders", "downstream")
    assert set(data["impacted"][0]) >= {"component", "hops", "path", "count",
                                        "failure_coupling", "risk"}


def test_ambiguous_and_unknown_targets_say_what_to_do(scenario) -> None:
    tm, _ = scenario()
    code, out = _run("impact", "service:bill", "--db", tm.db)
    assert code == 1
    assert "no component named 'service:bill'. Did you mean: otel:service:billing?" in out
    code, out = _run("impact", "otel:service:api", "--db", tm.db, "--upstream", "--json")
    assert code == 0 and {i["component"] for i in json.loads(out)["impacted"]} == {
        "otel:service:tax"}


def test_failures_and_hidden_json_contracts(scenario) -> None:
    tm, _ = scenario(tax_outage=True)
    code, out = _run("failures", "--db", tm.db, "--since", "2026-01-01T11:00Z",
                     "--until", "2026-01-01T11:30Z", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert set(data) >= {"window", "root_causes", "propagation", "silent", "partial",
                         "false_completions"}
    assert set(data["root_causes"][0]) >= {"component", "score", "explains", "evidence",
                                           "attributes"}
    assert data["root_causes"][0]["component"] == "otel:service:tax"
    code, out = _run("hidden", "--db", tm.db, "--json")
    assert set(json.loads(out)) >= {"hidden", "declared_unobserved", "fan_out", "cycles",
                                    "false_completions"}


def test_bad_times_are_usage_errors(scenario) -> None:
    tm, _ = scenario()
    code, out = _run("failures", "--db", tm.db, "--since", "yesterday")
    assert code == 2 and "expected an ISO-8601 time" in out
    code, out = _run("diff", "--db", tm.db, "--before", "2026-01-01T10:00Z",
                     "--after", "2026-01-01T11:00Z..2026-01-01T12:00Z")
    assert code == 2 and "expected START..END" in out


def test_diff_sees_an_edge_disappear(scenario) -> None:
    tm, _ = scenario(notifier_stops=True)
    code, out = _run("diff", "--db", tm.db, "--before", "2026-01-01T10:00Z..2026-01-01T11:00Z",
                     "--after", "2026-01-01T11:00Z..2026-01-01T12:00Z", "--json")
    assert code == 0, out
    gone = [(d["source"], d["target"]) for d in json.loads(out)["disappeared"]]
    assert gone == [("kafka:topic:orders", "otel:service:notifier")]
