"""trace on the issue-13 landscapes: every real thing once, the root is the earliest cause
(the workflow, not a consumer that starts before the record's CreateTime) and the critical
path starts there and crosses the message hop."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SCENARIOS
from tests.correlation.landscape import correlate

RUN = "6305f34a-ee33-4c95-8b8d-db6a1ac88ebd/24c39852-41f1-45b4-af74-eb75e1a2719c"


def test_workflow_is_the_root_and_the_path_crosses_the_topic(tmp_path: Path) -> None:
    tm = correlate(tmp_path, SCENARIOS / "unexported_producer")
    result = tm.trace("kafka:msg:progress/0/1")
    assert result.root == result.summary["root_uid"]
    assert result.root.startswith("temporal:run:") and "smorgasbord" not in result.root
    root = next(e for e in result.entities if e["uid"] == result.root)
    assert root["component"] == "temporal:workflow:smorgasbord"
    # the workflow's last wait is its 1 s timer, which ends after the consumers
    assert result.critical_path == [result.root, f"temporal:step:{RUN}/7"]
    # the child workflow once (its run; the parent's step for it is folded into it), and
    # each consumer once (its run; the root span is folded into it)
    components = [e["component"] for e in result.entities]
    assert components.count("temporal:workflow:signalTarget") == 1
    assert components.count("otel:service:tracker") == 2  # two records, two consumer runs
    assert not [e for e in result.entities if e["kind"] == "step"
                and e["component"].startswith("otel:operation:tracker/")]


def test_linked_consumers_are_not_roots(tmp_path: Path) -> None:
    tm = correlate(tmp_path, SCENARIOS / "otel_messaging")
    result = tm.trace("kafka:msg:orders/0/7")
    # billing's consumer span starts 8 ms before the record: still not the cause
    assert result.root == "otel:run:6e0c63257de34c92bf9efcd03927272e/f067aa0ba902b7a1"
    # shipping's batch span ends last: the path crosses the hop to it
    assert result.critical_path == [
        result.root, "otel:span:6e0c63257de34c92bf9efcd03927272e/00f067aa0ba902b7",
        "kafka:msg:orders/0/7", "otel:run:5b8efff798038103d269b633813fc60c/b9c7c989f97918e1"]
