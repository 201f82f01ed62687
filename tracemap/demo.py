"""The demo: the bundled Acme Shop landscape through every analysis, checked against its answers.

``Demo`` ingests ``sample_traces/exports``, correlates, and runs hidden dependencies (with the
landscape's AsyncAPI declarations), the root-cause analysis of each planted incident, one
impact report, the planted export conventions (edges the component graph must and must not
hold), one stitched execution (an order traced by its id) and the HTML report. Each
finding is compared with ``sample_traces/answers.json``, which the generator derived from the
landscape's definition, so the demo shows what tracemap found and whether that is the planted
answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tracemap.analyze.failures import FailuresResult
from tracemap.analyze.hidden import HiddenResult
from tracemap.analyze.impact import ImpactResult
from tracemap.analyze.paths import PathsResult
from tracemap.analyze.risks import RisksResult
from tracemap.analyze.trace import TraceResult
from tracemap.api import Tracemap
from tracemap.errors import TracemapError
from tracemap.load import IngestResult, Progress


def sample_dir() -> Path:
    """Where the bundled sample landscape is: inside an installed wheel, or in the checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_sample_traces", here.parent / "sample_traces"):
        if (candidate / "answers.json").is_file():
            return candidate
    raise TracemapError("the bundled sample_traces/ is missing from this installation; "
                        "reinstall tracemap, or run from a clone of its repository")


@dataclass(frozen=True, slots=True)
class Check:
    """One planted answer and whether tracemap found it."""

    what: str
    expected: Any
    found: Any
    ok: bool


@dataclass(frozen=True, slots=True)
class IncidentFinding:
    id: str
    title: str
    story: str
    result: FailuresResult
    checks: list[Check]


@dataclass(slots=True)
class DemoResult:
    db: str
    ingest: IngestResult | None = None
    correlation: dict[str, Any] = field(default_factory=dict)
    hidden: HiddenResult | None = None
    hidden_checks: list[Check] = field(default_factory=list)
    incidents: list[IncidentFinding] = field(default_factory=list)
    impact: ImpactResult | None = None
    impact_checks: list[Check] = field(default_factory=list)
    convention_checks: list[Check] = field(default_factory=list)
    trace_id: str | None = None
    trace_checks: list[Check] = field(default_factory=list)
    risks: RisksResult | None = None
    risks_checks: list[Check] = field(default_factory=list)
    paths: PathsResult | None = None
    paths_checks: list[Check] = field(default_factory=list)
    report: Path | None = None

    @property
    def checks(self) -> list[Check]:
        return [*self.hidden_checks, *(c for i in self.incidents for c in i.checks),
                *self.impact_checks, *self.convention_checks, *self.trace_checks,
                *self.risks_checks, *self.paths_checks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db, "report": str(self.report) if self.report else None,
            "correlation": self.correlation, "trace_id": self.trace_id,
            "checks": [{"what": c.what, "expected": c.expected, "found": c.found, "ok": c.ok}
                       for c in self.checks],
        }


