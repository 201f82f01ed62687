"""CloudEvents in the JSON event format: structured events, batches, JSON lines, conformance YAML.

Covers CloudEvents 1.0 structured mode (``application/cloudevents+json``: one event object),
batch mode (``application/cloudevents-batch+json``: a JSON array of them), JSON lines of
either (event archives, Knative/Event Grid dead-letter dumps), and the older attribute
spellings: 0.3 (``schemaurl``, ``datacontentencoding: base64``), 0.2 (``contenttype``,
``schemaurl``, as Azure Event Grid wrote them in 2018) and 0.1 (``eventID``, ``eventType``,
``cloudEventsVersion``, ``eventTime``, ``extensions: {}``). The cloudevents/conformance
test vectors (multi-document YAML of ``{ContextAttributes, Data}``) read the same way.

Rows: one message per event, uid ``cloudevents:msg:<source>/<id>`` (the spec makes
``source`` + ``id`` unique), key ``message_id`` = ``<source>/<id>`` (what kafka_kcat gives a
binary-mode ``ce_id``/``ce_source`` record, so both meet). Channel: a structured event does
not say which broker or topic carried it, and ``source`` is the producer and ``subject`` the
thing it is about; consumers subscribe by ``type`` (Knative triggers, Event Grid
subscriptions filter on it), so the channel is the type: ``cloudevents:type:<type>``
(``model.channel_component`` has no CloudEvents entry and would call it a "destination").
Dapr pub/sub is the exception: it wraps every published message in a CloudEvent of one type
(``com.dapr.event.sent`` unless the publisher overrides it) and adds extensions naming the
channel, ``pubsubname`` (the pub/sub component) and ``topic`` (dapr/components-contrib
``pubsub/envelope.go``; docs.dapr.io "Publishing & subscribing messages with CloudEvents"). An
event carrying both is on that topic: ``dapr:topic:<pubsubname>/<topic>`` (the component name
qualifies the topic, as two components may each have an ``orders`` topic); the type stays the
event type.

Extension attributes are kept with their JSON types in ``detail.extensions``; the header
key rules run over them (as they would over binary-mode headers), which turns the
distributed-tracing ``traceparent`` (Dapr writes it, and the same value as ``traceid``) into
trace/span ids and ``correlationid`` / ``causationid`` into keys. ``partitionkey`` becomes
the message key. ``data_base64`` (and 0.3 base64 ``data``) is decoded; JSON data, also JSON
sent as a string, is decoded for the payload key rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial
from typing import Any

import yaml

from ingest._json import compact, elements, head_object, json_values, raw_json, shape, unique
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    b64_text,
    cap_payload,
    first_json_value,
    loads,
    us_from_iso,
)
from tracemap.model import KeyKind, Status, channel_component, component

#: libyaml when installed: ten times faster, and it refuses nesting past 1000 levels
#: where the pure-Python loader recurses until RecursionError.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NAME = "cloudevents_json"
#: Each JSON line is an event or a batch, mapped without the others: a large file is
#: parsed in ranges of lines (``tracemap.load``).
LINE_RECORDS = True

#: Attribute spellings of older spec versions -> the 1.0 name.
RENAMES: dict[str, dict[str, str]] = {
    "0.1": {"eventID": "id", "eventType": "type", "cloudEventsVersion": "specversion",
            "eventTime": "time", "schemaURL": "dataschema", "contentType": "datacontenttype",
            "eventTypeVersion": "eventtypeversion"},
    "0.2": {"contenttype": "datacontenttype", "schemaurl": "dataschema"},
    "0.3": {"schemaurl": "dataschema"},
}
#: Context attributes of the spec (any version, after renaming); everything else is an
#: extension.
CONTEXT = frozenset({"id", "source", "specversion", "type", "datacontenttype", "dataschema",
                     "subject", "time", "datacontentencoding", "eventtypeversion"})
DATA_FIELDS = frozenset({"data", "data_base64"})
#: Context attributes kept in ``detail`` besides the extensions.
DETAIL_ATTRIBUTES = ("specversion", "source", "subject", "dataschema", "datacontenttype",
                     "datacontentencoding", "eventtypeversion")


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")):
        return b"ContextAttributes:" in head and b"specversion" in head
    obj = head_object(head)
    if obj is not None:
        return _is_event(obj)
    return (b'"specversion"' in text and b'"type"' in text
            and not (b'"topic"' in text and b'"offset"' in text))


def _is_event(obj: dict[str, Any]) -> bool:
    if "specversion" in obj:
        return "id" in obj and ("type" in obj or "source" in obj)
    return "cloudEventsVersion" in obj and "eventID" in obj


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    head = first_json_value(src.head())
    values = (json_values(src, b, "a CloudEvent (JSON object with specversion, id, source, "
                          "type) or a batch of them")
              if head.startswith((b"{", b"[")) else _yaml_events(src, b))
    add = partial(add_event, b, src)
    for where, value in values:
        for loc, event in elements(value, where, "event"):
            b.record(add, event, loc, raw=raw_json)
            if b.ready():
                yield b.take()
    yield b.take()


def _yaml_events(src: Source, b: BatchBuilder) -> Iterator[tuple[str, Any]]:
    """Conformance vectors: YAML documents of ``{ContextAttributes: {...}, Data: ...}``."""
    text = src.read_document().decode("utf-8", "replace")
    number = 0
    try:
        for number, doc in enumerate(yaml.load_all(text, Loader=YAML_LOADER), start=1):
            if doc is None:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("ContextAttributes"), dict):
                event = {k: _yaml_scalar(k, v) for k, v in doc["ContextAttributes"].items()}
                if "Data" in doc:
                    event["data"] = doc["Data"]
                yield f"document {number}", event
            else:
                yield f"document {number}", doc  # rejected by add_event with its shape
    except (yaml.YAMLError, RecursionError) as exc:
        b.read()
        b.reject(f"document {number + 1}", f"expected a YAML document: {exc}".replace("\n", " "))


def _yaml_scalar(name: str, value: Any) -> Any:
    # YAML reads ``specversion: 1.0`` as a float and unquoted times as datetimes.
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if name == "specversion" and isinstance(value, float):
        return repr(value)
    return value


def add_event(b: BatchBuilder, src: Source, event: Any, where: str) -> str | None:
    """Add one CloudEvent (a decoded structured-mode object); returns why not, or None."""
    if not isinstance(event, dict):
        return f"expected a CloudEvent object, got {shape(event)}"
    version = str(event.get("specversion") or event.get("cloudEventsVersion") or "")
    renames = RENAMES.get(version, {})
    attrs = {renames.get(k, k): v for k, v in event.items()}
    if version == "0.1" and isinstance(attrs.get("extensions"), dict):
        attrs.update(attrs.pop("extensions"))
    ce_id, ce_source, ce_type = attrs.get("id"), attrs.get("source"), attrs.get("type")
    missing = [n for n, v in (("specversion", version), ("id", ce_id), ("source", ce_source),
                              ("type", ce_type)) if v in (None, "")]
    if missing:
        return f"expected the required CloudEvents attributes, missing {', '.join(missing)}"
    try:
        produced = us_from_iso(attrs.get("time"))
    except ValueError:
        return f"attribute 'time': expected an RFC 3339 time, got {attrs.get('time')!r}"
    ce_id, ce_source, ce_type = str(ce_id), str(ce_source), str(ce_type)
    extensions = {k: v for k, v in attrs.items() if k not in CONTEXT and k not in DATA_FIELDS}
    data, encoded = _data(attrs)
    uid = f"cloudevents:msg:{ce_source}/{ce_id}"
    text, cut = cap_payload(data)
    key = extensions.get("partitionkey")
    channel = dapr_topic(extensions)
    comp = (channel_component("dapr", channel) if channel
            else component("cloudevents", "type", ce_type))
    b.message(uid=uid, system="cloudevents", component=comp,
              channel=channel or ce_type, event_type=ce_type,
              msg_key=None if key is None else str(key), produced_at=produced,
              status=Status.OK, headers=None, payload=text, location=where,
              detail=compact({**{a: attrs.get(a) for a in DETAIL_ATTRIBUTES},
                              "extensions": extensions or None,
                              "data_encoding": encoded, "payload_truncated": cut or None}))
    b.keys(uid, unique([(KeyKind.MESSAGE_ID, f"{ce_source}/{ce_id}"),
                        *src.rules.headers({k: _text(v) for k, v in extensions.items()}),
                        (KeyKind.MESSAGE_KEY, key), *src.rules.payload(data)]))
    return None


def dapr_topic(extensions: dict[str, Any]) -> str | None:
    """``<pubsubname>/<topic>`` of an event Dapr pub/sub enveloped, else None."""
    pubsub, topic = extensions.get("pubsubname"), extensions.get("topic")
    if isinstance(pubsub, str) and isinstance(topic, str) and pubsub.strip() and topic.strip():
        return f"{pubsub.strip()}/{topic.strip()}"
    return None


def _data(attrs: dict[str, Any]) -> tuple[Any, str | None]:
    """The event data decoded (base64 undone, JSON parsed) and how it was encoded."""
    content_type = str(attrs.get("datacontenttype") or "application/json").lower()
    if "data_base64" in attrs:
        raw, encoded = b64_text(attrs["data_base64"]), "base64"
    elif str(attrs.get("datacontentencoding") or "").lower() == "base64":
        raw, encoded = b64_text(attrs.get("data")), "base64"
    else:
        raw, encoded = None, None
    if encoded:
        if raw is None:
            return attrs.get("data_base64", attrs.get("data")), "base64 (undecodable)"
        data: Any = raw.decode("utf-8", "replace")
    else:
        data = attrs.get("data")
    base = content_type.split(";", 1)[0].strip()
    if isinstance(data, str) and (base == "application/json" or base.endswith("+json")):
        try:
            data = loads(data)
        except ValueError:
            pass  # a JSON string value, or text mislabelled as JSON: keep it as given
    return data, encoded


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return raw_json(value)
