"""The renderers read a Report and nothing else: JUnit, Markdown, HTML and the plots."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from slakit.report.formatting import fmt_change, fmt_value
from slakit.report.html import render_html
from slakit.report.junit import render_junit
from slakit.report.markdown import render_markdown
from slakit.report.model import Report, ServerSeries
from slakit.report.plots import PLOTS
from tests.report_factory import (
    failing_report,
    make_report,
    partial_report,
    passing_report,
    realistic_report,
    sweep_report,
)

ALL = [passing_report, failing_report, partial_report, sweep_report, realistic_report]


@pytest.mark.parametrize(
    ("value", "dimension", "text"),
    [
        (0.8123, "seconds", "812 ms"),
        (0.0004, "seconds", "0.4 ms"),
        (1.25, "seconds", "1.25 s"),
        (75.0, "seconds", "75 s"),
        (0.0042, "ratio", "0.42%"),
        (0.995, "ratio", "99.5%"),
        (0.0, "ratio", "0%"),
        (9.62, "per_second", "9.62/s"),
        (1234.0, "per_second", "1,234/s"),
        (3.0, "number", "3"),
        (None, "seconds", "—"),
    ],
)
def test_values_read_in_their_dimension(value, dimension, text):
    assert fmt_value(value, dimension) == text


def test_change_is_signed():
    assert (fmt_change(0.108), fmt_change(-0.0317), fmt_change(None)) == ("+10.8%", "-3.17%", "—")


def _suite(report: Report) -> ET.Element:
    root = ET.fromstring(render_junit(report))
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def _failures(suite: ET.Element) -> dict[str, ET.Element]:
    return {
        case.get("name"): case.find("failure")
        for case in suite.findall("testcase")
        if case.find("failure") is not None
    }


def test_junit_names_the_failing_slo():
    report = failing_report()
    suite = _suite(report)
    assert suite.get("name") == f"slakit.{report.scenario_name}"
    failures = _failures(suite)
    assert list(failures) == ["latency-impossible"]
    message = failures["latency-impossible"].get("message")
    assert message == "measured 820 ms vs objective < 1ms"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "7",
        "failures": "1",
        "errors": "0",
        "skipped": "0",
        "time": "120.000",
    }


def test_junit_warn_passes_with_a_note():
    case = next(
        c for c in _suite(realistic_report()).findall("testcase") if c.get("name") == "latency-p95"
    )
    assert case.find("failure") is None
    assert case.find("system-out").text.startswith("WARN: measured 820 ms")


def test_junit_partial_run_fails_run_complete_and_inconclusive_fails():
    failures = _failures(_suite(partial_report()))
    assert failures["rag-latency-p99"].get("type") == "inconclusive"
    assert "connection refused" in failures["run-complete"].get("message")


def test_junit_passing_run_has_no_failures():
    suite = _suite(passing_report())
    assert suite.get("failures") == "0" and not _failures(suite)


def test_markdown_headline_and_failing_slo():
    text = render_markdown(failing_report())
    assert text.startswith("## slakit: FAIL (chat-rag-smoke)")
    row = next(line for line in text.splitlines() if line.startswith("| latency-impossible |"))
    assert "| FAIL |" in row and "| < 1ms |" in row


def test_markdown_partial_banner_load_and_alerts():
    partial = render_markdown(partial_report())
    assert "**WARNING: partial run.** the target stopped answering" in partial
    assert "Did not keep up with the requested rate" in partial
    real = render_markdown(realistic_report())
    assert "| SlakitLatencyP95High | warning | resolved |" in real
    assert "| +10.8% |" in real  # change against the baseline


def test_markdown_sweep_has_capacity():
    text = render_markdown(sweep_report())
    assert "Capacity: 8/s" in text and "| 16/s | 11.4/s | FAIL |" in text


def test_markdown_cells_cannot_break_the_table_or_inject_tags():
    text = render_markdown(make_report(name="a|b<img src=x>"))
    assert "a\\|b&lt;img src=x>" in text and "<img" not in text


NETWORK = re.compile(
    r"""(?:\b(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import)""",
    re.IGNORECASE,
)


@pytest.mark.parametrize("build", ALL, ids=lambda f: f.__name__)
def test_html_is_self_contained(build):
    html = render_html(build())
    assert not NETWORK.search(html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert html.count("<svg") >= 3


def test_html_escapes_user_text():
    html = render_html(make_report(name='<script>alert("x")</script>'))
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_html_shows_verdicts_banner_and_footer():
    html = render_html(partial_report())
    assert ">INCONCLUSIVE<" in html and "WARNING: partial run." in html
    assert "schema version 1" in html
    assert "rag-latency-p99" in html


def test_sweep_plot_only_for_sweeps():
    assert PLOTS["sweep"][1](realistic_report()) is None
    svg = PLOTS["sweep"][1](sweep_report())
    assert svg.startswith("<svg") and "capacity 8/s" in svg


def test_plots_skip_empty_data_and_show_notes():
    empty = make_report(
        timeseries=[],
        server=[
            ServerSeries(
                name="es",
                title="ES latency",
                unit="seconds",
                promql="x",
                note="exporter not scraped",
            )
        ],
    )
    for key in ("latency", "throughput"):
        assert PLOTS[key][1](empty) is None
    assert "exporter not scraped" in PLOTS["server"][1](empty)
    html = render_html(empty.model_copy(update={"slos": [], "server": []}))
    assert "<svg" not in html and "No SLOs were defined." in html


def test_svg_ids_are_unique_across_plots():
    ids = re.findall(r'\bid="([^"]+)"', render_html(sweep_report()))
    assert len(ids) == len(set(ids))


def test_rendering_is_deterministic():
    assert render_html(realistic_report()) == render_html(realistic_report())
