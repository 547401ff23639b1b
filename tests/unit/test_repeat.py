"""Repeated runs: the bootstrap interval against the normal approximation it converges to,
and which value of the spread the gate judges."""

from __future__ import annotations

import numpy as np
import pytest

from slakit.repeat import bootstrap_interval, combined_report
from slakit.report.html import render_html
from slakit.report.markdown import render_markdown
from slakit.scenario import Scenario
from tests.report_factory import make_report, make_slo

TTFT = {"name": "ttft-p95", "sli": "ttft", "aggregation": "p95", "objective": "< 250ms"}
GOODPUT = {"name": "goodput", "sli": "goodput", "aggregation": "ratio", "objective": ">= 99%"}


def _scenario(repeat: int, confidence: float | None = None) -> Scenario:
    gate = {"min_samples": 5} | ({"confidence": confidence} if confidence else {})
    return Scenario.model_validate(
        {
            "name": "repeated",
            "workload": [{"kind": "chat"}],
            "load": {"rate": {"rps": 2, "duration": "10s"}},
            "slos": [TTFT, GOODPUT],
            "gate": gate,
            "repeat": repeat,
        }
    )


def _runs(ttft: list[float], goodput: list[float], samples: int = 40):
    return [
        make_report(
            slos=[
                make_slo("ttft-p95", "ttft", "p95", "< 250ms", t, samples=samples),
                make_slo("goodput", "goodput", "ratio", ">= 99%", g, samples=samples),
            ]
        )
        for t, g in zip(ttft, goodput, strict=True)
    ]


def test_the_interval_matches_the_normal_approximation_for_many_runs() -> None:
    values = np.random.default_rng(3).normal(0.2, 0.03, size=400)
    low, high = bootstrap_interval(list(values), 0.95, seed=0)
    half = 1.96 * values.std() / np.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half, rel=0.01)
    assert high == pytest.approx(values.mean() + half, rel=0.01)


def test_the_interval_is_seeded() -> None:
    values = [0.21, 0.24, 0.19, 0.26]
    assert bootstrap_interval(values, 0.9, seed=5) == bootstrap_interval(values, 0.9, seed=5)


def test_the_mean_is_judged_without_a_confidence() -> None:
    report = combined_report(_scenario(3), _runs([0.20, 0.24, 0.30], [1.0] * 3), "r")
    ttft = report.slos[0]
    assert ttft.value == pytest.approx(0.74 / 3)
    assert ttft.verdict == "pass"
    assert report.repeats.slos[0].judged_on == "mean"
    assert report.repeats.slos[0].values == [0.20, 0.24, 0.30]
    assert report.exit_code == 0


def test_with_a_confidence_the_pessimistic_end_is_judged() -> None:
    # The mean (247 ms) meets < 250 ms; the upper end of its 95% interval does not.
    # Goodput is judged on its lower end (higher is better).
    runs = _runs([0.20, 0.24, 0.30], [0.999, 0.995, 0.98])
    report = combined_report(_scenario(3, confidence=0.95), runs, "r")
    ttft, goodput = report.slos
    spread_ttft, spread_goodput = report.repeats.slos
    assert spread_ttft.judged_on == "high" and ttft.value == spread_ttft.high > 0.25
    assert ttft.verdict == "fail"
    assert spread_goodput.judged_on == "low" and goodput.value == spread_goodput.low
    assert goodput.value < spread_goodput.mean
    assert report.verdict == "fail" and report.exit_code == 1


def test_a_run_with_too_few_samples_makes_the_slo_inconclusive() -> None:
    runs = _runs([0.1, 0.1], [1.0, 1.0]) + _runs([0.1], [1.0], samples=2)
    report = combined_report(_scenario(3), runs, "r")
    assert report.slos[0].verdict == "inconclusive" and report.slos[0].samples == 2


def test_fewer_runs_than_asked_is_partial_and_never_passes() -> None:
    report = combined_report(_scenario(3), _runs([0.1, 0.1], [1.0, 1.0]), "r")
    assert report.status == "partial" and report.partial_reason == "2 of 3 runs ran"
    assert report.exit_code == 1 and report.verdict == "fail"


def test_every_rendering_shows_each_run_and_the_interval() -> None:
    report = combined_report(_scenario(3, confidence=0.9), _runs([0.2, 0.22, 0.24], [1.0] * 3), "r")
    markdown = render_markdown(report)
    assert "3 of 3 runs ran (run-01 PASS, run-02 PASS, run-03 PASS)" in markdown
    assert "90% bootstrap intervals" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| ttft-p95 | 200 ms"))
    assert row.startswith("| ttft-p95 | 200 ms | 220 ms | 240 ms | 220 ms | ")
    assert row.endswith(" | interval's high end |")
    html = render_html(report)
    assert '<section id="repeats">' in html
    assert 'id="repeats-' in html  # the spread plot, inlined with its own ids
