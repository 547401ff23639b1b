"""Markdown for a CI job summary or PR comment: the verdict first, then why.

GitHub-flavoured tables, no emoji and no HTML, so it reads the same in a terminal, a
job summary and a review thread. Cell text is escaped: a `|` or `<` in a scenario name
must not break the table or inject markup into a PR comment.
"""

from __future__ import annotations

import re

from slakit.report.findings import describe
from slakit.report.formatting import verdict_word
from slakit.report.model import Report
from slakit.report.repeats import repeat_table, repeat_text
from slakit.report.slowest import intro as slowest_intro
from slakit.report.slowest import sections as slowest_sections
from slakit.report.tables import (
    Table,
    alert_table,
    capacity_text,
    kind_table,
    load_lines,
    log_error_table,
    log_error_text,
    measurement_lines,
    measurement_table,
    partial_text,
    run_facts,
    slo_table,
    sweep_table,
    verdict_tally,
)


def md_text(text: str) -> str:
    """Text safe inside a table cell or a line: no pipes, newlines or HTML tags.

    Only a `<` that could open a tag is escaped, so `< 500ms` still reads as written in
    the raw Markdown of a job log.
    """
    text = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(table: Table) -> list[str]:
    lines = [
        "| " + " | ".join(map(md_text, table.headers)) + " |",
        "|" + "---|" * len(table.headers),
    ]
    lines += ["| " + " | ".join(map(md_text, row)) + " |" for row in table.rows]
    return lines


def _headline(report: Report) -> list[str]:
    tally = ", ".join(f"{n} {verdict_word(v)}" for v, n in verdict_tally(report.slos))
    lines = [
        f"## slakit: {verdict_word(report.verdict)} ({md_text(report.scenario_name)})",
        "",
        f"{len(report.slos)} SLOs: {tally or 'none defined'}.",
    ]
    if report.status == "partial":
        lines += ["", f"> **WARNING: partial run.** {md_text(partial_text(report))}"]
    measurement = report.measurement
    if measurement and measurement.verdict in ("fail", "inconclusive"):
        lines += [
            "",
            f"> **Measurement error: {verdict_word(measurement.verdict)}.** "
            f"{md_text(measurement.detail)}.",
        ]
    return lines


def _section(title: str, body: list[str]) -> list[str]:
    return ["", f"### {title}", "", *body]


def _bullets(items: list[str]) -> list[str]:
    return [f"- {md_text(item)}" for item in items]


def _measurement(report: Report) -> list[str]:
    error = report.measurement.error
    table = [*md_table(measurement_table(error)), ""] if error else []
    return [*table, *_bullets(measurement_lines(report.measurement, report.slos))]


def _slowest(report: Report) -> list[str]:
    lines = [md_text(slowest_intro(report))]
    for title, entries in slowest_sections(report):
        lines += ["", f"**{title}**", ""]
        for e in entries:
            head = f"{e.rank}. `{e.trace_id}` {e.kind}, TTFT {e.ttft}, latency {e.latency}"
            lines.append(f"{md_text(head)}: **{md_text(e.cause)}**")
            if e.timeline_text:
                lines.append(f"   - {md_text(e.timeline_text)}")
    return lines


def render_markdown(report: Report) -> str:
    """The report as Markdown, headline verdict first."""
    lines = _headline(report)
    lines += ["", *(f"- **{label}:** {md_text(value)}" for label, value in run_facts(report))]
    lines += _section(
        "Objectives", md_table(slo_table(report.slos)) if report.slos else ["No SLOs were defined."]
    )
    lines += _section("Per request kind", md_table(kind_table(report.kinds)))
    lines += _section("Load", _bullets(load_lines(report)))
    if report.measurement:
        lines += _section("Measurement error", _measurement(report))
    if report.repeats:
        lines += _section(
            "Repeated runs", [md_text(repeat_text(report)), "", *md_table(repeat_table(report))]
        )
    if report.sweep:
        lines += _section(
            "Sweep", [*md_table(sweep_table(report)), "", md_text(capacity_text(report))]
        )
    if report.faults:
        lines += _section("Faults injected", _bullets([describe(f) for f in report.faults]))
    if report.limits:
        lines += _section("What limited it", _bullets([describe(f) for f in report.limits]))
    if report.slowest:
        lines += _section("Slowest requests", _slowest(report))
    alerts = alert_table(report)
    lines += _section("Alerts", md_table(alerts) if alerts.rows else ["No alerts fired."])
    if report.log_errors:
        top = log_error_table(report)
        table = ["", *md_table(top)] if top.rows else []
        lines += _section("ERROR log lines", [md_text(log_error_text(report)), *table])
    lines += ["", f"_slakit report, schema version {report.schema_version}_"]
    return "\n".join(lines) + "\n"
