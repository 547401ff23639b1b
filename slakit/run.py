"""`slakit run scenario`: resolve the target, offer the load, collect server series,
judge every SLO, write the reports. The exit code is the CI gate."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
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
from slakit.errors import InputError
from slakit.gate import regate, verified_report
from slakit.limits import explain, why_late
from slakit.load.arrivals import read_schedules
from slakit.load.prompts import check_sources
from slakit.load.runner import Interrupt, StepResult, run_step
from slakit.load.samples import outcome_counts, read_samples
from slakit.load.users import read_generator_costs
from slakit.metrics import Window, panel_series, read_scrape, server_series, wait_for_scrape
from slakit.paths import new_run_dir
from slakit.report.model import LoadInfo, Report, ScrapeSettings, SweepStep
from slakit.report.writer import write_reports
from slakit.scenario import EmbeddedTarget, ExplicitTarget, Scenario, load_scenario
from slakit.stack import supervisor
from slakit.stack.config import StackConfig, load_stack_config
from slakit.stack.parts import alerts_file
from slakit.stack.webhook import read_alerts
from slakit.target import ResolvedTarget, check_reachable, from_explicit, from_stack
from slakit.verdict import judge_measurement, judge_run, overall
from slakit.wire.capture import Capture
from slakit.wire.check import capture_ports, measure, refuse_unsupported
from slakit.yamlconf import load_model

MAX_LATE_SHARE = 0.05
RATE_TOLERANCE = 0.05


def _embedded(scenario: Scenario, spec: EmbeddedTarget) -> tuple[StackConfig, bool]:
    """The embedded stack for this run: reuse a matching one, else bring it up."""
    cfg = load_stack_config(None, engine=spec.engine, sim={**_sim_defaults(), **spec.sim})
    running = supervisor.running_engine(cfg)
    if running is not None:
        engine, sim = running
        if engine != spec.engine or (engine == "sim" and sim != cfg.sim.model_dump()):
            raise InputError(
                f"target: the embedded stack in {cfg.state_dir} runs engine {engine!r} "
                f"with other settings than this scenario needs ({spec.engine!r}); "
                "run `slakit stack down` first, or use another SLAKIT_STACK_STATE_DIR"
            )
        return cfg, False
    supervisor.up(cfg)
    return cfg, True


def _sim_defaults() -> dict:
    return StackConfig().sim.model_dump()


def resolve_target(scenario: Scenario, target_file: Path | None):
    """(ResolvedTarget, stack config or None, whether this run started the stack)."""
    if target_file is not None:
        return from_explicit(load_model(target_file, ExplicitTarget)), None, False
    if isinstance(scenario.target, EmbeddedTarget):
        cfg, started = _embedded(scenario, scenario.target)
        return from_stack(cfg), cfg, started
    return from_explicit(scenario.target), None, False


def run_scenario(
    path: Path,
    out_root: Path,
    baseline_path: Path | None = None,
    target_file: Path | None = None,
    wire_check: bool = False,
) -> tuple[Report, Path]:
    """`wire_check`: capture the load's own traffic on loopback and report the client's
    measurement error against it (`slakit.wire.check`)."""
    scenario = load_scenario(path)
    refuse_unsupported(scenario, wire_check)
    check_sources(scenario)
    baseline = verified_report(baseline_path) if baseline_path else None
    target, stack_cfg, started_stack = resolve_target(scenario, target_file)
    try:
        ports = capture_ports(scenario, target) if wire_check else None
        check_reachable(scenario, target)
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.run_dir_name()}"
        run_dir = new_run_dir(out_root, run_id)
        with Interrupt() as interrupt:  # from here on a signal cuts the run, never aborts it
            report = _run(scenario, path, target, run_dir, stack_cfg, ports)
            if interrupt.reason and report.status == "complete":
                report = _cut_after_load(report, interrupt.reason)
            if baseline is not None:
                report = regate(report, baseline)
            write_reports(report, run_dir)
        return report, run_dir
    finally:
        if started_stack and not scenario.target.keep:
            supervisor.down(stack_cfg)


def _run(scenario, path, target, run_dir, stack_cfg, ports) -> Report:
    """The load (one step or a sweep) and the report built from it."""
    scrape = read_scrape(target.prometheus) if target.prometheus else None
    if scenario.load.sweep:
        return _sweep(scenario, path, target, run_dir, stack_cfg, scrape)
    rate = scenario.load.rate
    with Capture(run_dir, ports) if ports else nullcontext() as capture:
        step = run_step(
            scenario,
            target,
            run_dir,
            rps=rate.rps if rate else None,
            duration=rate.duration if rate else None,
            arrivals=rate.arrivals if rate else "poisson",
            label=scenario.name,
        )
    samples = read_samples(run_dir)
    return _report(
        scenario, path, target, run_dir, [step], samples, stack_cfg, scrape, capture=capture
    )


def _cut_after_load(report: Report, reason: str) -> Report:
    """A signal once the load was over (while the server series were fetched or the report
    made): what was measured stands, but the run says it did not finish, and is judged so."""
    cut = f"{reason} after the load, while the report was being made"
    return regate(report.model_copy(update={"status": "partial", "partial_reason": cut}))


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


def _report(
    scenario: Scenario,
    path: Path,
    target: ResolvedTarget,
    run_dir: Path,
    steps: list[StepResult],
    samples: pd.DataFrame,
    stack_cfg: StackConfig | None,
    scrape: ScrapeSettings | None,
    sweep: list[SweepStep] | None = None,
    capacity: float | None = None,
    judged: tuple[list, ev.EvalWindow] | None = None,
    capture: Capture | None = None,
) -> Report:
    started, ended = steps[0].started, steps[-1].ended
    warmup_end = min(started + scenario.warmup, ended)
    window = ev.EvalWindow(warmup_end, ended)
    partial = next((s.partial_reason for s in steps if s.partial_reason), None)
    if scrape:
        wait_for_scrape(scrape, ended)
    prom = Window(target.prometheus, warmup_end, ended, scrape) if scrape else None
    if judged is None:
        slos = ev.evaluate_slos(scenario, samples, window, prom)
        load = _load_info(scenario, samples, window, steps[0].requested_rps, run_dir)
    else:
        slos = judged[0]
        load = _load_info(scenario, samples, judged[1], None, run_dir)
    kinds = ev.summarise_kinds(samples, window)
    load.from_due_differs = ev.from_due_differs(kinds["all"])
    points = ev.timeseries(samples)
    signals = server_series(target.prometheus, started, ended, scrape) if scrape else []
    panels = (
        panel_series(target.prometheus, started, ended, scrape, report_dashboards(scenario))
        if scrape
        else []
    )
    measurement = judge_measurement(
        measure(capture, samples, scenario, window) if capture else None,
        slos,
        scenario.gate.max_measurement_error,
    )
    verdict, code = judge_run(
        slos,
        scenario.gate.inconclusive_fails,
        partial=bool(partial),
        capacity_found=capacity is not None if sweep is not None else None,
        measurement=measurement.verdict if measurement else None,
    )
    return Report(
        run_id=run_dir.name,
        scenario_name=scenario.name,
        scenario_path=str(path),
        scenario=scenario.model_dump(mode="json"),
        target=target.public(),
        started_at=started,
        ended_at=ended,
        warmup_end=warmup_end,
        status="partial" if partial else "complete",
        partial_reason=partial,
        load=load,
        slos=slos,
        kinds=kinds,
        timeseries=points,
        server=panels,
        sweep=sweep or [],
        capacity_rps=capacity,
        limits=explain(slos, kinds, load, signals, points),
        alerts=_alerts(stack_cfg, started),
        measurement=measurement,
        scrape=scrape,
        verdict=verdict,
        exit_code=code,
    )


def report_dashboards(scenario: Scenario) -> list[DashboardDef]:
    """The Grafana dashboards whose panels the report draws for this workload."""
    kinds = {k.kind for k in scenario.workload}
    chosen = [VLLM_DASHBOARD, GATEWAY_DASHBOARD]
    if kinds & {"es_search", "es_bulk", "rag"}:
        chosen.append(ELASTICSEARCH_DASHBOARD)
    return chosen


def _alerts(stack_cfg: StackConfig | None, since: float) -> list[dict]:
    if stack_cfg is None:
        return []
    return [a for a in read_alerts(alerts_file(stack_cfg)) if a["received_at"] >= since]


def sweep_rates(scenario: Scenario) -> list[float]:
    sweep = scenario.load.sweep
    if sweep.rates:
        return sweep.rates[: sweep.max_steps]
    count = int(math.log(sweep.max_rps / sweep.start, sweep.factor)) + 1
    return [sweep.start * sweep.factor**i for i in range(min(count, sweep.max_steps))]


def _sweep(
    scenario: Scenario,
    path: Path,
    target: ResolvedTarget,
    run_dir: Path,
    stack_cfg: StackConfig | None,
    scrape: ScrapeSettings | None,
) -> Report:
    """Step (or bisect) the open-loop rate until an SLO breaks; capacity = highest pass."""
    sweep = scenario.load.sweep
    steps: list[StepResult] = []
    results: list[SweepStep] = []
    frames = []

    def measure(rate: float) -> bool:
        out = run_dir / f"step-{len(steps):02d}"
        step = run_step(
            scenario,
            target,
            out,
            rps=rate,
            duration=sweep.step_duration,
            arrivals=sweep.arrivals,
            label=f"{scenario.name} @ {rate:g} req/s",
        )
        steps.append(step)
        frame = read_samples(out)
        frames.append(frame)
        window = ev.EvalWindow(min(step.started + scenario.warmup, step.ended), step.ended)
        if scrape:
            wait_for_scrape(scrape, step.ended)
        prom = Window(target.prometheus, window.start, window.end, scrape) if scrape else None
        slos = ev.evaluate_slos(scenario, frame, window, prom)
        verdict, _ = overall(slos, scenario.gate.inconclusive_fails)
        info = _load_info(scenario, frame, window, rate, out)
        held = verdict in ("pass", "warn") and info.kept_up and not step.partial_reason
        results.append(
            SweepStep(
                rate=rate,
                achieved_rps=info.achieved_rps,
                verdict=verdict if held or verdict == "fail" else "fail",
                slos=slos,
            )
        )
        return held

    passed: list[float] = []
    failed: list[float] = []
    for rate in sweep_rates(scenario):
        (passed if measure(rate) else failed).append(rate)
        if failed or steps[-1].partial_reason:
            break
    while (
        sweep.mode == "bisect"
        and passed
        and failed
        and len(steps) < sweep.max_steps
        and not steps[-1].partial_reason
        and (min(failed) - max(passed)) / min(failed) > sweep.precision
    ):
        mid = (max(passed) + min(failed)) / 2
        (passed if measure(mid) else failed).append(mid)
    capacity = max(passed) if passed else None
    best = next((r for r in results if r.rate == capacity), results[-1])
    best_step = steps[results.index(best)]
    window = ev.EvalWindow(
        min(best_step.started + scenario.warmup, best_step.ended), best_step.ended
    )
    return _report(
        scenario,
        path,
        target,
        run_dir,
        steps,
        pd.concat(frames),
        stack_cfg,
        scrape,
        sweep=results,
        capacity=capacity,
        judged=(best.slos, window),
    )
