"""Judging a run's steps and building its report: the one aggregator of `slakit run`.

Each step is judged over its own evaluation window (its span after the warm-up), with
the one verdict rule (`slakit.verdict.judge_run`); the report is built from the steps
and the profile's finding (`slakit.load.profiles`): the headline step's SLOs and load,
every request of the run counted, server series over the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from slakit import evaluate as ev
from slakit.catalogue.panels import (
    ELASTICSEARCH_DASHBOARD,
    GATEWAY_DASHBOARD,
    VLLM_DASHBOARD,
    DashboardDef,
)
from slakit.catalogue.thresholds import LATE_S
from slakit.limits import explain, why_late
from slakit.load.arrivals import read_schedules
from slakit.load.profiles import Finding, Outcome, Step
from slakit.load.runner import StepResult
from slakit.load.samples import outcome_counts, read_samples
from slakit.load.users import read_generator_costs
from slakit.metrics import Window, panel_series, server_series, wait_for_scrape
from slakit.report.model import (
    LoadInfo,
    Report,
    ScrapeSettings,
    SloResult,
    StageLoad,
    SweepStep,
)
from slakit.scenario import Scenario
from slakit.stack.config import StackConfig
from slakit.stack.fault_outcomes import outcomes, read_faults
from slakit.stack.log_streams import error_lines
from slakit.stack.parts import alerts_file
from slakit.stack.webhook import read_alerts
from slakit.target import ResolvedTarget
from slakit.traces.slowest import slowest_requests
from slakit.verdict import judge_measurement, judge_run
from slakit.wire.capture import Capture
from slakit.wire.check import measure

MAX_LATE_SHARE = 0.05
RATE_TOLERANCE = 0.05


@dataclass
class Run:
    """What every step of a run and its report share."""

    scenario: Scenario
    path: Path
    target: ResolvedTarget
    run_dir: Path
    stack_cfg: StackConfig | None
    scrape: ScrapeSettings | None  # None: no Prometheus, so no server series


@dataclass
class Measured:
    """One step run and judged on its own."""

    step: Step
    result: StepResult
    samples: pd.DataFrame
    window: ev.EvalWindow
    slos: list[SloResult]
    load: LoadInfo
    verdict: str
    capture: Capture | None

    @property
    def outcome(self) -> Outcome:
        return Outcome(
            self.step,
            self.verdict,
            self.load.kept_up,
            self.load.achieved_rps,
            self.result.partial_reason,
            self.result.saturated,
        )


def after_warmup(started: float, ended: float, warmup: float) -> ev.EvalWindow:
    """The evaluation window of a span of load: all of it after the warm-up."""
    return ev.EvalWindow(min(started + warmup, ended), ended)


def judge_step(run: Run, step: Step, result: StepResult, capture: Capture | None) -> Measured:
    """A step's SLOs (client and server side) and load over its own window."""
    scenario, out = run.scenario, run.run_dir / step.dir
    samples = read_samples(out)
    window = after_warmup(result.started, result.ended, scenario.warmup)
    prom = None
    if run.scrape:
        wait_for_scrape(run.scrape, result.ended)
        prom = Window(run.target.prometheus, window.start, window.end, run.scrape)
    slos = ev.evaluate_slos(scenario, samples, window, prom)
    load = _load_info(scenario, samples, window, step.rps, out)
    verdict, _ = judge_run(
        slos, scenario.gate.inconclusive_fails, partial=bool(result.partial_reason)
    )
    return Measured(step, result, samples, window, slos, load, verdict, capture)


def build_report(run: Run, steps: list[Measured], finding: Finding) -> Report:
    """The run's report: the headline step's SLOs and load (every request of the run
    counted), kinds and series over the whole run, and its verdict and exit code."""
    scenario, target, scrape = run.scenario, run.target, run.scrape
    head = steps[finding.headline]
    started, ended = steps[0].result.started, steps[-1].result.ended
    window = after_warmup(started, ended, scenario.warmup)
    partial = next((m.result.partial_reason for m in steps if m.result.partial_reason), None)
    samples = pd.concat([m.samples for m in steps])
    requested = None if finding.search else head.step.rps
    load = _load_info(scenario, samples, head.window, requested, run.run_dir)
    load.stages = _stages(head)
    kinds = ev.summarise_kinds(samples, window)
    load.from_due_differs = ev.from_due_differs(kinds["all"])
    points = ev.timeseries(samples)
    # Every step's judgement waited for the scrape after its end, the last one's too.
    signals = server_series(target.prometheus, started, ended, scrape) if scrape else []
    panels = (
        panel_series(target.prometheus, started, ended, scrape, report_dashboards(scenario))
        if scrape
        else []
    )
    measurement = judge_measurement(
        measure(head.capture, head.samples, scenario, head.window) if head.capture else None,
        head.slos,
        scenario.gate.max_measurement_error,
    )
    verdict, code = judge_run(
        head.slos,
        scenario.gate.inconclusive_fails,
        partial=bool(partial),
        capacity_found=finding.capacity_rps is not None if finding.search else None,
        measurement=measurement.verdict if measurement else None,
    )
    return Report(
        run_id=run.run_dir.name,
        scenario_name=scenario.name,
        scenario_path=str(run.path),
        scenario=scenario.model_dump(mode="json"),
        target=target.public(),
        started_at=started,
        ended_at=ended,
        warmup_end=window.start,
        status="partial" if partial else "complete",
        partial_reason=partial,
        load=load,
        slos=head.slos,
        kinds=kinds,
        timeseries=points,
        server=panels,
        sweep=[_sweep_step(m) for m in steps] if finding.search else [],
        capacity_rps=finding.capacity_rps,
        capacity_concurrency=finding.capacity_concurrency,
        search_note=finding.note,
        limits=explain(head.slos, kinds, load, signals, points),
        alerts=_alerts(run.stack_cfg, started),
        faults=outcomes(read_faults([run.run_dir / m.step.dir for m in steps]), samples, started),
        log_errors=error_lines(target.elasticsearch, started, ended, target.es_auth),
        measurement=measurement,
        slowest=_slowest(run, samples, window, ended),
        scrape=scrape,
        verdict=verdict,
        exit_code=code,
    )


