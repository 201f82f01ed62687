"""hidden on real traces: with nothing declared, every observed dependency is a listed row (a
span link is no declaration); and no consumer is reported as a producer of what it consumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SCENARIOS
from tests.correlation.landscape import correlate

TRACES = sorted(p for fmt in ("zipkin_json", "jaeger_json", "otlp_json")
                for p in (FIXTURES / fmt).glob("*.json"))


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_observed_count_is_the_rows_listed(tmp_path: Path, path: Path) -> None:
    result = correlate(tmp_path, path).hidden()
    assert result.declarations == 0
    assert result.observed == len(result.hidden)


def test_no_consumer_is_a_producer(tmp_path: Path) -> None:
    result = correlate(tmp_path, SCENARIOS / "otel_messaging").hidden()
    emits = {(h.source, h.target) for h in result.hidden if h.kind == "emits"}
    assert emits == {("otel:service:checkout", "kafka:topic:orders")}
