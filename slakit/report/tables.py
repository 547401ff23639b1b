"""The tables and facts a report shows, built once for Markdown and HTML alike.

Both renderers lay out the same rows; only the markup differs. Cells are finished strings
(formatted by `formatting`), so a renderer never formats a value itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from slakit.report.formatting import (
    MISSING,
    fmt_change,
    fmt_time,
    fmt_value,
    verdict_word,
)
from slakit.report.model import (
    WORDS,
    ErrorStats,
    KindSummary,
    MeasurementError,
    MeasurementReport,
    Report,
    SloResult,
    StageLoad,
    SweepStep,
)
from slakit.sli import CATALOGUE


@dataclass
class Table:
    """Headers, rows of cell text, and (optionally) each row's verdict for colouring."""

    headers: list[str]
    rows: list[list[str]]
    verdicts: list[str] = field(default_factory=list)


def verdict_tally(slos: list[SloResult]) -> list[tuple[str, int]]:
    """(verdict, count) for the verdicts present, worst first: the headline's summary."""
    counts = Counter(s.verdict for s in slos)
    return [(v, counts[v]) for v in ("fail", "inconclusive", "warn", "pass") if counts[v]]


def sli_text(slo: SloResult) -> str:
    """`Time to first token p95 (rag, later turns)`: what is measured, how aggregated, over
    which kind and turns."""
    where = ", ".join(filter(None, (slo.scope, slo.turn and f"{slo.turn} turns")))
    scope = f" ({where})" if where else ""
    how = "" if slo.aggregation in ("ratio", "rate") else f" {slo.aggregation}"  # said by title
    return f"{slo.title}{how}{scope}"


def objective_text(slo: SloResult) -> str:
    return f"{slo.objective} (warn {slo.warn})" if slo.warn else slo.objective


def slo_table(slos: list[SloResult]) -> Table:
    """One row per SLO; baseline columns only when some SLO was compared to one."""
    with_baseline = any(s.baseline_value is not None for s in slos)
    headers = ["SLO", "SLI", "Objective", "Measured", "Samples", "Verdict", "Detail"]
    if with_baseline:
        headers += ["Baseline", "Change (+ = worse)"]
    rows = []
    for s in slos:
        row = [
            s.name,
            sli_text(s),
            objective_text(s),
            fmt_value(s.value, s.dimension),
            f"{s.samples:,}",
            verdict_word(s.verdict),
            s.detail,
        ]
        if with_baseline:
            row += [fmt_value(s.baseline_value, s.dimension), fmt_change(s.regression)]
        rows.append(row)
    return Table(headers, rows, [s.verdict for s in slos])


_KIND_COLUMNS = [
    ("Requests", None, "requests"),
    ("Errors", None, "errors"),
    ("Error rate", "ratio", "error_rate"),
    ("Throughput", "per_second", "throughput_rps"),
    ("Latency p50", "seconds", "latency_p50"),
    ("Latency p95", "seconds", "latency_p95"),
    ("Latency p99", "seconds", "latency_p99"),
    ("TTFT p50", "seconds", "ttft_p50"),
    ("TTFT p95", "seconds", "ttft_p95"),
]


INPUT_TOKENS_HEADER = "Input tokens (asked → counted)"


def _kind_row(name: str, kind: KindSummary) -> list[str]:
    cells = [name]
    for _, dimension, attr in _KIND_COLUMNS:
        value = getattr(kind, attr)
        cells.append(f"{value:,}" if dimension is None else fmt_value(value, dimension))
    return cells


def input_tokens_text(kind: KindSummary) -> str:
    """`64 → 64 (server)`: mean prompt tokens asked for and counted by the server, and how
    the prompts were sized; sized in words, the counts are not expected to agree."""
    if kind.tokens_in_requested_mean is None:
        return MISSING
    how = kind.tokens_in_sized_by or "unknown"
    if WORDS in how:
        how += ": approximate"
    elif kind.tokens_in_mismatched:
        how += f", {kind.tokens_in_mismatched:,} differ"
    return f"{kind.tokens_in_requested_mean:.4g} → {kind.tokens_in_actual_mean:.4g} ({how})"


