"""EventBridge events as an archive rule delivers them: one event envelope per line.

billing puts its events on the account's ``default`` bus; a catch-all archive rule there has a
Kinesis Data Firehose target that writes each event to S3 as one JSON line (newline delimiter
enabled); the file is what ``aws s3 cp`` of the deliveries gives. The envelope is the one
every target receives: ``version, id, detail-type, source, account, time`` (second
precision), ``region, resources, detail``.
"""

from __future__ import annotations

import orjson

from tracemap.samples.records import BusEvent
from tracemap.samples.writers import Sink

FORMAT = "eventbridge_json"


def write(sink: Sink, events: list[BusEvent], rel: str) -> None:
    for event in events:
        sink.append(FORMAT, rel, orjson.dumps(event.event))