def _planted_detail(want: dict[str, Any], finding: dict[str, Any]) -> Any:
    """What identifies a planted hazard, read from the answer or from a finding's JSON."""
    hazard = want["hazard"]
    examples = finding.get("examples")
    if hazard == "duplicate_delivery":
        return (sorted(finding["messages"]) if examples is None
                else sorted({e["message"] for e in examples}))
    if hazard == "out_of_order":
        return (finding["message"] if examples is None else
                next((e["message"] for e in examples
                      if e["overtaken_by"] == want["overtaken_by"]), None))
    if hazard == "dead_letter":
        return (finding["message"] if examples is None else
                next((e["uid"] for e in examples if e["uid"] == want["message"]), None))
    if hazard == "spanning_workflow":
        return sorted(finding["systems"] if examples is None
                      else (s["system"] for s in finding["systems"]))
    if hazard == "choreography":
        return finding["route"]
    if hazard == "duplicate_effect":
        return finding["effects_on"]
    return finding["component"]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Demo:
    """The tour, one step at a time, so the CLI can show each as it completes."""

    def __init__(self, db: str, samples: Path | None = None) -> None:
        self.samples = samples or sample_dir()
        self.answers = json.loads((self.samples / "answers.json").read_text())
        self.tm = Tracemap(db)
        self.result = DemoResult(db=db)

    def ingest(self, progress: Progress | None = None) -> IngestResult:
        self.result.ingest = self.tm.ingest([str(self.samples / "exports")], progress=progress)
        return self.result.ingest

    def correlate(self) -> dict[str, Any]:
        self.result.correlation = self.tm.correlate().to_dict()
        return self.result.correlation

    def hidden(self) -> HiddenResult:
        declared = sorted(str(p) for p in (self.samples / "declared").rglob("*.yaml"))
        found = self.tm.hidden(declared)
        seen = {(h.source, h.target) for h in found.hidden}
        for want in self.answers["hidden_dependencies"]:
            pair = (want["source"], want["target"])
            self.result.hidden_checks.append(Check(
                f"hidden dependency {pair[0]} → {pair[1]}", list(pair),
                list(pair) if pair in seen else None, pair in seen))
        flagged = [d for d in self.answers.get("declared_dependencies", [])
                   if (d["source"], d["target"]) in seen]
        self.result.hidden_checks.append(Check(
            "no declared dependency flagged as hidden", [], flagged, not flagged))
        self.result.hidden = found
        return found

    def incidents(self) -> list[IncidentFinding]:
        for incident in self.answers["incidents"]:
            window = incident["window"]
            found = self.tm.failures(since=_time(window["since"]), until=_time(window["until"]))
            checks = []
            top = found.root_causes[0].component if found.root_causes else None
            checks.append(Check(f"{incident['id']}: root cause ranked first",
                                incident["root_cause"], top, top in incident["root_cause"]))
            if incident.get("silent"):
                want = sorted(s["message"] for s in incident["silent"])
                got = sorted(s["message"] for s in found.silent)
                checks.append(Check(f"{incident['id']}: silent failures", len(want), len(got),
                                    want == got))
            self.result.incidents.append(IncidentFinding(
                incident["id"], incident["title"], incident.get("story", ""), found, checks))
        return self.result.incidents

    def impact(self) -> ImpactResult:
        planted = self.answers["impact"]
        found = self.tm.impact(planted["target"])
        got = sorted(i.component for i in found.impacted)
        self.result.impact_checks.append(Check(
            f"impact of {planted['target']}", planted["components"], got,
            got == sorted(planted["components"])))
        self.result.impact = found
        return found

    def conventions(self) -> list[Check]:
        """Each planted export convention gives its component edge, and no edge that only
        time or a consumer's span would suggest (``answers.json`` ``conventions``)."""
        edges = {(e["source"], e["target"]) for e in self.tm.graph().edges}
        for want in self.answers.get("conventions", []):
            pair = (want["source"], want["target"])
            verb = "gives" if want["present"] else "does not give"
            self.result.convention_checks.append(Check(
                f"{want['convention']} {verb} {pair[0]} → {pair[1]}", want["present"],
                pair in edges, (pair in edges) == want["present"]))
        return self.result.convention_checks

    def trace(self) -> TraceResult:
        """The first order of the bad deployment, found by its order id, across every system."""
        order = next(i for i in self.answers["incidents"] if i["id"] == "bad-deploy")["orders"][0]
        found = self.tm.trace(order)
        systems = sorted({e["system"] for e in found.entities})
        want = ["kafka", "otel", "temporal"]
        self.result.trace_checks.append(Check(
            f"order {order} stitched into one execution", want, systems,
            set(want) <= set(systems)))
        self.result.trace_id = order
        return found

    def risks(self) -> RisksResult:
        """Each planted hazard (``samples/hazards.py``) found at its component, with its
        specifics: the replayed messages, the overtaken record, the dead letter, the route."""
        found = self.tm.risks()
        for want in self.answers.get("risks", []):
            hits = [f.to_dict() for f in found.of(want["hazard"])
                    if f.component == want["component"]]
            got = _planted_detail(want, hits[0]) if hits else None
            expected = _planted_detail(want, want)
            self.result.risks_checks.append(Check(
                f"{want['hazard'].replace('_', ' ')} at {want['component']}", expected, got,
                got == expected))
        self.result.risks = found
        return found

    def paths(self) -> PathsResult:
        """The planted event chain is one of the pathways, with its components in order."""
        for want in self.answers.get("pathways", []):
            route = want["components"]
            found = self.tm.paths(source=route[0], target=route[-1])
            got = next((p.components for p in found.paths if p.components == route), None)
            self.result.paths_checks.append(Check(
                f"pathway {route[0]} → {route[-1]}", route, got, got == route))
            self.result.paths = found
        return self.result.paths or self.tm.paths()

    def report(self, path: Path) -> Path:
        declared = sorted(str(p) for p in (self.samples / "declared").rglob("*.yaml"))
        self.result.report = self.tm.report(path, declared=declared,
                                            title="tracemap demo: Acme Shop")
        return self.result.report