def kind_table(kinds: dict[str, KindSummary]) -> Table:
    """Per request kind, `all` first: the headline numbers a reader scans for; the input
    tokens column only when some kind's prompts were sized."""
    order = sorted(kinds, key=lambda name: (name != "all", name))
    headers = ["Kind", *(c[0] for c in _KIND_COLUMNS)]
    rows = [_kind_row(name, kinds[name]) for name in order]
    if any(kind.tokens_in_requested_mean is not None for kind in kinds.values()):
        headers.append(INPUT_TOKENS_HEADER)
        for name, row in zip(order, rows, strict=True):
            row.append(input_tokens_text(kinds[name]))
    return Table(headers, rows)


def sweep_table(report: Report) -> Table:
    """One row per sweep step: offered rate, achieved rate, verdict, each SLO's value."""
    names = list(dict.fromkeys(s.name for step in report.sweep for s in step.slos))
    noted = any(step.note for step in report.sweep)  # a Note column only when some step has one
    rows = []
    for step in report.sweep:
        by_name = {s.name: s for s in step.slos}
        values = [
            fmt_value(by_name[n].value, by_name[n].dimension) if n in by_name else MISSING
            for n in names
        ]
        rows.append(
            [
                _offered(step),
                fmt_value(step.achieved_rps, "per_second"),
                verdict_word(step.verdict),
                *values,
                *([step.note] if noted else []),
            ]
        )
    return Table(
        ["Offered", "Achieved", "Verdict", *names, *(["Note"] if noted else [])],
        rows,
        [step.verdict for step in report.sweep],
    )


def _offered(step: SweepStep) -> str:
    if step.concurrency is not None:
        return f"{step.concurrency:,} in flight"
    return fmt_value(step.rate, "per_second")


def capacity_text(report: Report) -> str:
    """The capacity the sweep found, and how it searched when it did more than step up."""
    if report.capacity_rps is None:
        found = "No offered rate met every SLO."
    elif report.capacity_concurrency is not None:
        found = (
            f"Capacity: {fmt_value(report.capacity_rps, 'per_second')} achieved at "
            f"{report.capacity_concurrency:,} in flight, the highest rate achieved at a "
            "concurrency at which every SLO held."
        )
    else:
        found = (
            f"Capacity: {fmt_value(report.capacity_rps, 'per_second')}, the highest offered "
            "rate at which every SLO held."
        )
    return f"{found} {report.search_note}" if report.search_note else found


def _when(text: str) -> str:
    try:
        return fmt_time(datetime.fromisoformat(text).timestamp())
    except ValueError:
        return text


def log_error_text(report: Report) -> str:
    """How many ERROR log lines the run's window holds, or why none were counted."""
    logs = report.log_errors
    assert logs is not None
    if logs.count is None:
        return f"Not counted: {logs.absent}."
    most = " The most frequent:" if logs.top else ""
    return f"{logs.count} ERROR lines in {logs.index} during the run.{most}"


def log_error_table(report: Report) -> Table:
    """The most frequent ERROR messages of the run's window."""
    logs = report.log_errors
    top = logs.top if logs else []
    return Table(["Message", "Lines"], [[m.message, str(m.count)] for m in top])


def alert_table(report: Report) -> Table:
    """Alerts seen in the window, once each, with their last status.

    Entries are webhook records (`{"received_at", "notification": {"alerts": [...]}}`) or
    bare Alertmanager alerts; Alertmanager re-sends an alert while it fires, so repeats
    of one alert (same labels, same start) collapse into one row.
    """
    latest: dict[tuple, dict] = {}
    for record in report.alerts:
        payload = record.get("notification", record)
        for alert in payload.get("alerts", [payload]):
            labels = alert.get("labels", {})
            latest[(tuple(sorted(labels.items())), alert.get("startsAt", ""))] = alert
    rows = []
    for alert in latest.values():
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        rows.append(
            [
                labels.get("alertname", "?"),
                labels.get("severity", MISSING),
                alert.get("status", MISSING),
                _when(alert.get("startsAt", MISSING)),
                notes.get("summary") or notes.get("description") or "",
            ]
        )
    return Table(["Alert", "Severity", "Status", "Started", "Summary"], rows)


