"""Run Locust for one load step, locally or as master + N worker processes.

Watches the run once a second: live progress, Ctrl-C, and a target that stopped
answering (every request failing to connect for `DEAD_AFTER_S`) all end the run early
with the samples so far kept and the reason recorded.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gevent
from locust.env import Environment
from locust.runners import STATE_STOPPED, STATE_STOPPING

from slakit.load.progress import LiveProgress
from slakit.load.samples import SampleWriter
from slakit.load.users import Plan, build_plan, make_shape, make_user, shape_steps
from slakit.scenario import Scenario
from slakit.target import ResolvedTarget

DEAD_AFTER_S = 5
WORKER_CONNECT_TIMEOUT_S = 60


@dataclass
class StepResult:
    """What happened during one load step."""

    started: float
    ended: float
    partial_reason: str | None = None
    requested_rps: float | None = None


class _Interrupt:
    """SIGINT/SIGTERM flag: the first signal ends the run gracefully."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __enter__(self) -> _Interrupt:
        self._old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for sig in self._old:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.reason = f"interrupted by {signal.Signals(signum).name}"

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def run_step(
    scenario: Scenario,
    scenario_path: Path,
    target: ResolvedTarget,
    out_dir: Path,
    *,
    rps: float | None = None,
    duration: float | None = None,
    arrivals: str = "poisson",
    label: str = "",
) -> StepResult:
    """One load step: a `users` run, or an open-loop run at `rps` for `duration`."""
    workers = scenario.load.distributed.workers if scenario.load.distributed else 0
    steps = shape_steps(scenario, duration)
    timeout = scenario.load.request_timeout
    total = sum(d for d, _, _ in steps)
    if workers:
        return _run_distributed(
            scenario,
            scenario_path,
            target,
            out_dir,
            steps,
            workers,
            rps,
            arrivals,
            timeout,
            total,
            label,
        )
    plan = build_plan(
        scenario,
        target,
        SampleWriter(out_dir / "samples-local.jsonl"),
        rps=rps,
        arrivals=arrivals,
        duration=total,
    )
    try:
        env = _environment(plan, timeout, steps)
        runner = env.create_local_runner()
        return _drive(env, runner, total, rps, label)
    finally:
        plan.close()


def _environment(plan: Plan, timeout: float, steps: list[tuple[float, int, float]]) -> Environment:
    """Locust's environment for one step. At the scheduled end, requests in flight get up
    to their own timeout to finish: cutting them would drop exactly the slowest ones."""
    return Environment(
        user_classes=[make_user(plan, timeout)],
        shape_class=make_shape(steps)(),
        stop_timeout=timeout,
    )


def _drive(env: Environment, runner, total: float, rps: float | None, label: str) -> StepResult:
    """Start the shape, watch once a second, stop on end, signal or a dead target."""
    started = time.time()
    runner.start_shape()
    reason = None
    dead_for = 0
    hard_deadline = time.monotonic() + total + 60
    with _Interrupt() as interrupt, LiveProgress(env, total, rps, label) as progress:
        while runner.state not in (STATE_STOPPED, STATE_STOPPING):
            gevent.sleep(1.0)
            delta = progress.update()
            dead_for = (
                dead_for + 1
                if delta.requests and delta.connection_failures == delta.requests
                else 0
            )
            if interrupt.reason:
                reason = interrupt.reason
            elif dead_for >= DEAD_AFTER_S:
                reason = (
                    f"target stopped answering: every request failed to connect for "
                    f"{DEAD_AFTER_S} s"
                )
            elif time.monotonic() > hard_deadline:
                reason = "the run did not end on schedule and was stopped"
            if reason:
                break
        if reason:
            env.stop_timeout = 0  # cut short: stop now, in-flight requests are abandoned
        runner.quit()
    # A run that ended on schedule is judged over its schedule; the drain of in-flight
    # requests after it is not load offered (those requests count: they started before).
    ended = time.time() if reason else min(time.time(), started + total)
    return StepResult(started, ended, reason, rps)


def _run_distributed(
    scenario, scenario_path, target, out_dir, steps, workers, rps, arrivals, timeout, total, label
) -> StepResult:
    """Locust's own master/worker runners: this process is the master, N local workers
    (the same worker command scales to other machines)."""
    plan = build_plan(scenario, target, SampleWriter(out_dir / "samples-master.jsonl"))
    plan.writer.close()  # the master sends no requests
    env = _environment(plan, timeout, steps)
    runner = env.create_master_runner("127.0.0.1", 0)
    port = runner.server.port
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slakit.load.worker",
                "--master-port",
                str(port),
                "--scenario",
                str(scenario_path),
                "--target-json",
                _target_json(target),
                "--out",
                str(out_dir / f"samples-worker{i}.jsonl"),
                "--index",
                str(i),
                "--workers",
                str(workers),
                "--arrivals",
                arrivals,
                "--duration",
                str(total),
            ]
            + (["--rps", str(rps)] if rps else []),
            stdout=subprocess.DEVNULL,
            stderr=(out_dir / f"worker{i}.log").open("w"),
        )
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + WORKER_CONNECT_TIMEOUT_S
        while runner.worker_count < workers and time.monotonic() < deadline:
            gevent.sleep(0.2)
        if runner.worker_count < workers:
            return StepResult(
                time.time(),
                time.time(),
                f"only {runner.worker_count} of {workers} workers connected",
                rps,
            )
        return _drive(env, runner, total, rps, label)
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _target_json(target: ResolvedTarget) -> str:
    return json.dumps(target.public())
