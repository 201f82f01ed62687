"""The report and a timeline in a real headless Chromium (Debian's package, driven by Playwright).

Checks what a person would see: graph nodes and timeline bars drawn, a click on a node
highlighting exactly its upstream and downstream, search, hostile names shown as text, and
neither a console error nor any network request. Without Chromium the tests skip; under CI
(``CI=true``) a missing Chromium is a failure, so CI cannot pass without running them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from typer.testing import CliRunner

from tests.test_injection import EVIL_SERVICE, _landscape
from tracemap.cli import app

CHROMIUM = "/usr/bin/chromium"
#: The flags of scripts/screenshot_report.sh: nothing in the browser reaches for the network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _need(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing; .ci/run installs it (apt-get install chromium; "
                    "pip install -e '.[dev]')")
    pytest.skip(f"{what} is missing (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        _need("Chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("Playwright for Python")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=FLAGS)
        yield b
        b.close()


class Page:
    """A page opened from a file, with every console message, error and request recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.url = path.resolve().as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type in ("error", "warning")
                     and self.errors.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=yes]", timeout=15_000)

    def data(self) -> dict[str, Any]:
        return json.loads(self.page.locator("#tm-data").text_content())

    def ids(self, selector: str) -> set[str]:
        return set(self.page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.id)"))

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url]  # the file itself, nothing else
        assert self.dialogs == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    r = CliRunner().invoke(app, ["demo", "--db", str(out / "demo.duckdb"), "-o",
                                 str(out / "report.html")])
    assert r.exit_code == 0, r.output
    return out


def test_report_draws_the_graph_and_a_click_shows_neighbours(browser: Any, demo: Path) -> None:
    page = Page(browser, demo / "report.html")
    data = page.data()
    graph = nx.DiGraph((e["source"], e["target"]) for e in data["graph"]["edges"])
    graph.add_nodes_from(n["id"] for n in data["graph"]["nodes"])
    assert page.ids("#graph g.node") == set(graph)
    assert page.page.locator("#graph path.edge.hidden-dep").count() == sum(
        e["hidden"] for e in data["graph"]["edges"])
    target = "otel:service:order-worker"
    page.page.locator("#graph g.node", has_text="otel:service:order-worker").first.click()
    assert page.ids("#graph g.node.sel") == {target}
    assert page.ids("#graph g.node.down") == nx.descendants(graph, target)
    assert page.ids("#graph g.node.up") == nx.ancestors(graph, target) - nx.descendants(
        graph, target)
    assert page.ids("#graph g.node.down")  # the demo's order worker does reach something
    panel = page.page.locator("#graph-panel")
    assert panel.locator("h3").text_content() == target
    assert panel.locator("table").first.locator("tbody tr").count() == len(
        nx.descendants(graph, target))
    page.page.fill("#graph-search", "billing")
    assert page.ids("#graph g.node.match") == {n for n in graph if "billing" in n}
    page.assert_clean()


def test_report_draws_incidents_and_their_timelines(browser: Any, demo: Path) -> None:
    page = Page(browser, demo / "report.html")
    data = page.data()
    assert page.page.locator("#incidents .incident").count() == len(data["incidents"]) > 0
    first = data["timelines"][0]["data"]
    assert page.page.locator("#timeline g.row").count() == len(first["bars"])
    assert page.page.locator("#timeline .bar").count() > 0
    link = page.page.locator("#incidents a.tl-link").nth(1)
    index = int(re.sub(r"\D", "", link.get_attribute("href")))
    link.click()
    shown = data["timelines"][index]["data"]
    page.page.wait_for_function("x => document.querySelector('#timeline h3').textContent"
                                ".endsWith(x)", arg=shown["execution"])
    assert page.page.locator("#timeline g.row").count() == len(shown["bars"])
    page.assert_clean()


def test_timeline_page_marks_the_critical_path_and_shows_evidence(browser: Any,
                                                                   demo: Path) -> None:
    out = demo / "order.html"
    r = CliRunner().invoke(app, ["trace", "ORD-1032", "--db", str(demo / "demo.duckdb"),
                                 "--format", "html", "-o", str(out)])
    assert r.exit_code == 0, r.output
    page = Page(browser, out)
    tl = page.data()["timelines"][0]["data"]
    rows = page.page.locator("#timeline g.row")
    assert rows.count() == len(tl["bars"]) > 10
    assert page.page.locator("#timeline g.row.crit").count() == len(tl["critical_path"]) > 1
    assert page.page.locator("#timeline g.row.bad").count() == sum(
        b["status"] in ("failed", "timed_out") for b in tl["bars"])
    assert {r["lane"] for r in tl["bars"]} >= {"kafka", "otel", "temporal"}
    assert page.page.locator("#timeline text.lane-name").count() >= 3
    hops = [a for a in tl["arrows"] if a["kind"] in ("emits", "triggers", "consumes")]
    assert hops and page.page.locator("#timeline path.hop").count() >= len(hops)
    rows.nth(3).click()
    assert page.page.locator(".tl-detail h4").first.text_content() == tl["bars"][3]["component"]
    page.assert_clean()


def test_hostile_names_are_shown_as_text(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    for args in (["ingest", str(_landscape(tmp_path)), "--db", str(db)],
                 ["report", "-o", str(tmp_path / "r.html"), "--db", str(db)]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
    page = Page(browser, tmp_path / "r.html")
    assert f"otel:service:{EVIL_SERVICE}" in page.ids("#graph g.node")
    assert page.page.locator("img").count() == 0
    assert page.page.locator("body script").count() == 3  # the data block and our two scripts
    assert EVIL_SERVICE in page.page.locator("#graph").text_content()
    page.assert_clean()
