"""Amazon SQS messages as AWS Lambda receives them: ``{"Records": [...]}`` events.

The SQS event source mapping delivers ``{"Records": [{messageId, receiptHandle, body,
attributes{ApproximateReceiveCount, SentTimestamp (epoch ms as a string), SenderId,
ApproximateFirstReceiveTimestamp, AWSTraceHeader?, MessageGroupId?, MessageDeduplicationId?,
SequenceNumber?, DeadLetterQueueSourceArn?}, messageAttributes{name: {stringValue |
binaryValue (base64), dataType}}, md5OfBody, eventSource: "aws:sqs", eventSourceARN,
awsRegion}]}`` (AWS Lambda developer guide, "Using Lambda with Amazon SQS"; events logged by
functions or saved as test events, one per file or one per line).

Rows: one message per record, uid ``sqs:msg:<messageId>``, channel = the queue name from
``eventSourceARN``, component ``sqs:queue:<name>``, ``produced_at`` = ``SentTimestamp``,
``msg_key`` = ``MessageGroupId`` (FIFO). ``messageAttributes`` are the headers (binary values
decoded when they are UTF-8, else kept as base64). An ``ApproximateReceiveCount`` above 1
means earlier receives were not deleted (the consumer failed or timed out): the row's status
is ``retried`` and the count is in ``detail.receive_count``.

Keys: ``message_id``; the X-Ray ``AWSTraceHeader`` (``Root=1-5759e988-bd86...;Parent=...``)
gives the W3C trace id (the root without its version and dashes) and the sender's span id;
a JSON body goes through the payload key rules; an SNS notification envelope in the body
(``{"Type": "Notification", "MessageId", "TopicArn", "Message", "MessageAttributes"}``) adds
the SNS message id and runs the rules over its attributes and decoded message; an EventBridge
envelope in the body adds its event id (what eventbridge_json keys the event with).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from ingest._json import (
    at,
    compact,
    elements,
    envelope_records,
    json_values,
    raw_json,
    shape,
    unique,
)
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    b64_text,
    cap_payload,
    first_json_value,
    loads,
    us_from_ms,
    xray_keys,
)
from ingest.kafka_kcat import event_type
from tracemap.model import KeyKind, Status, channel_component

NAME = "sqs_lambda"

#: ``attributes`` kept in ``detail`` under our names.
ATTRIBUTE_DETAIL = {"SenderId": "sender_id", "MessageGroupId": "message_group_id",
                    "MessageDeduplicationId": "deduplication_id",
                    "SequenceNumber": "sequence_number",
                    "DeadLetterQueueSourceArn": "dead_letter_source_arn",
                    "ApproximateFirstReceiveTimestamp": "first_receive_ms"}


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    return (text.startswith((b"{", b"[")) and b'"Records"' in text
            and (b'"aws:sqs"' in text or b'"receiptHandle"' in text))


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    add = partial(_add_record, b, src)
    for where, value in json_values(src, b, "a Lambda SQS event (JSON object with 'Records')"):
        for loc, event in elements(value, where):
            records = envelope_records(b, event, loc, "Records", list,
                                       "a Lambda SQS event with a 'Records' list")
            if records is None:
                continue
            for i, rec in enumerate(records):
                b.record(add, rec, at(loc, f"Records[{i}]"), raw=raw_json)
                if b.ready():
                    yield b.take()
    yield b.take()


def _add_record(b: BatchBuilder, src: Source, rec: Any, where: str) -> str | None:
    """Add one SQS record; returns why it is unusable, or None."""
    if not isinstance(rec, dict):
        return f"expected an SQS record object, got {shape(rec)}"
    message_id = rec.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return "field 'messageId': expected a non-empty string"
    attrs = rec.get("attributes") if isinstance(rec.get("attributes"), dict) else {}
    try:
        produced = us_from_ms(attrs.get("SentTimestamp"))
        count = int(attrs["ApproximateReceiveCount"]) if attrs.get(
            "ApproximateReceiveCount") not in (None, "") else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity
        return ("fields 'attributes.SentTimestamp'/'ApproximateReceiveCount': expected "
                f"integers, got {attrs.get('SentTimestamp')!r}/"
                f"{attrs.get('ApproximateReceiveCount')!r}")
    arn = str(rec.get("eventSourceARN") or "")
    queue = arn.rsplit(":", 1)[-1] if arn else "unknown"
    headers, types = _attributes(rec.get("messageAttributes"))
    body = rec.get("body")
    decoded = _json(body)
    sns = decoded if isinstance(decoded, dict) and decoded.get("Type") == "Notification" else None
    inner = _json(sns.get("Message")) if sns else None
    bridge = decoded if isinstance(decoded, dict) and "detail-type" in decoded else None
    uid = f"sqs:msg:{message_id}"
    text, cut = cap_payload(decoded if decoded is not None else body)
    group = attrs.get("MessageGroupId")
    group = group if isinstance(group, str) and group else None
    b.message(
        uid=uid, system="sqs", component=channel_component("sqs", queue), channel=queue,
        event_type=(event_type(headers, inner if sns else decoded)
                    or (str(bridge["detail-type"]) if bridge else None)),
        msg_key=group, produced_at=produced,
        status=Status.RETRIED if count and count > 1 else Status.OK,
        headers=headers, payload=text, location=where,
        detail=compact({"receive_count": count, "queue_arn": arn or None,
                        "region": rec.get("awsRegion"),
                        **{ATTRIBUTE_DETAIL[k]: int(v) if k.endswith("Timestamp")
                           and str(v).isdigit() else v
                           for k, v in attrs.items() if k in ATTRIBUTE_DETAIL},
                        "attribute_types": types or None, "md5_of_body": rec.get("md5OfBody"),
                        "sns_topic_arn": sns.get("TopicArn") if sns else None,
                        "sns_message_id": sns.get("MessageId") if sns else None,
                        "payload_truncated": cut or None}),
    )
    pairs = [(KeyKind.MESSAGE_ID, message_id)]
    if isinstance(attrs.get("AWSTraceHeader"), str):
        pairs += xray_keys(attrs["AWSTraceHeader"])
    pairs += [*src.rules.headers(headers), *src.rules.payload(decoded)]
    if sns:
        pairs.append((KeyKind.MESSAGE_ID, sns.get("MessageId")))
        sns_attrs = sns.get("MessageAttributes")
        if isinstance(sns_attrs, dict):
            pairs += src.rules.headers({k: v.get("Value") for k, v in sns_attrs.items()
                                        if isinstance(v, dict)})
        pairs += src.rules.payload(inner)
    if bridge:
        pairs.append((KeyKind.MESSAGE_ID, bridge.get("id")))
    b.keys(uid, unique(pairs))
    return None


def _attributes(raw: Any) -> tuple[dict[str, str], dict[str, str]]:
    """``messageAttributes`` as (headers name -> text, name -> dataType when not String)."""
    headers: dict[str, str] = {}
    types: dict[str, str] = {}
    if not isinstance(raw, dict):
        return headers, types
    for name, attr in raw.items():
        if not isinstance(attr, dict):
            continue
        data_type = str(attr.get("dataType") or attr.get("DataType") or "String")
        value = attr.get("stringValue", attr.get("StringValue"))
        binary = attr.get("binaryValue", attr.get("BinaryValue"))
        if value is None and isinstance(binary, str):
            raw_bytes = b64_text(binary)
            try:
                value = raw_bytes.decode("utf-8") if raw_bytes is not None else binary
            except UnicodeDecodeError:
                value = binary  # not text: keep the base64 as given
        if value is not None:
            headers[str(name)] = str(value)
        if data_type != "String":
            types[str(name)] = data_type
    return headers, types


def _json(text: Any) -> Any:
    if isinstance(text, str) and text.lstrip()[:1] in ("{", "["):
        try:
            return loads(text)
        except ValueError:
            return None
    return None