def _stages(m: Measured) -> list[StageLoad]:
    """Per rate stage (or a ramp) of an open-loop step: requests due in it that were sent,
    and sent per second of it; none for one fixed rate, a trace or closed loop."""
    segments = m.step.pace.segments if m.step.pace else ()
    if len(segments) < 2 and all(s.start_rps == s.end_rps for s in segments):
        return []
    due = m.samples["start"] - m.samples["late_s"]
    stages, begin = [], m.result.started
    for segment in segments:
        end = begin + segment.duration
        sent = int(((due >= begin) & (due < end)).sum())
        started = int(((m.samples["start"] >= begin) & (m.samples["start"] < end)).sum())
        stages.append(
            StageLoad(
                start_rps=segment.start_rps,
                end_rps=segment.end_rps,
                duration_s=segment.duration,
                sent=sent,
                achieved_rps=started / segment.duration,
            )
        )
        begin = end
    return stages


def _sweep_step(m: Measured) -> SweepStep:
    """A search's step as the report lists it: a step that did not hold is a fail."""
    verdict = m.verdict if m.outcome.held else "fail"
    rate = m.load.achieved_rps if m.step.rps is None else m.step.rps
    return SweepStep(
        rate=rate,
        achieved_rps=m.load.achieved_rps,
        verdict=verdict,
        slos=m.slos,
        concurrency=m.step.concurrency,
        note=_step_note(m),
    )


def _step_note(m: Measured) -> str:
    """Why a step says more than its verdict: it ended early, saturated."""
    if m.result.saturated:
        lasted = m.result.ended - m.result.started
        return f"ended after {lasted:.0f} s of {m.step.duration:g} s: {m.result.saturated}"
    return ""


def _load_info(
    scenario: Scenario,
    frame: pd.DataFrame,
    window: ev.EvalWindow,
    requested: float | None,
    run_dir: Path,
) -> LoadInfo:
    """Offered vs achieved load; for open loop, whether the schedule was kept. How every
    request of the run ended is counted over all of it, so the counts add up."""
    completed, failed, cut = outcome_counts(frame)
    offered, never_sent = read_schedules(run_dir)
    cost = read_generator_costs(run_dir)
    load_s = max(float(frame["end"].max() - frame["start"].min()), 1e-9) if len(frame) else None
    frame = ev.in_window(frame, window)
    achieved = len(frame) / window.seconds
    late_share = float((frame["late_s"] > LATE_S).mean()) if len(frame) else 0.0
    info = LoadInfo(
        mode=scenario.load.mode,
        requested_rps=requested,
        achieved_rps=achieved,
        late_share=late_share,
        late_after_s=LATE_S,
        workers=scenario.load.distributed.workers if scenario.load.distributed else 0,
        offered=offered if scenario.load.mode != "users" else None,
        completed=completed,
        failed=failed,
        cut=cut,
        never_sent=never_sent,
        generator_cpu_s=cost.cpu_s if cost else None,
        generator_cpu_per_request_s=cost.cpu_s / cost.requests if cost and cost.requests else None,
        generator_cores=cost.cpu_s / load_s if cost and load_s else None,
    )
    if requested:
        info.offered_rps = offered / max(window.end - window.start + scenario.warmup, 1e-9)
        if never_sent > RATE_TOLERANCE * max(offered, 1) or late_share > MAX_LATE_SHARE:
            info.kept_up = False
            info.note = (
                f"the requested {requested:g} req/s was not kept: "
                f"{late_share:.0%} of requests went out more than "
                f"{LATE_S * 1000:.0f} ms late and {never_sent} of {offered} due were "
                f"never sent, {why_late(frame, scenario.load.open_loop_slots, LATE_S)}"
            )
    return info


def report_dashboards(scenario: Scenario) -> list[DashboardDef]:
    """The Grafana dashboards whose panels the report draws for this workload."""
    kinds = {k.kind for k in scenario.workload}
    chosen = [VLLM_DASHBOARD, GATEWAY_DASHBOARD]
    if kinds & {"es_search", "es_bulk", "rag"}:
        chosen.append(ELASTICSEARCH_DASHBOARD)
    return chosen


def _slowest(run: Run, samples: pd.DataFrame, window: ev.EvalWindow, ended: float):
    """The judged window's slowest requests, explained by their traces; None if none asked."""
    n = run.scenario.report.slowest
    if not n:
        return None
    return slowest_requests(ev.in_window(samples, window), run.target.jaeger, n, ended)


def _alerts(stack_cfg: StackConfig | None, since: float) -> list[dict]:
    if stack_cfg is None:
        return []
    return [a for a in read_alerts(alerts_file(stack_cfg)) if a["received_at"] >= since]
