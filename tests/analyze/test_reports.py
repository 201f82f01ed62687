"""Golden renderings (JSON and Markdown) of every analyzer on the bundled sample_traces."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest

import tracemap
from tests.golden import check_golden_text
from tracemap.analyze.plain import plain
from tracemap.render import json as render_json
from tracemap.render import markdown

SAMPLES = Path(__file__).parents[2] / "sample_traces"
ANSWERS = json.loads((SAMPLES / "answers.json").read_text())
DECLARED = sorted(str(p) for p in (SAMPLES / "declared").rglob("*.yaml"))


@pytest.fixture(scope="module")
def tm(tmp_path_factory: pytest.TempPathFactory) -> tracemap.Tracemap:
    store = tracemap.open(tmp_path_factory.mktemp("samples") / "s.duckdb")
    assert store.ingest([str(SAMPLES / "exports")]).totals["rejected"] == 0
    return store


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _results(tm: tracemap.Tracemap) -> dict[str, object]:
    out: dict[str, object] = {"hidden": tm.hidden(DECLARED),
                              "impact": tm.impact(ANSWERS["impact"]["target"])}
    for incident in ANSWERS["incidents"]:
        w = incident["window"]
        out[f"failures-{incident['id']}"] = tm.failures(since=_when(w["since"]),
                                                        until=_when(w["until"]))
    deploy = next(i for i in ANSWERS["incidents"] if i["id"] == "bad-deploy")["window"]
    start, end = _when(deploy["since"]), _when(deploy["until"])
    out["diff"] = tm.diff((start - (end - start), start), (start, end))
    return out


NAMES = ["hidden", "impact", "diff", *(f"failures-{i['id']}" for i in ANSWERS["incidents"])]


@pytest.mark.parametrize("name", NAMES)
def test_rendering_is_golden(tm: tracemap.Tracemap, name: str, update_golden: bool) -> None:
    result = _results(tm)[name]
    check_golden_text(f"reports/{name}.json", _portable(render_json.render(result) + "\n"),
                      update_golden)
    check_golden_text(f"reports/{name}.md", _portable(markdown.render(result)), update_golden)


def _portable(text: str) -> str:
    """Declaration files are named by absolute path: the checkout's folder is not the golden's."""
    root = str(SAMPLES.parent)
    return text.replace(root, "<repo>").replace(root.replace("_", "\\_"), "<repo>")


def test_results_are_plain_as_asdict_makes_them(tm: tracemap.Tracemap) -> None:
    results = {**_results(tm), "risks": tm.risks(), "paths": tm.paths()}
    for name, result in results.items():
        assert plain(result) == asdict(result), name
