"""Generate the sample landscape: Acme Shop's day, exported in the formats tracemap reads.

``generate(out_dir)`` writes what each system would have exported (Temporal histories, kcat
dumps, the Collector's OTLP file, Step Functions executions, EventBridge events, OpenLineage
from Airflow), the AsyncAPI documents the teams declared, ``answers.json`` (the planted
answers) and ``README.md`` (the stories). Deterministic: the same seed and scale give the same
bytes. ``--scale`` multiplies the order traffic (and the Airflow nights) for benchmarks; files
are written incrementally, so memory stays flat at any scale.

``sample_traces/`` in the repository is ``generate(Path("sample_traces"))`` at scale 1; a test
keeps it equal to a fresh generation, so it is never edited by hand.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tracemap.samples import hazards, landscape
from tracemap.samples.answers import Answers
from tracemap.samples.readme import render as render_readme
from tracemap.samples.traffic import Day
from tracemap.samples.writers import (
    Sink,
    asyncapi,
    eventbridge,
    kcat,
    openlineage,
    otlp,
    stepfunctions,
    temporal,
)

__all__ = ["DECLARED_DIR", "EXPORTS_DIR", "GenerateResult", "generate"]

#: Above this scale, one-file-per-run formats are grouped into hourly folders.
FLAT_LIMIT = 5.0
#: Where the exports go (``tracemap ingest sample_traces/exports``).
EXPORTS_DIR = "exports"
#: Where the declaration files go (not exports: passed to ``tracemap hidden --declared``).
DECLARED_DIR = "declared"


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """What ``generate`` wrote: counts per format (files, records, bytes) and the answers."""

    out_dir: Path
    scale: float
    seed: int
    files: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    orders: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


def generate(out_dir: Path, *, scale: float = 1.0, seed: int = 7,
             start: datetime = landscape.START) -> GenerateResult:
    """Write the sample landscape into ``out_dir``.

    ``out_dir`` is created if needed. If it holds an earlier generation (``answers.json``),
    that generation's ``exports/`` and ``declared/`` folders are removed first, so files of a
    larger earlier scale do not linger; nothing else in the folder is touched.

    Args:
        out_dir: the folder to write into.
        scale: multiplies the order rate and the number of Airflow nights.
        seed: the random seed; the same seed and scale give identical files.
        start: when the day's traffic begins (aware datetime; incidents keep their offsets).
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    if (out_dir / "answers.json").is_file():
        for folder in (EXPORTS_DIR, DECLARED_DIR):
            shutil.rmtree(out_dir / folder, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    sink = Sink(out_dir)
    day = Day(scale=scale, seed=seed, start=start)
    answers = Answers(seed=seed, scale=scale, start=start)
    flat = scale <= FLAT_LIMIT
    x = EXPORTS_DIR
    spans = otlp.Batcher(sink, f"{x}/otel/traces.jsonl")
    try:
        stepfunctions.write_definition(sink, f"{x}/stepfunctions")
        for run in day.nights():
            openlineage.write(sink, run, f"{x}/openlineage/airflow.jsonl")
            answers.observe_night(run)
        for story in day.orders():
            hour = "" if flat else f"/{_hour(story.outcome.placed_at_us)}"
            temporal.write(sink, story.workflows, f"{x}/temporal{hour}")
            spans.add([s for s in story.spans if s.service not in landscape.UNEXPORTED])
            kcat.write(sink, story.kafka, f"{x}/kafka")
            eventbridge.write(sink, story.bus, f"{x}/eventbridge/{landscape.EVENT_BUS}.jsonl")
            stepfunctions.write(sink, story.executions, f"{x}/stepfunctions{hour}")
            answers.observe(story)
        _plant_hazards(sink, spans, start, seed, scale, flat, answers)
        spans.flush()
        asyncapi.write(sink, f"{DECLARED_DIR}/asyncapi")
    finally:
        sink.close()
    doc = answers.result()
    (out_dir / "answers.json").write_text(json.dumps(doc, indent=2) + "\n")
    counts = {"files": dict(sorted(sink.files.items())),
              "records": dict(sorted(sink.records.items())),
              "bytes": dict(sorted(sink.bytes.items()))}
    (out_dir / "README.md").write_text(render_readme(doc, counts, start))
    return GenerateResult(out_dir, scale, seed, counts["files"], counts["records"],
                          counts["bytes"], answers.orders)


def _plant_hazards(sink: Sink, spans: otlp.Batcher, start: datetime, seed: int, scale: float,
                   flat: bool, answers: Answers) -> None:
    """The hazards ``tracemap risks`` finds (``samples/hazards.py``), written like the orders."""
    planted = hazards.plant(start, seed, scale)
    x = EXPORTS_DIR
    hour = "" if flat else f"/{_hour(planted.workflows[0].start_us)}"
    temporal.write(sink, planted.workflows, f"{x}/temporal{hour}")
    # in story-sized batches: one line for all of them would outgrow a record at large scales
    for i in range(0, len(planted.spans), hazards.SPANS_PER_BATCH):
        spans.add(planted.spans[i:i + hazards.SPANS_PER_BATCH])
    for record in planted.kafka:
        sink.append(kcat.FORMAT, f"{x}/kafka/{record.topic}.jsonl", hazards.kcat_line(record))
    answers.observe_hazards(planted.answers, planted.pathways)


def _hour(us: int) -> str:
    return datetime.fromtimestamp(us // 1_000_000, landscape.START.tzinfo).strftime("%Y-%m-%dT%H")
