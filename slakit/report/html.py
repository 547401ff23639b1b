"""A single self-contained HTML file: opens from disk or a CI artifact, offline.

No scripts, no network: CSS is inline and plots are inline SVG, so the file is the
whole report and shows the same in ten years. Autoescaping is on; only the SVG that
`plots` made is inserted as markup.
"""

from __future__ import annotations

import json

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from slakit.report.findings import describe
from slakit.report.formatting import verdict_word
from slakit.report.model import Report
from slakit.report.plots import PLOTS
from slakit.report.repeats import repeat_table, repeat_text
from slakit.report.slowest import intro as slowest_intro
from slakit.report.slowest import sections as slowest_sections
from slakit.report.tables import (
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

_ENV = Environment(
    loader=PackageLoader("slakit.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["verdict_word"] = verdict_word


def _plots(report: Report) -> list[dict]:
    """The plots this report has data for, in reading order."""
    found = []
    for key, (title, plot) in PLOTS.items():
        svg = plot(report)
        if svg:
            found.append({"key": key, "title": title, "svg": Markup(svg)})
    return found


def _measurement(report: Report) -> dict | None:
    """The "Measurement error" section's parts, if the report has one."""
    measurement = report.measurement
    if measurement is None:
        return None
    return {
        "verdict": measurement.verdict,
        "detail": measurement.detail,
        "table": measurement_table(measurement.error) if measurement.error else None,
        "lines": measurement_lines(measurement, report.slos),
    }


def render_html(report: Report) -> str:
    """The report as one HTML document."""
    return _ENV.get_template("report.html.j2").render(
        report=report,
        tally=verdict_tally(report.slos),
        facts=run_facts(report),
        slos=slo_table(report.slos),
        plots=_plots(report),
        kinds=kind_table(report.kinds),
        load=load_lines(report),
        measurement=_measurement(report),
        partial=partial_text(report) if report.status == "partial" else None,
        repeats=repeat_table(report) if report.repeats else None,
        repeats_text=repeat_text(report) if report.repeats else None,
        sweep=sweep_table(report) if report.sweep else None,
        capacity=capacity_text(report) if report.sweep else None,
        alerts=alert_table(report),
        log_errors=log_error_text(report) if report.log_errors else None,
        log_error_top=log_error_table(report),
        limits=[describe(f) for f in report.limits],
        faults=[describe(f) for f in report.faults],
        slowest=slowest_sections(report),
        slowest_intro=slowest_intro(report) if report.slowest else None,
        scenario_json=json.dumps(report.scenario, indent=2, sort_keys=True),
    )
