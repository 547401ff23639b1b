"""`slakit check`: re-gating a stored report against the scenario stored in it, with an
optional baseline and --max-regression."""

from __future__ import annotations

import pytest

from slakit.gate import regate
from slakit.report.model import Report, SloResult
from tests.report_factory import make_report, make_slo

LATENCY = {"name": "lat", "sli": "latency", "aggregation": "p95", "objective": "< 500ms"}
THROUGHPUT = {"name": "rps", "sli": "throughput_rps", "aggregation": "rate", "objective": "> 5 rps"}


def stored(
    name: str, value: float | None, verdict: str = "pass", samples: int = 100, detail: str = ""
) -> SloResult:
    """An SLO result as a report stores it; the verdict is deliberately whatever the test
    says, so re-gating has to recompute it."""
    spec = {"lat": LATENCY, "rps": THROUGHPUT}[name]
    slo = make_slo(name, spec["sli"], spec["aggregation"], spec["objective"], value)
    return slo.model_copy(update={"verdict": verdict, "samples": samples, "detail": detail})


def report(
    slos: list[SloResult],
    specs: list[dict] | None = None,
    gate: dict | None = None,
    **fields,
) -> Report:
    scenario = {
        "name": "gate-unit",
        "workload": [{"kind": "chat"}],
        "load": {"rate": {"rps": 10, "duration": "60s"}},
        "slos": specs if specs is not None else [LATENCY, THROUGHPUT],
        "gate": gate or {"min_samples": 20},
    }
    return make_report(name="gate-unit", scenario=scenario, slos=slos, **fields)


def verdicts(out: Report) -> dict[str, str]:
    return {s.name: s.verdict for s in out.slos}


def test_verdicts_are_recomputed_from_the_stored_values() -> None:
    # Stored verdicts contradict the values: the gate trusts the values.
    out = regate(report([stored("lat", 0.6, "pass"), stored("rps", 8.0, "fail")]))
    assert verdicts(out) == {"lat": "fail", "rps": "pass"}
    assert (out.verdict, out.exit_code) == ("fail", 1)
    lat = next(s for s in out.slos if s.name == "lat")
    assert "600 ms" in lat.detail and "< 500ms" in lat.detail


def test_an_edited_objective_is_applied_to_the_stored_value() -> None:
    stored_slos = [stored("lat", 0.6, "fail"), stored("rps", 8.0)]
    relaxed = [{**LATENCY, "objective": "< 1s"}, THROUGHPUT]
    out = regate(report(stored_slos, specs=relaxed))
    assert verdicts(out) == {"lat": "pass", "rps": "pass"}
    assert (out.verdict, out.exit_code) == ("pass", 0)


def test_warn_level_gives_warn_and_exit_0() -> None:
    specs = [{**LATENCY, "warn": "< 300ms"}, THROUGHPUT]
    out = regate(report([stored("lat", 0.4), stored("rps", 8.0)], specs=specs))
    assert verdicts(out) == {"lat": "warn", "rps": "pass"}
    assert (out.verdict, out.exit_code) == ("warn", 0)


def test_min_samples_and_inconclusive_fails_come_from_the_scenario() -> None:
    slos = [stored("lat", 0.1, samples=15), stored("rps", 8.0, samples=500)]
    strict = regate(report(slos, gate={"min_samples": 20}))
    assert verdicts(strict)["lat"] == "inconclusive"
    assert (strict.verdict, strict.exit_code) == ("inconclusive", 1)
    lenient = regate(report(slos, gate={"min_samples": 20, "inconclusive_fails": False}))
    assert (lenient.verdict, lenient.exit_code) == ("inconclusive", 0)
    few = regate(report(slos, gate={"min_samples": 10}))
    assert (few.verdict, few.exit_code) == ("pass", 0)


def test_a_missing_value_keeps_its_stored_reason() -> None:
    slos = [stored("lat", None, "inconclusive", 0, "no Prometheus URL"), stored("rps", 8.0)]
    out = regate(report(slos))
    lat = next(s for s in out.slos if s.name == "lat")
    assert (lat.verdict, lat.detail) == ("inconclusive", "no Prometheus URL")


def test_regate_leaves_the_stored_report_unchanged() -> None:
    original = report([stored("lat", 0.6, "pass"), stored("rps", 8.0)])
    regate(original)
    assert original.slos[0].verdict == "pass"


# --- baseline and --max-regression -------------------------------------------------


