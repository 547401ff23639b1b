"""Repeated runs (`repeat: N`): one scenario run N times, each SLO judged over its N values.

One run's p95 moves from run to run on a shared machine; N runs show by how much. Per SLO:
its value in each run, their mean, and a percentile-bootstrap interval of the mean
(resampling the runs, seeded by the scenario's seed, so `check` recomputes the same
interval). The gate judges the mean, or with `gate.confidence` the interval's pessimistic
end: the upper end of a latency, the lower end of a goodput. "p95 TTFT < 250 ms at 95%
confidence" then passes only when the runs leave little doubt that it holds.

Each run keeps its own directory and reports (`run-01`, ...); the combined report beside
them carries the SLOs judged on the spread, the runs' client series one after the other,
and the last run's load and server series.
"""

from __future__ import annotations

import numpy as np

from slakit import evaluate as ev
from slakit.report.model import RepeatRun, RepeatSummary, Report, SloResult, SloSpread
from slakit.scenario import Scenario, Slo
from slakit.units import parse_objective
from slakit.verdict import judge_run

RESAMPLES = 10_000  # bootstrap resamples: the interval's ends stable to well under 1%
SHOWN_CONFIDENCE = 0.95  # the interval a report shows when the gate judges the mean


def run_dir_name(index: int) -> str:
    """The directory of run `index` (0-based) under the combined report's."""
    return f"run-{index + 1:02d}"


def one_run(scenario: Scenario, index: int) -> Scenario:
    """The scenario as its run `index` (0-based) is: once, judged alone (its report stands
    and is checked on its own, like any single run's), seeded `seed + index`: each run
    draws its own arrivals and prompts, so the spread covers the schedule's chance too and
    a later run does not find the earlier runs' prompts in the server's prefix cache."""
    gate = scenario.gate.model_copy(update={"confidence": None})
    return scenario.model_copy(update={"repeat": 1, "gate": gate, "seed": scenario.seed + index})


def bootstrap_interval(values: list[float], confidence: float, seed: int) -> tuple[float, float]:
    """(low, high): the central `confidence` share of the means of RESAMPLES resamples of
    `values` (with replacement, each as many values as there are runs)."""
    data = np.asarray(values, dtype=float)
    means = np.random.default_rng(seed).choice(data, size=(RESAMPLES, len(data))).mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def spread(slo: Slo, values: list[float | None], gate_confidence: float | None, seed: int):
    """The SLO's SloSpread over its values per run; no mean or interval when a run has no
    value (the SLO is then inconclusive: one run said nothing)."""
    confidence = gate_confidence or SHOWN_CONFIDENCE
    if gate_confidence is None:
        judged_on = "mean"
    else:
        judged_on = "low" if parse_objective(slo.objective).higher_is_better else "high"
    out = SloSpread(name=slo.name, values=values, confidence=confidence, judged_on=judged_on)
    if any(v is None for v in values):
        return out
    low, high = bootstrap_interval(values, confidence, seed)
    return out.model_copy(update={"mean": float(np.mean(values)), "low": low, "high": high})


def combine_slos(scenario: Scenario, runs: list[Report]) -> tuple[list[SloResult], list[SloSpread]]:
    """Each SLO judged on its spread over `runs`. Its samples are the fewest of any run:
    a run with too few makes the SLO inconclusive, as it would have alone."""
    results, spreads = [], []
    for slo in scenario.slos:
        per_run = [next(r for r in run.slos if r.name == slo.name) for run in runs]
        sp = spread(slo, [r.value for r in per_run], scenario.gate.confidence, scenario.seed)
        value = None if sp.mean is None else getattr(sp, sp.judged_on)
        samples = min(r.samples for r in per_run)
        silent = next((i for i, r in enumerate(per_run) if r.value is None), None)
        note = "" if silent is None else f"{run_dir_name(silent)}: {per_run[silent].detail}"
        verdict, detail = ev.judge(slo, value, samples, scenario.gate.min_samples, note)
        update = {"value": value, "samples": samples, "verdict": verdict, "detail": detail}
        results.append(per_run[-1].model_copy(update={**update, "per_kind": {}}))
        spreads.append(sp)
    return results, spreads


def _cut_reason(scenario: Scenario, runs: list[Report]) -> str | None:
    """Why the repeated run is partial: a run was cut, or fewer runs ran than asked."""
    for i, run in enumerate(runs):
        if run.status == "partial":
            return f"{run_dir_name(i)} of {scenario.repeat} was cut: {run.partial_reason}"
    if len(runs) < scenario.repeat:
        return f"{len(runs)} of {scenario.repeat} runs ran"
    return None


def combined_report(scenario: Scenario, runs: list[Report], run_id: str) -> Report:
    """The report of a repeated scenario from its runs' own reports (in run order)."""
    slos, spreads = combine_slos(scenario, runs)
    reason = _cut_reason(scenario, runs)
    verdict, code = judge_run(slos, scenario.gate.inconclusive_fails, partial=bool(reason))
    summary = RepeatSummary(
        runs=[
            RepeatRun(dir=run_dir_name(i), status=r.status, verdict=r.verdict)
            for i, r in enumerate(runs)
        ],
        repeat=scenario.repeat,
        slos=spreads,
    )
    last = runs[-1]
    return last.model_copy(
        update={
            "run_id": run_id,
            "scenario": scenario.model_dump(mode="json"),
            "started_at": runs[0].started_at,
            "warmup_end": runs[0].warmup_end,
            "status": "partial" if reason else "complete",
            "partial_reason": reason,
            "slos": slos,
            "timeseries": [p for r in runs for p in r.timeseries],
            "alerts": [a for r in runs for a in r.alerts],
            "repeats": summary,
            "measurement": None,
            "verdict": verdict,
            "exit_code": code,
        }
    )
