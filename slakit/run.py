"""`slakit run scenario`: resolve the target, offer the load, collect server series,
judge every SLO, write the reports. The exit code is the CI gate."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

from slakit.aggregate import Measured, Run, build_report, judge_step
from slakit.errors import InputError
from slakit.gate import regate, verified_report
from slakit.load.profiles import profile_for
from slakit.load.prompts import check_sources, for_step
from slakit.load.runner import Interrupt, run_step
from slakit.metrics import read_scrape
from slakit.paths import new_run_dir
from slakit.repeat import combined_report, one_run, run_dir_name
from slakit.report.model import Report
from slakit.report.writer import write_reports
from slakit.scenario import EmbeddedTarget, ExplicitTarget, Scenario, load_scenario
from slakit.stack import fault_driver, supervisor
from slakit.stack.config import StackConfig, load_stack_config
from slakit.target import check_reachable, from_explicit, from_stack
from slakit.wire.capture import Capture
from slakit.wire.check import capture_ports, refuse_unsupported
from slakit.yamlconf import load_model


def _embedded(scenario: Scenario, spec: EmbeddedTarget) -> tuple[StackConfig, bool]:
    """The embedded stack for this run: reuse a matching one, else bring it up."""
    cfg = load_stack_config(
        None, engine=spec.engine, sim={**_sim_defaults(), **spec.sim}, replicas=spec.replicas
    )
    running = supervisor.running_engine(cfg)
    if running is not None:
        engine, sim, replicas = running
        other_sim = engine == "sim" and sim != cfg.sim.model_dump()
        if engine != spec.engine or other_sim or replicas != spec.replicas:
            raise InputError(
                f"target: the embedded stack in {cfg.state_dir} runs engine {engine!r} "
                f"({replicas} replicas) with other settings than this scenario needs "
                f"({spec.engine!r}, {spec.replicas}); "
                "run `slakit stack down` first, or use another SLAKIT_STACK_STATE_DIR"
            )
        return supervisor.running_config(cfg), False  # as it runs: secured or not
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
            if scenario.repeat > 1:
                report = _repeated(scenario, path, target, run_dir, stack_cfg, interrupt)
            else:
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
    """The load, step by step as the scenario's profile decides (each step judged before
    the next is chosen), and the report built from the steps."""
    scrape = read_scrape(target.prometheus) if target.prometheus else None
    run = Run(scenario, path, target, run_dir, stack_cfg, scrape)
    profile = profile_for(scenario)
    steps: list[Measured] = []
    while (step := profile.next_step(steps[-1].outcome if steps else None)) is not None:
        out = run_dir / step.dir
        with (
            Capture(out, ports) if ports else nullcontext() as capture,
            fault_driver.injected(scenario.faults, stack_cfg, out),
        ):
            result = run_step(for_step(scenario, len(steps)), target, out, step)
        steps.append(judge_step(run, step, result, capture))
    return build_report(run, steps, profile.finding())


def _repeated(scenario, path, target, run_dir, stack_cfg, interrupt) -> Report:
    """`repeat: N`: the scenario's runs one after another, each with its own reports in
    its own directory, until N ran or one was cut; then the report judged on their spread."""
    runs = []
    for i in range(scenario.repeat):
        out = run_dir / run_dir_name(i)
        print(f"slakit: run {i + 1} of {scenario.repeat} -> {out}", flush=True)
        runs.append(_run(one_run(scenario, i), path, target, out, stack_cfg, ports=None))
        write_reports(runs[-1], out)
        if interrupt.reason or runs[-1].status == "partial":
            break
    return combined_report(scenario, runs, run_dir.name)


def _cut_after_load(report: Report, reason: str) -> Report:
    """A signal once the load was over (while the server series were fetched or the report
    made): what was measured stands, but the run says it did not finish, and is judged so."""
    cut = f"{reason} after the load, while the report was being made"
    return regate(report.model_copy(update={"status": "partial", "partial_reason": cut}))
