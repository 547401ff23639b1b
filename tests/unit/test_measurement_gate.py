"""The measurement bound (`gate.max_measurement_error`) as `run --wire-check` and `check`
judge it, from a stored report's wire check, and how the reports show it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from slakit.gate import contradictions, regate
from slakit.report.html import render_html
from slakit.report.junit import render_junit
from slakit.report.markdown import render_markdown
from slakit.report.model import MeasurementError, MeasurementReport, Report
from slakit.wire.arbiter import error_stats
from tests.report_factory import make_slo, passing_report

MS = 0.001
BOUND = "5ms"


def _error(ttft_ms: list[float], itl_ms: list[float] | None = None) -> MeasurementError:
    """A wire check's error whose TTFT (and ITL) differences are the given milliseconds."""
    small = [0.5 * MS] * 100
    return MeasurementError(
        matched_by="trace",
        matched=len(ttft_ms),
        unmatched_samples=0,
        unmatched_wire=0,
        relayed=0,
        itl_mismatched=0,
        errors={
            "ttft": error_stats(v * MS for v in ttft_ms),
            "itl": error_stats(v * MS for v in itl_ms) if itl_ms else error_stats(small),
            "tpot": error_stats(small),
            "latency": error_stats(small),
        },
        send_delay=error_stats(small),
    )


def _report(bound: str | None, measurement: MeasurementReport | None, **gate) -> Report:
    """A passing report whose scenario sets `bound` (None: no bound), as stored."""
    report = passing_report(measurement=measurement)
    scenario = dict(report.scenario)
    scenario["gate"] = {**gate, **({"max_measurement_error": bound} if bound else {})}
    return report.model_copy(update={"scenario": scenario})


def _checked(error: MeasurementError, wire_slos=()) -> MeasurementReport:
    return MeasurementReport(
        error=error, capture_clean=True, dropped_packets=0, wire_slos=wire_slos
    )


def test_a_clean_wire_check_holds_the_bound() -> None:
    judged = regate(_report(BOUND, _checked(_error([1.0] * 50))))
    assert (judged.verdict, judged.exit_code) == ("pass", 0)
    assert judged.measurement.verdict == "pass"
    assert judged.measurement.detail == (
        "the client's time to first token is 1 ms from the wire at p99, "
        "within max_measurement_error 5 ms"
    )


def test_an_error_over_the_bound_fails_the_run_and_says_where() -> None:
    # One gap in ten 12 ms early: the p99 of the size of the error counts either sign.
    itl = [0.1] * 90 + [-12.0] * 10
    judged = regate(_report(BOUND, _checked(_error([1.0] * 50, itl))))
    assert (judged.verdict, judged.exit_code) == ("fail", 1)
    assert judged.measurement.detail == (
        "the client's inter-token latency is 12 ms from the wire at p99, "
        "over max_measurement_error 5 ms"
    )
    assert "Measurement error: FAIL." in render_markdown(judged)


def test_a_verdict_that_changes_on_wire_times_fails_the_run() -> None:
    report = _report(BOUND, None)
    client = report.slos[0]
    on_wire = make_slo(client.name, client.sli, client.aggregation, client.objective, 99.0)
    assert on_wire.verdict == "fail" and client.verdict == "pass"
    judged = regate(report.model_copy(update={"measurement": _checked(_error([1.0]), [on_wire])}))
    assert (judged.verdict, judged.exit_code) == ("fail", 1)
    assert judged.measurement.changed_verdicts == [client.name]
    assert judged.measurement.detail == (f"the verdict of {client.name} would change on wire times")


@pytest.mark.parametrize(("inconclusive_fails", "code"), [(True, 1), (False, 0)])
def test_a_bound_left_unchecked_is_inconclusive(inconclusive_fails: bool, code: int) -> None:
    report = _report(BOUND, None, inconclusive_fails=inconclusive_fails)
    judged = regate(report)
    assert (judged.verdict, judged.exit_code) == ("inconclusive", code)
    assert judged.measurement.error is None
    assert judged.measurement.detail == (
        "max_measurement_error 5 ms was not checked: run with --wire-check"
    )
    suite = ET.fromstring(render_junit(judged)).find("testsuite")
    (case,) = [c for c in suite.findall("testcase") if c.get("name") == "max_measurement_error"]
    assert case.find("failure").get("type") == "inconclusive"


def test_a_wire_check_without_a_bound_only_reports() -> None:
    judged = regate(_report(None, _checked(_error([80.0] * 50))))
    assert (judged.verdict, judged.exit_code) == ("pass", 0)
    assert judged.measurement.verdict is None and judged.measurement.error is not None
    assert "max_measurement_error" not in render_junit(judged)
    assert regate(_report(None, None)).measurement is None


def test_the_section_shows_in_every_rendering() -> None:
    judged = regate(_report(BOUND, _checked(_error([1.0] * 50))))
    markdown = render_markdown(judged)
    assert "### Measurement error" in markdown
    assert "| Time to first token | 50 requests | 1 ms | 1 ms | 1 ms | 1 ms | 1 ms |" in markdown
    assert "No verdict would change on wire times." in markdown
    assert '<section id="measurement">' in render_html(judged)
    assert "Measurement error" not in render_markdown(passing_report())


def test_a_stored_report_with_a_wire_check_loads_and_old_ones_still_do() -> None:
    checked = regate(_report(BOUND, _checked(_error([1.0] * 50))))
    again = Report.model_validate_json(checked.model_dump_json())
    assert again == checked and contradictions(again) == []
    old = passing_report().model_dump(mode="json")
    del old["measurement"]
    assert Report.model_validate(old).measurement is None
