"""kafka_kcat: kcat's ``% `` status lines, captured with the records, are skipped, not rejected.

``kcat -J -G ...`` run in a console and saved with ``2>&1`` interleaves kcat's stderr
(``KC_INFO``: ``% Waiting for group rebalance``, ``% Reached end of topic ...``) with the JSON
envelopes. The fast path's parity on such files is in test_fast_paths.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import kafka_kcat
from tests.conftest import FIXTURES
from tests.golden import counts_and_rejects, normalized_rows

CONSOLE = FIXTURES / "kafka_kcat" / "kcat_J_G_with_stderr.txt"


def test_console_capture_loads_its_records_and_skips_status_lines() -> None:
    rows = normalized_rows(CONSOLE)
    src = rows["source"]
    assert (src["format"], src["chosen_by"]) == ("kafka_kcat", "detected")
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (7, 2, 0, 5)
    assert [(m["uid"], m["location"], m["payload"], m["produced_at"])
            for m in rows["messages"]] == [
        ("kafka:msg:noop/0/15", "line 4", "Sample message value",
         "2025-08-04T12:41:46.587000+00:00"),
        ("kafka:msg:noop/0/16", "line 6", "Sample message value",
         "2025-08-04T12:41:48.412000+00:00"),
    ]
    assert "rejects" not in rows


def test_other_lines_that_are_not_json_stay_rejects(tmp_path: Path) -> None:
    record = CONSOLE.read_text().splitlines()[3]
    path = tmp_path / "console.txt"
    path.write_text("\n".join([
        "% Waiting for group rebalance",
        "%4|1754311306.587|MAXPOLL|rdkafka#consumer-1| [thrd:main]: poll interval exceeded",
        record,
        "%no space after the percent sign",
    ]) + "\n")
    reason = ("expected a kcat -J JSON object: unexpected character, expected a JSON value: "
              "line 1 column 1 (char 0)")
    assert counts_and_rejects(path, fmt="kafka_kcat") == (
        (4, 1, 2, 1), [("line 2", reason), ("line 4", reason)])


@pytest.mark.parametrize(("head", "chosen"), [
    (CONSOLE.read_bytes(), ("kafka_kcat", "first record, line 4; after 3 kcat status lines")),
    (b"% Reached end of topic noop [0] at offset 15\r\n"
     b'{"topic":"noop","partition":0,"offset":15,"payload":"x"}\r\n',
     ("kafka_kcat", "first record, line 2; after 1 kcat status line")),
    # status lines only (the head ends before any record), or followed by something else
    (b"% Waiting for group rebalance\n" * 3, None),
    (b'% Waiting for group rebalance\n{"resourceSpans": []}\n',
     ("otlp_json", "first record, line 2; after 1 kcat status line")),
])
def test_detection_passes_over_status_lines(head: bytes, chosen: tuple[str, str] | None,
                                            tmp_path: Path) -> None:
    import ingest
    from ingest.base import Source
    from tracemap.errors import UnknownFormatError

    path = tmp_path / "console.txt"
    path.write_bytes(head)
    assert kafka_kcat.sniff(head, str(path)) is False  # the head alone does not settle it
    if chosen is None:
        with pytest.raises(UnknownFormatError):
            ingest.detection(Source(path))
    else:
        module, rule = ingest.detection(Source(path))
        assert (module.NAME, rule) == chosen


def test_copied_terminal_is_detected_past_its_prompt_and_the_prompt_is_skipped() -> None:
    import ingest
    from ingest.base import Source

    path = FIXTURES / "kafka_kcat" / "kcat_J_shell_prompt_first_line.txt"
    module, rule = ingest.detection(Source(path))
    assert (module.NAME, rule) == ("kafka_kcat", "first record, line 2; after 1 shell prompt")
    counts, rejects = counts_and_rejects(path)
    assert (counts, rejects) == ((2, 1, 0, 1), [])