def current_and_baseline(lat: float, old_lat: float, rps: float = 8.0, old_rps: float = 8.0):
    current = report([stored("lat", lat), stored("rps", rps)])
    baseline = report(
        [stored("lat", old_lat), stored("rps", old_rps)], run_id="20251231-120000-gate-unit"
    )
    return current, baseline


def test_a_baseline_attaches_regressions_without_failing_by_itself() -> None:
    current, baseline = current_and_baseline(lat=0.375, old_lat=0.25, rps=6.0, old_rps=8.0)
    out = regate(current, baseline)
    by_name = {s.name: s for s in out.slos}
    assert by_name["lat"].baseline_value == 0.25
    assert by_name["lat"].regression == pytest.approx(0.5)
    assert by_name["rps"].regression == pytest.approx(0.25)  # fewer rps is worse
    assert (out.verdict, out.exit_code) == ("pass", 0)
    assert out.baseline_run_id == "20251231-120000-gate-unit"


def test_max_regression_fails_an_slo_that_regressed_more() -> None:
    current, baseline = current_and_baseline(lat=0.375, old_lat=0.25)  # +50%
    out = regate(current, baseline, max_regression_pct=20)
    assert verdicts(out) == {"lat": "fail", "rps": "pass"}
    assert (out.verdict, out.exit_code) == ("fail", 1)
    assert "within 20%" in next(s for s in out.slos if s.name == "lat").detail


def test_max_regression_lets_a_smaller_regression_pass() -> None:
    current, baseline = current_and_baseline(lat=0.3125, old_lat=0.25)  # +25%
    out = regate(current, baseline, max_regression_pct=30)
    assert (out.verdict, out.exit_code) == ("pass", 0)


def test_max_regression_applies_to_higher_is_better_slos() -> None:
    current, baseline = current_and_baseline(lat=0.25, old_lat=0.25, rps=6.0, old_rps=8.0)
    out = regate(current, baseline, max_regression_pct=10)  # 25% fewer rps
    assert verdicts(out) == {"lat": "pass", "rps": "fail"}
    assert out.exit_code == 1


def test_max_regression_overrides_the_scenario_relative_objective() -> None:
    specs = [{**LATENCY, "baseline": "within 100%"}, THROUGHPUT]
    current = report([stored("lat", 0.375), stored("rps", 8.0)], specs=specs)
    baseline = report([stored("lat", 0.25), stored("rps", 8.0)], specs=specs)
    assert regate(current, baseline).verdict == "pass"  # +50% is within 100%
    assert regate(current, baseline, max_regression_pct=10).verdict == "fail"


def test_scenario_relative_objective_applies_without_max_regression() -> None:
    specs = [{**LATENCY, "baseline": "within 10%"}, THROUGHPUT]
    current = report([stored("lat", 0.375), stored("rps", 8.0)], specs=specs)
    baseline = report([stored("lat", 0.25), stored("rps", 8.0)], specs=specs)
    assert verdicts(regate(current, baseline)) == {"lat": "fail", "rps": "pass"}


def test_max_regression_without_a_baseline_does_nothing() -> None:
    current, _ = current_and_baseline(lat=0.375, old_lat=0.25)
    out = regate(current, None, max_regression_pct=0)
    assert (out.verdict, out.exit_code) == ("pass", 0)
    assert all(s.regression is None for s in out.slos)


# --- partial reports -------------------------------------------------------------


@pytest.mark.parametrize("lat", [0.1, 0.4, 0.9])  # would pass, warn, fail if complete
def test_a_partial_report_never_passes(lat: float) -> None:
    specs = [{**LATENCY, "warn": "< 300ms"}, THROUGHPUT]
    out = regate(
        report(
            [stored("lat", lat), stored("rps", 8.0)],
            specs=specs,
            status="partial",
            partial_reason="target stopped answering",
        )
    )
    assert (out.verdict, out.exit_code) == ("fail", 1)


def test_a_partial_inconclusive_report_fails_the_gate_even_when_inconclusive_is_allowed() -> None:
    out = regate(
        report(
            [stored("lat", 0.1, samples=3), stored("rps", 8.0)],
            gate={"min_samples": 20, "inconclusive_fails": False},
            status="partial",
        )
    )
    assert (out.verdict, out.exit_code) == ("inconclusive", 1)


def test_the_same_complete_report_passes() -> None:
    out = regate(report([stored("lat", 0.1), stored("rps", 8.0)], status="complete"))
    assert (out.verdict, out.exit_code) == ("pass", 0)
