"""The report's ERROR log lines: counted lines and their top messages in every format
that shows them; logs that were not there are said to be absent, never zero."""

from __future__ import annotations

from slakit.report.html import render_html
from slakit.report.markdown import render_markdown
from slakit.report.model import LogErrors, LogMessage, Report
from tests.report_factory import make_report

COUNTED = LogErrors(
    index="logs-slakit.*-*",
    count=42,
    top=[
        LogMessage(message="/v1/chat/completions answered 500", count=21),
        LogMessage(message="simulated engine failure", count=21),
    ],
)


def test_counted_lines_and_their_top_messages_are_shown():
    report = make_report(log_errors=COUNTED)
    md, html = render_markdown(report), render_html(report)
    assert "### ERROR log lines" in md
    assert "42 ERROR lines in logs-slakit.*-* during the run." in md
    assert "| /v1/chat/completions answered 500 | 21 |" in md
    assert '<section id="log-errors">' in html
    assert "simulated engine failure" in html and ">21<" in html


def test_absent_logs_are_said_to_be_absent_not_zero():
    why = "no log was shipped into Elasticsearch (nothing matches logs-slakit.*-*)"
    report = make_report(log_errors=LogErrors(index="logs-slakit.*-*", absent=why))
    md = render_markdown(report)
    assert f"Not counted: {why}." in md
    assert "0 ERROR lines" not in md
    assert why in render_html(report)


def test_a_stored_report_keeps_its_log_errors_and_older_ones_have_none():
    report = make_report(log_errors=COUNTED)
    again = Report.model_validate_json(report.model_dump_json())
    assert again.log_errors == COUNTED
    older = make_report()
    assert older.log_errors is None
    assert "ERROR log lines" not in render_markdown(older)
