"""How the report says what the new load shapes did: a concurrency sweep's rows by
requests in flight, a saturated step's note, a downward search and its capacity in
words, and each rate stage's requests sent, in Markdown and HTML alike."""

from __future__ import annotations

from slakit.report.html import render_html
from slakit.report.markdown import render_markdown
from slakit.report.model import StageLoad
from tests.report_factory import passing_report, sweep_report


def test_a_concurrency_sweep_reads_by_requests_in_flight() -> None:
    report = sweep_report()
    for i, step in enumerate(report.sweep):
        step.concurrency = 2**i
    report.sweep[-1].note = "ended after 17 s of 24 s: saturated: 40 more requests due"
    report.capacity_concurrency = 4
    report.search_note = "The throughput step reached 12 req/s."
    text = render_markdown(report)
    assert "| 1 in flight |" in text and "| 4 in flight |" in text
    assert "| Note |" in text and "saturated: 40 more requests due |" in text
    assert "Capacity: 8/s achieved at 4 in flight, the highest rate achieved at a" in text
    assert "The throughput step reached 12 req/s." in text
    html = render_html(report)
    assert "4 in flight" in html and "saturated: 40 more requests due" in html


def test_a_rate_sweep_without_notes_has_no_note_column() -> None:
    text = render_markdown(sweep_report())
    assert "| Note |" not in text and "in flight" not in text


def test_a_downward_search_that_found_nothing_says_how_far_down_it_went() -> None:
    report = sweep_report()
    report.capacity_rps = None
    report.search_note = "The first step (4 req/s) did not hold: searched downward; none held."
    assert "No offered rate met every SLO. The first step (4 req/s) did not hold" in (
        render_markdown(report)
    )


def test_each_rate_stage_says_what_it_sent() -> None:
    report = passing_report()
    report.load.stages = [
        StageLoad(start_rps=1, end_rps=1, duration_s=10, sent=11, achieved_rps=1.1),
        StageLoad(start_rps=2, end_rps=6, duration_s=30, sent=121, achieved_rps=4.03),
    ]
    text = render_markdown(report)
    assert "Stage 1: 1/s for 10 s: 11 requests sent, 1.1/s." in text
    assert "Stage 2: ramp 2/s to 6/s for 30 s: 121 requests sent, 4.03/s." in text
