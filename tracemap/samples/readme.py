"""``sample_traces/README.md``: the landscape, its files, the incident stories and the answers.

Rendered from the landscape definition and the answers document, so the prose can never
disagree with the data (times, counts and names are filled in, not typed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracemap.samples import landscape as L

#: What each export folder holds: (path, system, how it was exported, format name).
EXPORTS: tuple[tuple[str, str, str, str], ...] = (
    ("exports/temporal/<workflowId>.json", "Temporal (namespace `acme-prod`)",
     "`temporal workflow show --workflow-id order-1001 --output json > order-1001.json`",
     "temporal_json"),
    ("exports/kafka/<topic>.jsonl", "Kafka",
     f"`kcat -C -b {L.KAFKA_BOOTSTRAP} -t orders.placed -J -e -o beginning "
     "> orders.placed.jsonl`", "kafka_kcat"),
    ("exports/otel/traces.jsonl", "OpenTelemetry Collector",
     "the Collector's `file` exporter (`exporters: file: path: /var/log/otel/traces.jsonl`)",
     "otlp_json"),
    ("exports/stepfunctions/<execution>.json", "AWS Step Functions",
     "`aws stepfunctions describe-execution` and `get-execution-history` for one execution, "
     "merged with `jq -s '.[0] + .[1]'`", "stepfunctions_json"),
    ("exports/stepfunctions/InvoiceStateMachine.definition.json", "AWS Step Functions",
     "`aws stepfunctions describe-state-machine --state-machine-arn ...`", "stepfunctions_asl"),
    ("exports/eventbridge/default.jsonl", "Amazon EventBridge",
     "a catch-all archive rule on the default bus with a Kinesis Data Firehose target "
     "(newline-delimited), copied down with `aws s3 cp`", "eventbridge_json"),
    ("exports/openlineage/airflow.jsonl", "Airflow 2.10 + OpenLineage provider 1.14",
     "the OpenLineage `file` transport (`transport: {type: file, log_file_path: ..., "
     "append: true}`)", "openlineage_json"),
    ("declared/asyncapi/<service>.yaml", "the teams (AsyncAPI 3.0)",
     "written by hand, one per service that has one; not an export: pass them to "
     "`tracemap hidden --declared`", "asyncapi"),
)


def render(doc: dict[str, Any], counts: dict[str, dict[str, int]], start: datetime) -> str:
    """The README text."""
    out: list[str] = []
    w = out.append
    gen = doc["generator"]
    totals = doc["totals"]
    w("# Acme Shop: a sample landscape for tracemap\n")
    w("One working day of a fictional online shop, exported the way its systems export it: "
      "Temporal workflow histories, Kafka topics dumped with kcat, OpenTelemetry traces from the "
      "Collector, Step Functions executions started by EventBridge events and by an "
      "EventBridge Pipe reading a Kafka topic, and OpenLineage "
      "events from the Airflow DAGs of the night before. Four incidents are planted in the "
      "day; their stories are below, and their answers are in `answers.json`.\n")
    w(f"This folder is generated (`python -m tracemap.samples --out sample_traces`, seed "
      f"{gen['seed']}, scale {gen['scale']:g}); a test checks it equals a fresh generation, so "
      "do not edit it by hand. `--scale 200` writes the same day with 200 times the traffic "
      "(millions of records) for benchmarks.\n")
    w("## Try it\n")
    declared = " ".join(f"--declared sample_traces/declared/asyncapi/{s}.yaml"
                        for s in L.ASYNCAPI)
    w("```sh\n"
      "tracemap ingest sample_traces/exports\n"
      f"tracemap hidden {declared}\n"
      f"tracemap failures --since {_hm_iso(doc, 'tax-outage', 'since')} "
      f"--until {_hm_iso(doc, 'tax-outage', 'until')}\n"
      "tracemap impact orders.placed\n"
      "```\n")

    w("## The landscape\n")
    w(f"{totals['orders']} orders between {start:%H:%M} and "
      f"{start + L.TRAFFIC:%H:%M} UTC on {start:%Y-%m-%d}. Each order is one trace, from "
      "`POST /orders` to the shipping e-mail:\n")
    w(MERMAID)
    w("Services (OpenTelemetry `service.name`, all exporting OTLP through one Collector):\n")
    w("| service | runs | version | clock skew |")
    w("|---|---|---|---|")
    for s in L.SERVICES.values():
        w(f"| `{s.name}` | {s.language} | {s.version} | {s.skew_ms:+d} ms |")
    w("")
    w("The Temporal server and AWS are the reference clocks; every service's clock is off by "
      "the skew shown, so a child span can start before its parent in another service, as in "
      "real traces.\n")
    w("How records of different systems find each other (nothing here is a tracemap "
      "convention; each is how the tool in question carries context):\n")
    for line in CORRELATION:
        w(f"- {line}")
    w("")

    w("## Files\n")
    w("| path | exported from | how | format | files | records |")
    w("|---|---|---|---|---|---|")
    for path, system, how, fmt in EXPORTS:
        files = counts["files"].get(fmt, 0)
        records = counts["records"].get(fmt, 0)
        w(f"| `{path}` | {system} | {how} | `{fmt}` | {files} | {records} |")
    w("")
    w("Records are history events (Temporal, Step Functions), Kafka records, spans, "
      "EventBridge events, OpenLineage events, states of the definition, and documents "
      "(AsyncAPI). `answers.json` holds the planted answers in the component names tracemap "
      "uses (`otel:service:billing`, `temporal:activity:ChargePayment`, "
      "`kafka:topic:orders.placed`, `dataset:bigquery/...`).\n")

    w("## Incidents\n")
    w("Each incident has its own window of the day, with normal traffic before it. The "
      "stories are what the on-call engineer knew at the start; open the answer when you have "
      "yours.\n")
    for n, inc in enumerate(doc["incidents"], start=1):
        since, until = inc["window"]["since"], inc["window"]["until"]
        w(f"### {n}. {inc['title']}\n")
        w(f"Window: {since} .. {until}.\n")
        w(f"> {inc['story']}\n")
        w("<details><summary>Answer</summary>\n")
        w(inc["answer"] + "\n")
        w(f"- root cause: {_codes(inc['root_cause'])}")
        if inc["discriminating_attributes"]:
            w("- what sets the bad records apart: " + ", ".join(
                f"`{d['name']}={d['value']}` ({d['where']})"
                for d in inc["discriminating_attributes"]))
        w(f"- affected: {_codes(inc['affected'])}")
        w(f"- orders in the window: {len(inc['orders'])}")
        if inc.get("failed_messages"):
            w(f"- orders.placed records billing failed on: {len(inc['failed_messages'])}")
        if inc.get("false_completion_runs"):
            w(f"- false completions (OrderWorkflow COMPLETED, billing failed downstream): "
              f"{len(inc['false_completion_runs'])} runs")
        if "failed_runs" in inc:
            w(f"- OrderWorkflow runs failed: {len(inc['failed_runs'])}; recovered after "
              f"retries: {len(inc['recovered_runs'])}")
        if inc.get("silent"):
            w(f"- orders.shipped records nobody consumed: {len(inc['silent'])} (expected "
              f"consumer `{inc['silent'][0]['expected_consumer']}`)")
        w("\n</details>\n")

    w("## Dependencies\n")
    w("Declared (AsyncAPI documents in `declared/`, Temporal parent/child, Airflow task "
      "order, the state machine definition):\n")
    for d in doc["declared_dependencies"]:
        w(f"- `{d['source']}` -> `{d['target']}` ({d['declared_by']})")
    w("")
    w("Hidden: observed, declared nowhere:\n")
    for d in doc["hidden_dependencies"]:
        w(f"- `{d['source']}` -> `{d['target']}` via {d['via']}")
    w("")
    w("fulfilment reads orders.placed with its own consumer group, but no AsyncAPI document "
      "says so: a schema change to OrderPlaced would be reviewed with billing and never with "
      "fulfilment. finance_report reads the table nightly_sales writes, with no sensor or "
      "dataset schedule between them: if nightly_sales runs late, finance reports on "
      "yesterday's numbers. billing starts InvoiceStateMachine through an EventBridge rule "
      "that lives only in infrastructure code.\n")
    w("Synchronous calls are undeclared too (no declaration format here covers HTTP): "
      + ", ".join(f"`{d['source']}` -> `{d['target']}`" for d in doc["undeclared_calls"])
      + ".\n")
    if doc.get("risks"):
        w("## Execution risks\n")
        w("After the last incident, the loyalty programme and account closure plant the "
          "hazards `tracemap risks` measures (`tracemap/samples/hazards.py`); `tracemap paths "
          "--from loyalty-api --to reward-mailer` shows the event chain hop by hop:\n")
        for r in doc["risks"]:
            w(f"- {r['hazard'].replace('_', ' ')} at `{r['component']}`")
        w("")
    if doc.get("conventions"):
        w("## Export conventions\n")
        w("How production exports hide the hops (some services export no spans, consumers "
          "link instead of parenting, a Pipe starts a state machine, lineage names a topic its "
          "own way), as edges the component graph must or must not hold:\n")
        for c in doc["conventions"]:
            verb = "gives" if c["present"] else "does not give"
            w(f"- {c['convention']} {verb} `{c['source']}` -> `{c['target']}`: {c['why']}")
        w("")
    imp = doc["impact"]
    w(f"## Impact of a change to `{imp['target']}`\n")
    w("Everything downstream, by hop, over the observed edges:\n")
    for hop, comps in imp["by_hop"].items():
        w(f"- hop {hop}: {_codes(comps)}")
    w("")
    w("## Format details that were chosen, not copied\n")
    for line in CHOICES:
        w(f"- {line}")
    w("")
    return "\n".join(out)


def _codes(items: list[str]) -> str:
    return ", ".join(f"`{i}`" for i in items)


def _hm_iso(doc: dict[str, Any], incident: str, end: str) -> str:
    for inc in doc["incidents"]:
        if inc["id"] == incident:
            return str(inc["window"][end])
    raise KeyError(incident)


MERMAID = """```mermaid
flowchart LR
  web((customer)) -->|POST /orders| api[order-api]
  api -->|HTTP| inv[inventory]
  api -->|StartWorkflow| ow{{OrderWorkflow<br/>order-worker}}
  ow -->|ReserveStock, HTTP| inv
  ow -->|ChargePayment, HTTP, retries| pay[payments]
  ow -->|PublishOrderPlaced| op[(orders.placed)]
  ow -->|child| sw{{ShipmentWorkflow<br/>shipping-worker}}
  op --> bill[billing]
  op -.->|not declared| ful[fulfilment]
  bill -->|HTTP| tax[tax-service]
  bill --> ic[(invoices.created)]
  bill -->|PutEvents| eb[/EventBridge default bus/]
  eb -.->|rule| sfn{{InvoiceStateMachine}}
  sw -->|PublishOrderShipped| os[(orders.shipped)]
  os --> notif[notifier]
  ns[[nightly_sales]] -->|writes| sales[(bigquery sales.daily_sales)]
  sales -.->|read by, not declared| fr[[finance_report]]
```
"""

CORRELATION = (
    "W3C `traceparent` in Temporal headers (`header.fields._tracer-data`, a `json/plain` "
    "payload `{\"traceparent\": ...}` written by the OpenTelemetry interceptors) on "
    "WorkflowExecutionStarted, ActivityTaskScheduled and the child-workflow events;",
    "`traceparent` and `correlation-id` (the order id) headers on every Kafka record, set by "
    "the producing span; the record key is the order id too;",
    "`temporalWorkflowID` / `temporalRunID` / `temporalActivityID` attributes on the "
    "interceptors' spans (`StartWorkflow:`, `RunWorkflow:`, `StartActivity:`, `RunActivity:`);",
    "`correlationId` in the Kafka payloads, the workflow input, the EventBridge `detail` and "
    "the Step Functions execution input (the rule's input transformer copies it);",
    "the X-Ray `traceHeader` of the Step Functions execution (`Root=1-<first 8>-<last 24 hex "
    "of the trace id>;Parent=<PutEvents span>`), propagated by EventBridge;",
    "OpenLineage `parent` run facets from Airflow task runs to their DAG run, and the datasets "
    "(namespace + name per the OpenLineage naming spec) that tie one DAG to another.",
)

CHOICES = (
    "Temporal: the modern CLI's protobuf JSON (`EVENT_TYPE_*`, int64 as strings, 2-space "
    "indent). Only the last attempt of a retried activity is in the history (`attempt`, "
    "`lastFailure`), as the server writes it; every attempt is a `RunActivity:ChargePayment` "
    "span. The Python SDK's failures carry no `source` field here (not confirmed). "
    "`workerVersion.buildId` and `binaryChecksum` are the release version.",
    "OTLP: semantic conventions 1.26 names (`messaging.operation.type`, "
    "`messaging.destination.partition.id`, `http.request.method`); the Python Temporal "
    "interceptor's workflow-side spans have no duration, as that interceptor writes them. "
    "Each line is a batch of four orders' spans.",
    "kcat: kcat 1.7 field order with `broker`; payload text as the producer serialised it "
    "(Python `json.dumps` with spaces, Go without).",
    "Step Functions: CLI v2 ISO timestamps at millisecond precision; the X-Ray `traceHeader` "
    "on describe-execution is derived from the OpenTelemetry trace id.",
    "EventBridge: delivered envelopes do not name their bus; billing uses the `default` bus, "
    "which is what a reader assumes.",
    "Kafka offsets are assigned in order of the simulated orders, so at large scales a "
    "record's CreateTime can be a few seconds earlier than the record before it on the same "
    "partition (as with several producer pods, only larger).",
)
