"""Root cause without failed statuses: anomaly signals against a baseline, on stores from files.

The Nezha excerpts (tests/fixtures/scenarios/rca, PROVENANCE.md) are real TrainTicket
exports: traces and logs that carry no status, with a fault-free minute as the baseline
(``--baseline``).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import tracemap
from tracemap.analyze.signals import binomial_z, poisson_z
from tracemap.samples import generate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "rca"


def _store(tmp_path: Path, *files: Path) -> tracemap.Tracemap:
    tm = tracemap.open(tmp_path / "s.duckdb")
    result = tm.ingest([str(f) for f in files])
    assert result.totals["rejected"] == 0
    return tm


def test_callee_delay_seen_only_on_client_spans_names_the_callee(tmp_path: Path) -> None:
    # Network delay into verification-code: its own server spans stay fast, its caller's
    # (auth) client spans into it take seconds, and auth's callers see auth slow too.
    window, base = FIXTURES / "delay_window_trace.csv.gz", FIXTURES / "delay_baseline_trace.csv.gz"
    result = _store(tmp_path, window, base).failures(baseline_sources=[str(base)])
    first, second = result.root_causes[:2]
    assert first.component == "otel:service:ts-verification-code-service"
    top = first.signals[0]
    assert (top["signal"], top["peer"]) == ("client_latency", "otel:service:ts-auth-service")
    assert top["effect"] > 10 and top["window"] > 1000 > top["baseline"]
    assert {Path(e["file"]).resolve() for e in top["examples"]} == {window}
    assert all(e["location"].startswith("line ") for e in top["examples"])
    # auth only waited on it: explained, below it.
    assert second.component == "otel:service:ts-auth-service"
    assert "explained by otel:service:ts-verification-code-service" in second.explanation
    assert result.failed_entities == 0


def test_cli_baseline_option_takes_the_fault_free_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tracemap.cli import app

    window, base = FIXTURES / "delay_window_trace.csv.gz", FIXTURES / "delay_baseline_trace.csv.gz"
    db = str(tmp_path / "s.duckdb")
    assert CliRunner().invoke(app, ["ingest", "--db", db, str(window), str(base)]).exit_code == 0
    r = CliRunner().invoke(app, ["failures", "--db", db, "--baseline", str(base), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["window"]["baseline_sources"] == [str(base)]
    assert out["root_causes"][0]["component"] == "otel:service:ts-verification-code-service"


def test_error_log_burst_from_logs_only_names_the_service(tmp_path: Path) -> None:
    window, base = FIXTURES / "errors_window_log.csv.gz", FIXTURES / "errors_baseline_log.csv.gz"
    result = _store(tmp_path, window, base).failures(baseline_sources=[str(base)])
    first = result.root_causes[0]
    assert first.component == "otel:service:ts-basic-service"
    assert first.explanation == "13 error log lines vs 0 in the baseline"
    top = first.signals[0]
    assert (top["signal"], top["window"], top["baseline"]) == ("error_logs", 13, 0)
    assert {Path(e["file"]).resolve() for e in top["examples"]} == {window}


SPAN_COLUMNS = ["TraceID", "SpanID", "ParentID", "PodName", "OperationName",
                "StartTimeUnixNano", "EndTimeUnixNano", "Duration", "http.response.status_code"]


def _write_spans(path: Path, start: datetime, requests: int, *, calls_stock: bool,
                 stock_answers: int = 200) -> None:
    """gateway -> order, which calls payment and (unless told not to) stock; the column
    layout of the Nezha TrainTicket span tables (pods named <service>-<rs>-<pod>) and an
    OTel ``http.response.status_code`` column (``stock_answers`` on stock's spans)."""
    pods = {s: f"{s}-6d5f9c7b8-x7k2p" for s in ("gateway", "order", "payment", "stock")}
    rows = []

    def span(trace: str, sid: str, parent: str, svc: str, op: str, t: datetime, ms: float):
        ns = int(t.timestamp() * 1e9)
        code = stock_answers if svc == "stock" else 200
        rows.append([trace, sid, parent, pods[svc], op, ns, ns + int(ms * 1e6), int(ms * 1000),
                     code])

    for i in range(requests):
        t = start + timedelta(seconds=i)
        trace = f"{start.minute:02x}{i + 1:030x}"
        ids = [f"{i + 1:08x}{n + 1:08x}" for n in range(7)]
        span(trace, ids[0], "root", "gateway", "POST /orders", t, 40)
        span(trace, ids[1], ids[0], "gateway", "HTTP POST", t, 38)
        span(trace, ids[2], ids[1], "order", "/orders", t + timedelta(milliseconds=1), 35)
        span(trace, ids[3], ids[2], "order", "HTTP POST", t + timedelta(milliseconds=2), 10)
        span(trace, ids[4], ids[3], "payment", "/pay", t + timedelta(milliseconds=3), 8)
        if calls_stock:
            span(trace, ids[5], ids[2], "order", "HTTP PUT", t + timedelta(milliseconds=13), 10)
            span(trace, ids[6], ids[5], "stock", "/reserve", t + timedelta(milliseconds=14), 8)
    with gzip.open(path, "wt", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(SPAN_COLUMNS)
        out.writerows(rows)


def test_vanished_call_path_names_the_caller_that_stopped(tmp_path: Path) -> None:
    base, window = tmp_path / "base_trace.csv.gz", tmp_path / "window_trace.csv.gz"
    t0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    _write_spans(base, t0, 60, calls_stock=True)
    _write_spans(window, t0 + timedelta(minutes=5), 60, calls_stock=False)
    result = _store(tmp_path, base, window).failures(baseline_sources=[str(base)])
    assert [c.component for c in result.root_causes] == ["otel:service:order"]
    top = result.root_causes[0].signals[0]
    assert (top["signal"], top["subject"], top["window"], top["baseline"]) == (
        "call_path", "/reserve on otel:service:stock", 0, 60)
    assert Path(top["examples"][0]["file"]).resolve() == base.resolve()
    assert result.root_causes[0].explanation.startswith("stopped calling /reserve")


def test_server_error_codes_name_the_service_that_answered_them(tmp_path: Path) -> None:
    base, window = tmp_path / "base_trace.csv.gz", tmp_path / "window_trace.csv.gz"
    t0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    _write_spans(base, t0, 60, calls_stock=True)
    _write_spans(window, t0 + timedelta(minutes=5), 60, calls_stock=True, stock_answers=503)
    result = _store(tmp_path, base, window).failures(baseline_sources=[str(base)])
    first = result.root_causes[0]
    assert first.component == "otel:service:stock"
    codes = next(s for s in first.signals if s["signal"] == "error_codes")
    assert (codes["subject"], codes["window"], codes["baseline"]) == ("answered 503", 60, 0)


def test_same_traffic_as_the_baseline_reports_nothing(tmp_path: Path) -> None:
    base, window = tmp_path / "base_trace.csv.gz", tmp_path / "window_trace.csv.gz"
    t0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    _write_spans(base, t0, 60, calls_stock=True)
    _write_spans(window, t0 + timedelta(minutes=5), 60, calls_stock=True)
    result = _store(tmp_path, base, window).failures(baseline_sources=[str(base)])
    assert result.root_causes == []


def test_baseline_that_was_not_ingested_is_a_clear_error(tmp_path: Path) -> None:
    base = FIXTURES / "delay_baseline_trace.csv.gz"
    tm = _store(tmp_path, base)
    with pytest.raises(tracemap.TracemapError, match="ingest the baseline files too"):
        tm.failures(baseline_sources=[str(tmp_path / "elsewhere")])


def test_deployment_payload_change_across_a_topic_names_the_producer(tmp_path: Path) -> None:
    # The sample landscape's bad deploy with its version labels removed: order-worker 2.4.0
    # (Temporal build id 2.4.0 in the histories) publishes a new OrderPlaced shape to
    # orders.placed; billing, behind the topic, fails on it. What is left to tell the bad
    # records apart is the producer's payload field set.
    generate(tmp_path / "landscape")
    answers = json.loads((tmp_path / "landscape" / "answers.json").read_text())
    for f in (tmp_path / "landscape" / "exports" / "otel").iterdir():
        f.write_text(re.sub(r'\{"key": ?"service\.version", ?"value": ?\{"stringValue": ?'
                            r'"[^"]*"\}\},? ?', "", f.read_text()))
    for f in (tmp_path / "landscape" / "exports" / "kafka").iterdir():
        f.write_text(re.sub(r'"schema-version", ?"\d+", ?', "", f.read_text()))
    tm = _store(tmp_path, tmp_path / "landscape" / "exports")
    deploy = next(i for i in answers["incidents"] if i["id"] == "bad-deploy")["window"]
    result = tm.failures(since=datetime.fromisoformat(deploy["since"]),
                         until=datetime.fromisoformat(deploy["until"]))
    first, second = result.root_causes[:2]
    assert first.component == "otel:service:order-worker"
    assert "otel:service:billing" in first.explains
    assert [a.name for a in first.attributes] == ["payload.fields"]
    assert "total" in first.attributes[0].value and "amount" not in first.attributes[0].value
    assert (second.component, second.explained_by) == ("otel:service:billing",
                                                       "otel:service:order-worker")


def test_deployment_without_failed_status_is_ranked_above_the_consumer_it_slows(scenario) -> None:
    # api 2.0 (service.version, schema-version header 2) from 11:00; billing, behind the
    # orders topic, takes 30x longer on its records. Nothing fails.
    from tests.analyze.scenario import INCIDENT_END, INCIDENT_START

    tm, _ = scenario(api_deploy_slows_billing=True)
    result = tm.failures(since=INCIDENT_START, until=INCIDENT_END)
    assert result.failed_entities == 0
    first, second = result.root_causes[:2]
    assert first.component == "otel:service:api"
    assert {s["subject"] for s in first.signals} >= {"service.version=2.0", "schema-version=2"}
    assert first.explanation.startswith("changed: ")
    assert (second.component, second.explained_by) == ("otel:service:billing",
                                                       "otel:service:api")
    assert second.signals[0]["signal"] == "self_latency"


@pytest.mark.parametrize(("observed", "expected", "z"), [
    (0, 16, -5.657), (16, 16, 0.0), (30, 10, 5.091)])
def test_poisson_surprise(observed: float, expected: float, z: float) -> None:
    assert poisson_z(observed, expected) == pytest.approx(z, abs=1e-3)


def test_binomial_surprise_is_zero_at_the_expected_share() -> None:
    assert binomial_z(5, 100, 0.05) == pytest.approx(0.0)
    assert binomial_z(100, 100, 0.05) > 20
    assert json.dumps(binomial_z(0, 0, 0.05)) == "0.0"