def partial_text(report: Report) -> str:
    """Why a partial run is partial, and what that means for its verdicts."""
    reason = (report.partial_reason or "the run ended early").rstrip(".")
    return f"{reason}. Verdicts cover only the part that ran."


def target_text(target: dict) -> str:
    """`vllm, model slakit-tiny, gateway http://…`: the target's set fields, key first."""
    parts = [str(target["engine"])] if target.get("engine") else []
    parts += [f"{key} {value}" for key, value in target.items() if value and key != "engine"]
    return ", ".join(parts)


def run_facts(report: Report) -> list[tuple[str, str]]:
    """The header's label/value pairs: which run, of what, against what, when."""
    span = fmt_value(report.ended_at - report.started_at, "seconds")
    warmup = report.warmup_end - report.started_at
    facts = [
        ("Run", report.run_id),
        ("Scenario", f"{report.scenario_name} ({report.scenario_path})"),
        ("Target", target_text(report.target)),
        ("Started", fmt_time(report.started_at)),
        (
            "Duration",
            span + (f", of which warm-up {fmt_value(warmup, 'seconds')}" if warmup > 0 else ""),
        ),
        ("Exit code", str(report.exit_code)),
    ]
    if report.baseline_run_id:
        facts.append(("Baseline run", report.baseline_run_id))
    return facts


_MODES = {
    "users": "closed loop (simulated users)",
    "rate": "open loop at the scenario's rate (fixed, in stages or ramped)",
    "sweep": "capacity sweep",
    "trace": "open loop at a trace's times (replay)",
}


def _stage_line(number: int, stage: StageLoad) -> str:
    """`Stage 2: 2 req/s for 30 s: 61 requests sent, 2.03 req/s.`"""
    rate = fmt_value(stage.start_rps, "per_second")
    if stage.end_rps != stage.start_rps:
        rate = f"ramp {rate} to {fmt_value(stage.end_rps, 'per_second')}"
    return (
        f"Stage {number}: {rate} for {fmt_value(stage.duration_s, 'seconds')}: "
        f"{stage.sent:,} requests sent, {fmt_value(stage.achieved_rps, 'per_second')}."
    )


def load_lines(report: Report) -> list[str]:
    """How the load was offered and whether the target (or slakit) kept the pace."""
    load = report.load
    achieved = fmt_value(load.achieved_rps, "per_second")
    lines = [f"Mode: {_MODES[load.mode]}."]
    if load.requested_rps is not None:
        offered = (
            f" (the arrival schedule offered {fmt_value(load.offered_rps, 'per_second')})"
            if load.offered_rps is not None
            else ""
        )
        lines.append(
            f"Requested {fmt_value(load.requested_rps, 'per_second')}{offered}, "
            f"achieved {achieved}."
        )
    else:
        lines.append(f"Achieved {achieved}.")
    lines.extend(_stage_line(i, stage) for i, stage in enumerate(load.stages, 1))
    if not load.kept_up:
        lines.append(
            "Did not keep up with the requested rate" + (f": {load.note}" if load.note else ".")
        )
    elif load.note:
        lines.append(load.note)
    if load.late_share > 0:
        after = (
            f" (more than {fmt_value(load.late_after_s, 'seconds')} after their scheduled time)"
            if load.late_after_s is not None
            else ""
        )
        lines.append(f"{fmt_value(load.late_share, 'ratio')} of requests went out late{after}.")
    lines.extend(_from_due_lines(report))
    if load.workers > 1:
        lines.append(f"Load came from {load.workers} worker processes.")
    if load.generator_cpu_per_request_s is not None:
        lines.append(
            f"Generating it cost {fmt_value(load.generator_cpu_per_request_s, 'seconds')} of "
            f"CPU per request ({load.generator_cores:.2f} cores over the load)."
        )
    return lines


