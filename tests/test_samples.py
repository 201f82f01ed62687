"""The sample landscape: deterministic, committed as generated, ingestible, and its answers hold.

The answers are checked against the ingested rows (statuses, headers, spans), not against
tracemap's analyzers: they are what the analyzers are measured with.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from tracemap.load import ingest_paths
from tracemap.samples import DECLARED_DIR, EXPORTS_DIR, GenerateResult, generate
from tracemap.samples import landscape as L
from tracemap.store import Store

COMMITTED = Path(__file__).resolve().parents[1] / "sample_traces"

#: Export folder -> the ingestor that must claim every file in it.
FORMAT_OF_FOLDER = {
    "temporal": "temporal_json",
    "kafka": "kafka_kcat",
    "otel": "otlp_json",
    "stepfunctions": "stepfunctions_json",
    "eventbridge": "eventbridge_json",
    "openlineage": "openlineage_json",
}
#: Files whose format differs from their folder's.
FORMAT_OF_FILE = {"InvoiceStateMachine.definition.json": "stepfunctions_asl"}
#: Formats whose records follow the order traffic (the Airflow nights scale separately).
ORDER_FORMATS = ("temporal_json", "kafka_kcat", "otlp_json", "stepfunctions_json",
                 "eventbridge_json")


def tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateResult]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate(out)


@pytest.fixture(scope="module")
def ingested() -> Store:
    """The committed sample's exports in an in-memory store (declarations left out)."""
    store = Store(":memory:")
    result = ingest_paths(store, [str(COMMITTED / EXPORTS_DIR)])
    store.result = result  # type: ignore[attr-defined]
    return store


@pytest.fixture(scope="module")
def answers() -> dict:
    return json.loads((COMMITTED / "answers.json").read_text())


def test_same_seed_gives_identical_bytes(fresh: tuple[Path, GenerateResult],
                                         tmp_path: Path) -> None:
    out, _ = fresh
    generate(tmp_path)
    assert tree(tmp_path) == tree(out)


def test_another_seed_gives_other_ids(fresh: tuple[Path, GenerateResult],
                                      tmp_path: Path) -> None:
    out, _ = fresh
    generate(tmp_path, seed=8)
    first = (out / EXPORTS_DIR / "kafka" / "orders.placed.jsonl").read_text()
    other = (tmp_path / EXPORTS_DIR / "kafka" / "orders.placed.jsonl").read_text()
    assert first.splitlines()[0] != other.splitlines()[0]


def test_committed_sample_is_a_fresh_generation(fresh: tuple[Path, GenerateResult]) -> None:
    out, _ = fresh
    committed, generated = tree(COMMITTED), tree(out)
    assert sorted(committed) == sorted(generated), (
        "sample_traces/ differs from `python -m tracemap.samples --out sample_traces`; "
        "regenerate it instead of editing it")
    changed = [p for p in committed if committed[p] != generated[p]]
    assert not changed, f"regenerate sample_traces/: {changed[:5]} differ"


def test_committed_sample_stays_small(fresh: tuple[Path, GenerateResult]) -> None:
    _, result = fresh
    assert result.total_bytes < 5_000_000
    assert sum((COMMITTED / p).stat().st_size for p in tree(COMMITTED)) < 5_200_000


def test_larger_scale_grows_proportionally(fresh: tuple[Path, GenerateResult],
                                           tmp_path: Path) -> None:
    _, one = fresh
    three = generate(tmp_path, scale=3)
    assert three.orders == 3 * one.orders
    for fmt in ORDER_FORMATS:
        ratio = three.records[fmt] / one.records[fmt]
        assert 2.7 < ratio < 3.3, (fmt, one.records[fmt], three.records[fmt])
    assert three.records["openlineage_json"] == 3 * one.records["openlineage_json"]


def test_every_export_is_claimed_by_its_ingestor_and_loads_without_rejects(
        ingested: Store, fresh: tuple[Path, GenerateResult]) -> None:
    _, generated = fresh
    result = ingested.result  # type: ignore[attr-defined]
    records: Counter[str] = Counter()
    for src in result.sources:
        rel = Path(src.path).relative_to(COMMITTED / EXPORTS_DIR)
        expected = FORMAT_OF_FILE.get(rel.name, FORMAT_OF_FOLDER[rel.parts[0]])
        assert (src.format, src.status) == (expected, "new"), src
        assert (src.rejected, src.skipped) == (0, 0), src
        assert src.records == src.loaded > 0, src
        records[src.format] += src.records
    # every record the generator wrote is one record for the ingestor
    assert dict(records) == {k: v for k, v in generated.records.items() if k != "asyncapi"}


def test_declared_folder_holds_only_asyncapi(fresh: tuple[Path, GenerateResult]) -> None:
    out, _ = fresh
    files = sorted(p.name for p in (out / DECLARED_DIR).rglob("*") if p.is_file())
    assert files == sorted(f"{s}.yaml" for s in L.ASYNCAPI)


def test_asyncapi_documents_declare_what_the_answers_say(answers: dict) -> None:
    from tracemap.declarations import load

    paths = sorted(str(p) for p in (COMMITTED / DECLARED_DIR).rglob("*.yaml"))
    def named(n: str) -> str:
        return n if ":" in n else L.service(n)
    declared = {(named(d.src), named(d.dst)) for d in load(paths)}
    expected = {(d["source"], d["target"]) for d in answers["declared_dependencies"]
                if d["declared_by"] == "asyncapi"}
    assert declared == expected
    hidden = {(d["source"], d["target"]) for d in answers["hidden_dependencies"]}
    assert (L.topic("orders.placed"), L.service("fulfilment")) in hidden
    assert not declared & hidden


