"""The one verdict rule, as `run`, `run --baseline`, sweeps and `check` apply it."""

from __future__ import annotations

import pytest

from slakit.gate import regate
from slakit.verdict import judge_run
from tests.report_factory import make_report, make_slo, partial_report


def warned(**fields):
    """A report whose only SLO warns (p95 0.9 s: under 1 s, not under the 0.5 s warning)."""
    slo = make_slo("latency-p95", "latency", "p95", "< 1s", 0.9, warn="< 500ms")
    assert slo.verdict == "warn"
    return make_report(slos=[slo], **fields)


@pytest.mark.parametrize(
    ("partial", "capacity_found", "expected"),
    [
        (False, None, ("warn", 0)),
        (True, None, ("fail", 1)),
        (False, True, ("pass", 0)),
        (False, False, ("fail", 1)),
        (True, True, ("fail", 1)),
    ],
)
def test_judge_run(partial: bool, capacity_found: bool | None, expected: tuple) -> None:
    results = warned().slos
    assert judge_run(results, True, partial=partial, capacity_found=capacity_found) == expected


def test_a_partial_run_that_only_warns_fails_the_same_with_or_without_a_baseline() -> None:
    cut = warned(
        status="partial", partial_reason="interrupted by SIGINT", seconds=42, scheduled=120
    )
    judged = regate(cut, warned())  # as `run --baseline` and `check --baseline` judge it
    assert (judged.verdict, judged.exit_code) == ("fail", 1)
    assert (cut.verdict, cut.exit_code) == ("fail", 1)  # the factory judges by the same rule


def test_partial_report_from_the_factory_is_judged_by_the_rule() -> None:
    report = partial_report()
    assert (report.verdict, report.exit_code) == judge_run(report.slos, True, partial=True)
