"""Declared structure from files users pass to ``tracemap hidden --declared``.

Two kinds of file:

- **AsyncAPI** 2.x and 3.x documents, one per application (``info.title``, or ``x-service`` at
  the top level or in ``info``, names it; a name is matched to an observed component by its last
  part, e.g. ``billing`` → ``otel:service:billing``). 2.x: a channel's ``subscribe`` operation
  is what the application *sends*, ``publish`` what it *receives* (the 2.x spec's client's-eye
  view). 3.x: ``operations.*.action`` is ``send`` or ``receive`` on a ``channel`` reference
  (the channel's ``address``, else its key). The bus comes from the servers' ``protocol``
  (kafka, amqp → rabbitmq ...; kafka when unknown).
- A **YAML manifest**: a list whose items are ``{producer: X, channel: Y, consumers: [A, B]}``
  or strings ``"X -> Y"``: a declared dependency between X and Y (matched against observed
  edges in either direction, since people write arrows both ways).

Names that are not full ``system:kind:name`` components are resolved against the observed
components when the analysis runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tracemap.errors import TracemapError
from tracemap.model import EdgeKind, channel_component

#: AsyncAPI server protocols -> our bus names.
PROTOCOL_BUS = {"kafka": "kafka", "kafka-secure": "kafka", "amqp": "rabbitmq", "amqps": "rabbitmq",
                "sqs": "sqs", "sns": "sns", "nats": "nats", "pulsar": "pulsar",
                "googlepubsub": "pubsub", "jms": "jms", "eventbridge": "eventbridge"}


@dataclass(frozen=True, slots=True)
class Declaration:
    """One declared edge: ``src`` feeds ``dst`` (names possibly unresolved)."""

    src: str
    dst: str
    kind: str
    evidence: str


def load(paths: list[str]) -> list[Declaration]:
    """Every declaration in the given files; a file tracemap cannot read is an error."""
    out: list[Declaration] = []
    for path in paths:
        try:
            docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            raise TracemapError(f"{path}: cannot read declarations: {exc}") from None
        for doc in docs:
            if isinstance(doc, dict) and "asyncapi" in doc:
                out.extend(_asyncapi(doc, path))
            elif isinstance(doc, list):
                out.extend(_manifest(doc, path))
            else:
                raise TracemapError(
                    f"{path}: expected an AsyncAPI document (with an 'asyncapi' field) or a "
                    "manifest list of {producer, channel, consumers} items and 'X -> Y' strings")
    return out


def _asyncapi(doc: dict[str, Any], path: str) -> list[Declaration]:
    info = doc.get("info") or {}
    app = str(doc.get("x-service") or info.get("x-service") or info.get("title") or "")
    if not app:
        raise TracemapError(f"{path}: AsyncAPI document without info.title names no application")
    bus = _bus(doc)
    version = str(doc.get("asyncapi"))
    channels = doc.get("channels") or {}
    where = f"{path} (AsyncAPI {version}, {app})"
    out = []
    if version.startswith("2"):
        for name, item in channels.items():
            if not isinstance(item, dict):
                continue
            channel = channel_component(bus, str(name))
            if "subscribe" in item:  # 2.x: messages the application sends
                out.append(Declaration(app, channel, EdgeKind.EMITS, where))
            if "publish" in item:  # 2.x: messages the application receives
                out.append(Declaration(channel, app, EdgeKind.TRIGGERS, where))
    else:
        for op in (doc.get("operations") or {}).values():
            if not isinstance(op, dict):
                continue
            ref = str((op.get("channel") or {}).get("$ref", ""))
            key = ref.rsplit("/", 1)[-1]
            item = channels.get(key) or {}
            address = item.get("address") if isinstance(item, dict) else None
            channel = channel_component(bus, str(address or key))
            if op.get("action") == "send":
                out.append(Declaration(app, channel, EdgeKind.EMITS, where))
            elif op.get("action") == "receive":
                out.append(Declaration(channel, app, EdgeKind.TRIGGERS, where))
    return out


def _bus(doc: dict[str, Any]) -> str:
    for server in (doc.get("servers") or {}).values():
        if isinstance(server, dict) and server.get("protocol"):
            return PROTOCOL_BUS.get(str(server["protocol"]).lower(), str(server["protocol"]))
    return "kafka"


def _manifest(items: list[Any], path: str) -> list[Declaration]:
    out = []
    for i, item in enumerate(items):
        where = f"{path} item {i + 1}"
        if isinstance(item, str) and "->" in item:
            src, _, dst = item.partition("->")
            out.append(Declaration(src.strip(), dst.strip(), "depends", where))
        elif isinstance(item, dict) and item.get("channel"):
            channel = str(item["channel"])
            if item.get("producer"):
                out.append(Declaration(str(item["producer"]), channel, EdgeKind.EMITS, where))
            for consumer in item.get("consumers") or []:
                out.append(Declaration(channel, str(consumer), EdgeKind.TRIGGERS, where))
        else:
            raise TracemapError(f"{where}: expected 'X -> Y' or {{producer, channel, consumers}}, "
                                f"got {item!r}")
    return out
