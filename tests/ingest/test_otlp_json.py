"""otlp_json: messaging keys from the attribute spellings OTel semantic conventions have used.

The fixtures (tests/fixtures/otlp_json, pinned by goldens) hold Kafka spans in today's
spelling; these spans are written from the semantic-conventions documents of other versions
and buses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.golden import normalized_rows

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "53995c3f42cd8ad8"


def _request(path: Path, kind: int, attrs: dict[str, Any]) -> Path:
    values = [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int)
               else {"stringValue": v}} for k, v in attrs.items()]
    span = {"traceId": TRACE, "spanId": SPAN, "name": "publish", "kind": kind,
            "startTimeUnixNano": "1714557600000000000", "endTimeUnixNano": "1714557600001000000",
            "attributes": values}
    path.write_text(json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "checkout"}}]},
        "scopeSpans": [{"spans": [span]}]}]}))
    return path


def _messaging_keys(path: Path) -> list[tuple[str, str]]:
    rows = normalized_rows(path)
    return sorted((k["kind"], k["value"]) for k in rows["keys"]
                  if k["entity_uid"] == f"otel:span:{TRACE}/{SPAN}"
                  and k["kind"] in ("channel", "message_key"))


@pytest.mark.parametrize(("attrs", "expected"), [
    # semconv >= 1.17 (the fixtures' spelling)
    ({"messaging.system": "kafka", "messaging.destination.name": "orders",
      "messaging.kafka.message.key": "ord-1"},
     [("channel", "kafka:topic:orders"), ("message_key", "ord-1")]),
    # semconv < 1.17: messaging.destination, messaging.kafka.message_key; system in capitals
    ({"messaging.system": "Kafka", "messaging.destination": "orders",
      "messaging.kafka.message_key": "ord-1"},
     [("channel", "kafka:topic:orders"), ("message_key", "ord-1")]),
    # RabbitMQ on the default exchange: the destination is "", the routing key names the queue
    ({"messaging.system": "rabbitmq", "messaging.destination.name": "",
      "messaging.rabbitmq.destination.routing_key": "invoices"},
     [("channel", "rabbitmq:exchange:amq.default"), ("message_key", "invoices")]),
    # an integer key (intValue) is still a key
    ({"messaging.system": "kafka", "messaging.destination.name": "orders",
      "messaging.kafka.message.key": 42},
     [("channel", "kafka:topic:orders"), ("message_key", "42")]),
    # no bus named: a destination alone is not a channel
    ({"messaging.destination.name": "orders"}, []),
])
def test_messaging_keys_across_semconv_versions(tmp_path: Path, attrs: dict[str, Any],
                                               expected: list[tuple[str, str]]) -> None:
    path = _request(tmp_path / "spans.otlp.json", 4, attrs)
    assert _messaging_keys(path) == expected


def test_an_infinite_int_value_is_kept_not_a_crash(tmp_path: Path) -> None:
    # Found by scripts/fuzz_long.py (otlp_json:3765): Python's json writes Infinity.
    path = _request(tmp_path / "spans.otlp.json", 1, {"retry.count": 3})
    doc = json.loads(path.read_text())
    attr = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]
    attr["value"] = {"intValue": float("inf")}
    path.write_text(json.dumps(doc))
    rows = normalized_rows(path)
    assert (rows["source"]["loaded"], rows["source"]["rejected"]) == (1, 0)