def _from_due_lines(report: Report) -> list[str]:
    """Where timing from the due time tells a different story than timing from the send."""
    summary = report.kinds.get("all")
    lines = []
    for sli in report.load.from_due_differs:
        sent, due = getattr(summary, f"{sli}_p99"), getattr(summary, f"{sli}_from_due_p99")
        lines.append(
            f"Timed from when requests were due, {CATALOGUE[sli].title.lower()} p99 is "
            f"{fmt_value(due, 'seconds')}, not {fmt_value(sent, 'seconds')}: requests waited "
            f"to be sent, and the `{sli}_from_due` SLI counts that wait."
        )
    return lines


def _error_row(title: str, counted: str, stats: ErrorStats) -> list[str]:
    values = (stats.p50_s, stats.p99_s, stats.max_s, stats.min_s, stats.abs_p99_s)
    return [title, f"{stats.count:,} {counted}", *(fmt_value(v, "seconds") for v in values)]


def measurement_table(error: MeasurementError) -> Table:
    """Client minus wire per SLI (inter-token latency gap by gap), and the send delay."""
    rows = [
        _error_row(CATALOGUE[sli].title, "gaps" if CATALOGUE[sli].per_token else "requests", s)
        for sli, s in error.errors.items()
    ]
    send = "Send delay (first byte on the wire - client's start)"
    rows.append(_error_row(send, "requests", error.send_delay))
    return Table(["SLI", "Compared", "p50", "p99", "max", "min", "p99 of |error|"], rows)


def measurement_lines(measurement: MeasurementReport, slos: list[SloResult]) -> list[str]:
    """What the wire check matched and captured, which verdicts would change on wire
    times, and the bound's verdict: the finding a reader needs besides the table."""
    lines = []
    if measurement.verdict is not None:
        lines.append(f"Bound: {verdict_word(measurement.verdict)}, {measurement.detail}.")
    error = measurement.error
    if error is None:
        return lines
    lines.append(
        f"Client minus wire (positive: the client saw it later than the bytes crossed "
        f"loopback), over {error.matched:,} requests matched by {error.matched_by}; "
        f"{error.unmatched_samples:,} samples not found on the wire, "
        f"{error.unmatched_wire:,} wire requests no sample claims{_by_path(error)}, "
        f"{error.relayed:,} relayed."
    )
    if error.itl_mismatched:
        lines.append(
            f"{error.itl_mismatched:,} requests saw another token count than the wire: "
            "their gaps are not compared."
        )
    dropped = MISSING if measurement.dropped_packets is None else f"{measurement.dropped_packets:,}"
    lines.append(
        f"Capture: {'clean' if measurement.capture_clean else 'tcpdump did not stop cleanly'}, "
        f"{dropped} packets dropped, {measurement.headless_connections:,} connections open "
        f"before it began (read from their first whole request), "
        f"{measurement.broken_connections:,} not readable."
    )
    lines.append(_changed_text(measurement, slos))
    return lines


def _by_path(error: MeasurementError) -> str:
    """` (POST /tokenize 390, ...)`: what the unclaimed wire requests were, most first."""
    counts = sorted(error.unmatched_wire_by_path.items(), key=lambda item: -item[1])
    return f" ({', '.join(f'{path} {n:,}' for path, n in counts)})" if counts else ""


def _changed_text(measurement: MeasurementReport, slos: list[SloResult]) -> str:
    if not measurement.changed_verdicts:
        return "No verdict would change on wire times."
    client = {s.name: s for s in slos}
    wire = {s.name: s for s in measurement.wire_slos}
    changes = [
        f"{name} {verdict_word(client[name].verdict)} on the client, "
        f"{verdict_word(wire[name].verdict)} on the wire ({wire[name].detail})"
        for name in measurement.changed_verdicts
        if name in client and name in wire
    ]
    return "Verdicts that would change on wire times: " + "; ".join(changes) + "."