def _incident(answers: dict, incident: L.Incident) -> dict:
    return next(i for i in answers["incidents"] if i["id"] == incident.id)


def test_retry_storm_runs_failed_after_five_attempts(ingested: Store, answers: dict) -> None:
    storm = _incident(answers, L.RETRY_STORM)
    failed = {r["uid"] for r in ingested.rows(
        "SELECT uid FROM runs WHERE component = ? AND status = 'failed'",
        [L.workflow("OrderWorkflow")])}
    assert failed == set(storm["failed_runs"]) and failed
    attempts = ingested.rows(
        "SELECT DISTINCT attempt FROM steps WHERE component = ? AND status = 'failed'",
        [L.activity("ChargePayment")])
    assert attempts == [{"attempt": 5}]
    # every attempt of every failed run met a failing payments (its clock is 180 ms behind)
    errors = ingested.rows(
        "SELECT count(*) AS n FROM runs WHERE component = ? AND status = 'failed' "
        "AND started_at BETWEEN ?::TIMESTAMPTZ - INTERVAL 1 SECOND AND ?::TIMESTAMPTZ",
        [L.service("payments"), storm["window"]["since"], storm["window"]["until"]])[0]
    assert errors["n"] >= 5 * len(storm["failed_runs"])


def test_false_completions_are_completed_runs_whose_billing_failed(ingested: Store,
                                                                   answers: dict) -> None:
    for incident in (L.TAX_OUTAGE, L.BAD_DEPLOY):
        inc = _incident(answers, incident)
        runs = inc["false_completion_runs"]
        assert runs and len(runs) == len(inc["failed_messages"])
        ok = ingested.rows(
            f"SELECT count(*) AS n FROM runs WHERE status = 'ok' AND uid IN "
            f"({', '.join('?' * len(runs))})", runs)[0]["n"]
        assert ok == len(runs), incident.id


def test_bad_deploy_messages_are_exactly_the_schema_v2_ones(ingested: Store,
                                                            answers: dict) -> None:
    inc = _incident(answers, L.BAD_DEPLOY)
    v2 = {r["uid"] for r in ingested.rows(
        "SELECT uid FROM messages WHERE channel = 'orders.placed' "
        "AND json_extract_string(headers, '$.\"schema-version\"') = '2'")}
    assert v2 == {m["message"] for m in inc["failed_messages"]}
    versions = ingested.rows(
        "SELECT DISTINCT json_extract_string(detail, '$.\"service.version\"') AS v FROM runs "
        "WHERE component = ? AND started_at BETWEEN ? AND ?",
        [L.service("order-worker"), inc["window"]["since"], inc["window"]["until"]])
    assert {r["v"] for r in versions} == {L.BAD_BUILD}


def test_silent_messages_have_no_notifier_span(ingested: Store, answers: dict) -> None:
    silent = {s["message"] for s in _incident(answers, L.NOTIFIER_STALLED)["silent"]}
    shipped = {r["uid"] for r in ingested.rows(
        "SELECT uid FROM messages WHERE channel = 'orders.shipped'")}
    consumed = {f"kafka:msg:orders.shipped/{r['p']}/{r['o']}" for r in ingested.rows(
        "SELECT json_extract_string(detail, '$.\"messaging.destination.partition.id\"') AS p, "
        "json_extract_string(detail, '$.\"messaging.kafka.message.offset\"') AS o FROM steps "
        "WHERE system = 'otel' AND json_extract_string(detail, '$.\"service.name\"') = "
        "'notifier' AND step_type = 'consumer'")}
    assert silent and silent <= shipped
    assert consumed == shipped - silent


def test_tax_outage_starts_at_tax_service(ingested: Store, answers: dict) -> None:
    inc = _incident(answers, L.TAX_OUTAGE)
    failed = ingested.rows(
        "SELECT component, count(*) AS n FROM runs WHERE status = 'failed' AND started_at "
        "BETWEEN ? AND ? GROUP BY component ORDER BY component",
        [inc["window"]["since"], inc["window"]["until"]])
    components = {r["component"] for r in failed}
    # payments may add a transient 503 of the baseline; nothing else fails in the window
    assert {L.service("tax-service"), L.service("billing")} <= components
    assert components <= {L.service("tax-service"), L.service("billing"), L.service("payments")}


def test_impact_set_is_reachable_from_the_target(answers: dict) -> None:
    impact = answers["impact"]
    # billing and fulfilment consume it; nightly_sales.extract_orders reads it through
    # OpenLineage (kafka://<bootstrap> + topic is the topic)
    assert impact["by_hop"]["1"] == [L.task("nightly_sales", "extract_orders"),
                                     L.service("billing"), L.service("fulfilment")]
    assert L.MACHINE in impact["components"]
    assert L.REPORT_FILE.component in impact["components"]
    assert L.service("notifier") not in impact["components"]


def test_regenerating_removes_files_of_a_larger_run(fresh: tuple[Path, GenerateResult],
                                                    tmp_path: Path) -> None:
    out, _ = fresh
    generate(tmp_path, scale=2)
    generate(tmp_path)
    assert tree(tmp_path) == tree(out)
