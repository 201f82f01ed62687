"""tracemap.toml: correlation-key rules every ingestor applies, thresholds, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.base import DEFAULT_HEADER_KEYS, KeyRules
from tracemap.config import Config, ConfigError, load_config
from tracemap.load import ingest_paths
from tracemap.store import Store

#: One record as ``kcat -C -J`` writes it: the order id travels in a header and in the payload.
KCAT_LINE = json.dumps({
    "topic": "orders.placed", "partition": 0, "offset": 4711, "tstype": "create",
    "ts": 1717430400070, "broker": 1,
    "headers": ["x-order-id", "ord-1001", "x-request-id", "req-77"],
    "key": "ord-1001",
    "payload": json.dumps({"type": "OrderPlaced", "order": {"id": "ord-1001",
                                                            "lines": [{"sku": "OLJCESPC7Z"}]}}),
})

TOML = """\
# rules for the shop's events
[correlation]
max_key_fanout = 250
skew_seconds = 0.5

[correlation.headers]
"X-Order-Id" = "business:order_id"
"x-request-id" = false

[correlation.payload]
"payload.order.id" = "business:order_id"
"order.lines[*].sku" = "business:sku"
"""


def _write(tmp_path: Path, text: str, name: str = "tracemap.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _keys(tmp_path: Path, rules: KeyRules) -> set[tuple[str, str]]:
    dump = _write(tmp_path, KCAT_LINE + "\n", "orders.jsonl")
    store = Store(":memory:")
    try:
        result = ingest_paths(store, [str(dump)], rules=rules)
        assert result.sources[0].format == "kafka_kcat"
        return {(k["kind"], k["value"]) for k in store.rows("SELECT kind, value FROM keys")}
    finally:
        store.close()


def test_header_and_payload_rules_produce_keys(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, TOML))
    keys = _keys(tmp_path, config.rules)
    assert ("business:order_id", "ord-1001") in keys  # from the header and from the payload
    assert ("business:sku", "OLJCESPC7Z") in keys
    assert ("correlation_id", "req-77") not in keys  # the default rule the file turned off
    assert ("correlation_id", "req-77") in _keys(tmp_path, KeyRules())


def test_settings_and_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, TOML))
    assert config.correlate_params == {"max_key_fanout": 250, "skew_seconds": 0.5,
                                       "min_confidence": 0.5}
    assert config.rules.header_keys["x-order-id"] == "business:order_id"  # names lower-cased
    assert config.rules.header_keys["correlation-id"] == DEFAULT_HEADER_KEYS["correlation-id"]
    assert config.path == tmp_path / "tracemap.toml"


def test_file_is_found_in_the_working_directory_or_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEMAP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config()  # no file: defaults
    _write(tmp_path, "[correlation]\nmin_confidence = 0.8\n")
    assert load_config().min_confidence == 0.8
    other = _write(tmp_path, "[correlation]\nmin_confidence = 0.3\n", "other.toml")
    monkeypatch.setenv("TRACEMAP_CONFIG", str(other))
    assert load_config().min_confidence == 0.3
    monkeypatch.setenv("TRACEMAP_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="TRACEMAP_CONFIG"):
        load_config()


def test_unknown_kind_is_an_error_naming_file_line_table_and_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, "[correlation.headers]\n\"x-order-id\" = \"order_id\"\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}:2: [correlation.headers] \"x-order-id\": unknown key kind 'order_id'. "
        "Did you mean 'business:order_id'? Valid kinds: correlation_id, trace_id, span_id, "
        "workflow_id, run_id, message_id, causation_id, execution_arn, job_run_id, "
        "message_key, channel, or business:<name> (e.g. business:order_id).")


@pytest.mark.parametrize(("text", "message"), [
    ("[corelation]\nmax_key_fanout = 5\n",
     ":1: unknown section [corelation]. Did you mean [correlation]? Known sections: "
     "[correlation]."),
    ("[correlation]\nmax_fanout = 5\n",
     ":2: [correlation] unknown key 'max_fanout'. Did you mean 'max_key_fanout'? Known keys: "
     "headers, attributes, payload, max_key_fanout, skew_seconds, min_confidence."),
    ("[correlation.payload]\n\"a.b\" = \"correlation-id\"\n",
     ":2: [correlation.payload] \"a.b\": unknown key kind 'correlation-id'. Did you mean "
     "'correlation_id'?"),
    ("[correlation]\nmin_confidence = 2\n",
     ":2: [correlation] min_confidence: expected a number from 0 to 1, got 2."),
    ("[correlation]\nmax_key_fanout = \"many\"\n",
     ":2: [correlation] max_key_fanout: expected an integer of at least 2, got 'many'."),
    ("[correlation.attributes]\n\"app.order\" = 3\n",
     ":2: [correlation.attributes] \"app.order\": expected a key kind (a string) or false, got "
     "an integer."),
    ("[correlation\n", ": not valid TOML: "),
])
def test_mistakes_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}{message}")


@pytest.mark.parametrize("named", [False, True], ids=["./tracemap.toml", "--config"])
def test_cli_reads_the_rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  named: bool) -> None:
    from typer.testing import CliRunner

    from tracemap.cli import app

    rules = tmp_path / ("rules/shop.toml" if named else "tracemap.toml")
    rules.parent.mkdir(exist_ok=True)
    rules.write_text('[correlation.headers]\n"req" = "business:request"\n')
    dump = tmp_path / "dump.jsonl"
    dump.write_text(json.dumps({"topic": "t", "partition": 0, "offset": 1, "ts": 1637230546039,
                                "tstype": "create", "headers": ["req", "r-42"], "key": None,
                                "payload": None}) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACEMAP_CONFIG", raising=False)
    db = str(tmp_path / "s.duckdb")
    config = ["--config", "rules/shop.toml"] if named else []
    r = CliRunner().invoke(app, [*config, "ingest", str(dump), "--db", db])
    assert r.exit_code == 0, r.output
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.rows("SELECT kind, value FROM keys WHERE kind LIKE 'business:%'") == [
            {"kind": "business:request", "value": "r-42"}]


def test_cli_config_option_naming_no_file_is_an_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tracemap.cli import app

    db = str(tmp_path / "s.duckdb")
    gone = CliRunner().invoke(app, ["--config", "gone.toml", "status", "--db", db])
    assert gone.exit_code == 1
    assert " ".join(gone.output.split()) == (
        "error: gone.toml: no such config file (check the path).")
