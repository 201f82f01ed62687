"""Input text stays data: escaped in HTML and Markdown, stripped of escapes on terminals, bound
as parameters in SQL. The hostile names travel the whole way: ingest → correlate → render."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

import tracemap
from tracemap.cli import app
from tracemap.render import html, markdown
from tracemap.render.text import clean

EVIL_SERVICE = "<script>alert('svc')</script>"
EVIL_CALLEE = "javascript:alert(1)//\" onmouseover=\"alert(2)"
EVIL_SPAN = "GET /x | injected | cells |\n## heading"
EVIL_ERROR = "\x1b[2J\x1b]0;pwned\x07<img src=x onerror=alert(3)>'; DROP TABLE runs; --"


def _landscape(tmp_path: Path) -> Path:
    def span(sid: str, parent: str | None, name: str, kind: int, error: bool) -> dict:
        out = {"traceId": "ab" * 16, "spanId": sid, "name": name, "kind": kind,
               "startTimeUnixNano": "1767261600000000000",
               "endTimeUnixNano": "1767261600100000000",
               "status": {"code": 2, "message": EVIL_ERROR} if error else {}}
        if parent:
            out["parentSpanId"] = parent
        return out

    def request(service: str, spans: list[dict]) -> dict:
        return {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"spans": spans}]}]}

    path = tmp_path / "evil.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (
        request(EVIL_SERVICE, [span("01" * 8, None, EVIL_SPAN, 2, True),
                               span("02" * 8, "01" * 8, "call", 3, True)]),
        request(EVIL_CALLEE, [span("03" * 8, "02" * 8, "serve", 2, True)]))) + "\n")
    return path


def _script_free(page: str) -> tuple[str, str]:
    """The page's HTML with its three scripts cut out, and the JSON data block's text."""
    data = re.search(r"<script type='application/json' id='tm-data'>(.*?)</script>", page, re.S)
    assert data is not None
    scripts = [_asset("dagre.min.js"), _asset("report.js")]
    assert page.count("<script") == 3 and all(f"<script>{s}</script>" in page for s in scripts)
    for s in scripts:
        page = page.replace(f"<script>{s}</script>", "")
    return page.replace(data.group(0), ""), data.group(1)


def _asset(name: str) -> str:
    return (Path(html.__file__).parent / "assets" / name).read_text("utf-8")


def test_html_report_escapes_everything(tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "s.duckdb")
    tm.ingest([str(_landscape(tmp_path))])
    page = tm.report(tmp_path / "r.html").read_text()
    markup, data = _script_free(page)
    assert "<script" not in markup and "<img" not in markup
    assert 'onmouseover="' not in markup  # the quote that would open an attribute is escaped
    assert re.findall(r"\shref='([^']*)'", markup) == ["#sec-graph", "#sec-incidents",
                                                         "#sec-timelines"]
    assert "&lt;script&gt;alert(&#x27;svc&#x27;)&lt;/script&gt;" in markup
    # the data block cannot close itself or open markup, and still says exactly what came in
    assert not set(data) & {"<", ">", "&", "\u2028", "\u2029"}
    loaded = json.loads(data)
    ids = {n["id"] for n in loaded["graph"]["nodes"]}
    assert ids == {f"otel:service:{EVIL_SERVICE}", f"otel:service:{EVIL_CALLEE}"}
    errors = {b["error"] for t in loaded["timelines"] for b in t["data"]["bars"]}
    assert EVIL_ERROR in errors


def test_script_json_escapes_what_could_end_the_block() -> None:
    text = html.script_json({"name": "</script><script>alert(1)</script>\u2028&\u2029'\""})
    assert text == ('{"name":"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)'
                    '\\u003c/script\\u003e\\u2028\\u0026\\u2029\'\\""}')
    assert json.loads(text)["name"] == "</script><script>alert(1)</script>\u2028&\u2029'\""


def test_timeline_page_keeps_names_as_data(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    tracemap.open(db).ingest([str(_landscape(tmp_path))])
    out = tmp_path / "t.html"
    r = CliRunner().invoke(app, ["trace", "ab" * 16, "--db", str(db), "--format", "html",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    markup, data = _script_free(out.read_text())
    assert "<script" not in markup and "<img" not in markup
    bars = json.loads(data)["timelines"][0]["data"]["bars"]
    # each service's root span is folded into its run: the run's bar carries the span's name
    assert {b["component"] for b in bars} == {f"otel:service:{EVIL_SERVICE}",
                                             f"otel:service:{EVIL_CALLEE}",
                                             f"otel:operation:{EVIL_SERVICE}/call"}
    assert EVIL_SPAN in {b["name"] for b in bars if b["component"] ==
                         f"otel:service:{EVIL_SERVICE}"}


def test_markdown_keeps_table_shape(tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "s.duckdb")
    tm.ingest([str(_landscape(tmp_path))])
    text = markdown.render(tm.hidden())
    for line in text.splitlines():
        if line.startswith("| otel"):
            assert line.count(" | ") == 5, line  # six cells, none broken by the input
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_terminal_output_strips_control_sequences() -> None:
    assert clean(EVIL_ERROR) == "<img src=x onerror=alert(3)>'; DROP TABLE runs; --"


def test_quotes_and_sql_in_names_are_data(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    tm = tracemap.open(db)
    tm.ingest([str(_landscape(tmp_path))])
    result = tm.impact(f"otel:service:{EVIL_CALLEE}")
    assert [i.component for i in result.impacted] == [f"otel:service:{EVIL_SERVICE}"]
    assert tm.status().counts["runs"] == 2  # nothing was dropped
    r = CliRunner().invoke(app, ["failures", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output


def test_hostile_file_names_and_rejected_text_never_reach_the_terminal(tmp_path: Path) -> None:
    evil = tmp_path / "evil\x1b[2J\x1b]0;pwned\x07.jsonl"
    evil.write_text(json.dumps({"topic": "t", "partition": "\x1b]0;x\x07", "offset": 1})
                    + "\n{\x1b[5m not json\n")
    db = str(tmp_path / "s.duckdb")
    outputs = []
    for args in (["ingest", str(evil), "--db", db], ["rejects", "--db", db],
                 ["status", "--db", db], ["ingest", str(tmp_path / "gone\x1b[31m"), "--db", db]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code in (0, 1), r.output
        outputs.append(r.output)
    text = "".join(outputs)
    assert "\x1b" not in text and "\x07" not in text
    assert "evil.jsonl" in text  # shown, with the escape sequences taken out
    assert "expected integers" in text  # the reject is listed, its value quoted harmlessly
