"""`slakit check`: the CI gate on a stored report, without sending load.

A stored report is first held to what its own data supports (`verified_report`): every
SLO of its embedded scenario has exactly one result, its status agrees with its partial
reason and its length, and where its samples lie beside it, the client-side values are
what they give. A report that does not add up is refused (exit 2), never re-gated.
Verdicts are then recomputed from the stored values and the scenario's objectives, and
an optional baseline comparison fails every SLO that regressed more than allowed.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from slakit import evaluate as ev
from slakit.errors import InputError
from slakit.load.samples import read_samples
from slakit.repeat import combined_report, run_dir_name
from slakit.report.model import Report, SloResult
from slakit.report.writer import load_report, report_file
from slakit.scenario import Scenario
from slakit.verdict import judge_measurement, judge_run
from slakit.yamlconf import format_validation_error

SCHEDULE_SLACK_S = 0.5  # a complete run ends on schedule (runner: min(now, start + total))
VALUE_REL_TOL = 1e-9  # recomputed from the same samples, a value agrees to rounding
SHOWN_DIGITS = 12  # enough to show a disagreement beyond VALUE_REL_TOL
MATCHED_FIELDS = ("sli", "aggregation", "scope", "turn")  # what a stored value is a measure of


def verified_report(path: Path) -> Report:
    """The stored report at `path`, if its data adds up; InputError with one
    `REPORT: field: problem` line per contradiction otherwise."""
    report = load_report(path)
    file = report_file(path)
    samples = read_samples(file.parent)  # none when only the report was kept
    problems = contradictions(report, None if samples.empty else samples)
    if report.repeats is not None and not problems:
        problems = _repeats_contradictions(report, file.parent)
    if problems:
        raise InputError(*(f"{file}: {problem}" for problem in problems))
    return report


def contradictions(report: Report, samples: pd.DataFrame | None = None) -> list[str]:
    """`field: problem` for everything in `report` its own data does not support;
    `samples` (the run's, if kept) re-measure its client-side values."""
    try:
        scenario = Scenario.model_validate(report.scenario)
    except ValidationError as exc:
        return format_validation_error(exc, "scenario")
    problems = _unmatched(report.slos, scenario) + _status(report, scenario)
    problems += [
        f"slos.{i}.value: {r.value} is not a finite number"
        for i, r in enumerate(report.slos)
        if r.value is not None and not math.isfinite(r.value)
    ]
    if samples is not None and not problems:
        problems = _remeasured(report, scenario, samples)
    return problems


def _repeats_contradictions(report: Report, directory: Path) -> list[str]:
    """A repeated run's SLOs and spreads are what its runs' own reports give, each of
    those verified in turn; a run whose directory was not kept is not re-read."""
    scenario = Scenario.model_validate(report.scenario)
    problems = [
        f"repeats.runs.{i}.dir: {run.dir!r}, not {run_dir_name(i)!r}"
        for i, run in enumerate(report.repeats.runs)
        if run.dir != run_dir_name(i)
    ]
    if problems or not all(
        (directory / r.dir / "report.json").is_file() for r in report.repeats.runs
    ):
        return problems
    try:
        runs = [verified_report(directory / r.dir) for r in report.repeats.runs]
    except InputError as exc:
        return exc.problems
    again = combined_report(scenario, runs, report.run_id)
    if again.repeats.slos != report.repeats.slos:
        problems.append("repeats.slos: not the spread the runs' own reports give")
    for i, (stored, fresh) in enumerate(zip(report.slos, again.slos, strict=False)):
        if not _same(stored.value, fresh.value) or stored.samples != fresh.samples:
            problems.append(
                f"slos.{i}: value {stored.value} over {stored.samples} samples stored, but the "
                f"runs' own reports give {fresh.value} over {fresh.samples}"
            )
    return problems


def _unmatched(results: list[SloResult], scenario: Scenario) -> list[str]:
    """Each SLO of the scenario has exactly one result measuring what it names: a dropped
    result would go unjudged, a renamed one would be judged against nothing."""
    wanted = {slo.name: slo for slo in scenario.slos}
    counts = Counter(r.name for r in results)
    problems = [f"slos: {name!r} has {n} results, not one" for name, n in counts.items() if n > 1]
    problems += [
        f"slos: no result for the scenario's SLO {name!r}" for name in wanted if name not in counts
    ]
    for i, result in enumerate(results):
        slo = wanted.get(result.name)
        if slo is None:
            names = ", ".join(wanted) or "none"
            problems.append(
                f"slos.{i}.name: {result.name!r} is not an SLO of the scenario (its SLOs: {names})"
            )
            continue
        problems += [
            f"slos.{i}.{field}: {getattr(result, field)!r}, but the scenario's SLO "
            f"{slo.name!r} has {getattr(slo, field)!r}"
            for field in MATCHED_FIELDS
            if getattr(result, field) != getattr(slo, field)
        ]
    return problems


def _status(report: Report, scenario: Scenario) -> list[str]:
    """A partial run says why; a complete one says nothing of the kind and ran its whole
    schedule (a sweep's length depends on where it stopped, so it is not held to one)."""
    if scenario.repeat > 1 and report.repeats is None:
        return [f"repeats: none, but the scenario repeats {scenario.repeat} times"]
    if report.status == "partial":
        return [] if report.partial_reason else ["partial_reason: a partial report says why"]
    if report.repeats is not None and len(report.repeats.runs) != scenario.repeat:
        ran = len(report.repeats.runs)
        return [f"status: 'complete', but {ran} of the scenario's {scenario.repeat} runs ran"]
    if report.partial_reason:
        return [f"status: 'complete', but partial_reason says {report.partial_reason!r}"]
    lasted, scheduled = report.ended_at - report.started_at, scenario.total_duration()
    if scenario.load.mode != "sweep" and lasted < scheduled - SCHEDULE_SLACK_S:
        return [f"status: 'complete', but the run lasted {lasted:g} s of its {scheduled:g} s"]
    return []


def _remeasured(report: Report, scenario: Scenario, samples: pd.DataFrame) -> list[str]:
    """Client-side values and sample counts as the run's own samples give them, over the
    report's evaluation window: a stored value that differs was not measured."""
    window = ev.EvalWindow(report.warmup_end, report.ended_at)
    again = {
        r.name: r
        for r in ev.evaluate_slos(scenario, samples, window, prometheus=None)
        if r.side == "client"
    }
    problems = []
    for i, stored in enumerate(report.slos):
        fresh = again.get(stored.name)
        if fresh is None:
            continue
        if not _same(stored.value, fresh.value):
            problems.append(
                f"slos.{i}.value: {stored.value:.{SHOWN_DIGITS}g} stored, but the samples "
                f"beside the report give {fresh.value:.{SHOWN_DIGITS}g}"
            )
        if stored.samples != fresh.samples:
            problems.append(
                f"slos.{i}.samples: {stored.samples} stored, but the samples beside the report "
                f"give {fresh.samples}"
            )
    return problems


def _same(stored: float | None, fresh: float | None) -> bool:
    if stored is None or fresh is None:
        return stored is fresh
    return math.isclose(stored, fresh, rel_tol=VALUE_REL_TOL)


def regate(
    report: Report, baseline: Report | None = None, max_regression_pct: float | None = None
) -> Report:
    """`report` judged again from its stored values (and against `baseline`, allowing
    `max_regression_pct` percent of worsening, if given). Assumes a verified report. The
    measurement bound is judged from the stored wire check, against the verdicts before
    any baseline comparison: whether a verdict changes on wire times is about objectives."""
    scenario = Scenario.model_validate(report.scenario)
    slos = _rejudged(report.slos, scenario)
    measurement = report.measurement
    if measurement is not None:
        measurement = measurement.model_copy(
            update={"wire_slos": _rejudged(measurement.wire_slos, scenario)}
        )
    measurement = judge_measurement(measurement, slos, scenario.gate.max_measurement_error)
    if baseline is not None:
        if max_regression_pct is not None:
            # 15 significant digits print a typed percentage back exactly as typed
            allowed = f"within {max_regression_pct:.15g}%"
            scenario = scenario.model_copy(
                update={"slos": [s.model_copy(update={"baseline": allowed}) for s in scenario.slos]}
            )
        slos = ev.compare_baseline(slos, baseline.slos, scenario.slos)
    verdict, code = judge_run(
        slos,
        scenario.gate.inconclusive_fails,
        partial=report.status == "partial",
        capacity_found=report.capacity_rps is not None if report.sweep else None,
        measurement=measurement.verdict if measurement else None,
    )
    return report.model_copy(
        update={
            "slos": slos,
            "measurement": measurement,
            "verdict": verdict,
            "exit_code": code,
            "baseline_run_id": baseline.run_id if baseline else report.baseline_run_id,
        }
    )


def _rejudged(results: list[SloResult], scenario: Scenario) -> list[SloResult]:
    """Each stored result judged again by its SLO's objective in `scenario`. A result for
    no SLO of it is dropped: `verified_report` refuses those among the report's own SLOs,
    so only a hand-edited wire check can hold one, and it judges nothing."""
    by_name = {s.name: s for s in scenario.slos}
    slos = []
    for result in filter(lambda r: r.name in by_name, results):
        slo = by_name[result.name]
        verdict, detail = ev.judge(
            slo, result.value, result.samples, scenario.gate.min_samples, result.detail
        )
        slos.append(
            result.model_copy(
                update={
                    "verdict": verdict,
                    "detail": detail,
                    "objective": slo.objective,
                    "warn": slo.warn,
                }
            )
        )
    return slos
