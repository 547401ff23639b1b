"""Run Locust for one load step, locally or as master + N worker processes.

Watches the run every `WATCH_S`: live progress, Ctrl-C (SIGINT or SIGTERM at any moment
of the step), a target that stopped answering (every request failing to connect for
`DEAD_AFTER_S`), a lost worker and a run far past its schedule all end the run early,
with the samples so far kept, the requests in flight written as cut and the reason
recorded. An open-loop step that asks to be watched also ends early, on purpose and not
as a cut run, once its target is saturated (`slakit.load.saturation`). A run that ends
on schedule gives requests in flight their own deadline to finish, then ends: it never
waits for a timeout of Locust's own.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gevent
from locust.env import Environment
from locust.runners import STATE_STOPPED, STATE_STOPPING

from slakit.load import handoff
from slakit.load.profiles import Step
from slakit.load.progress import LiveProgress
from slakit.load.samples import SampleWriter, axis_time
from slakit.load.saturation import SaturationWatch
from slakit.load.users import Plan, build_plan, make_shape, make_user, shape_steps
from slakit.scenario import Scenario
from slakit.target import ResolvedTarget

WATCH_S = 1.0
DEAD_AFTER_S = 5
WORKER_CONNECT_TIMEOUT_S = 60
DRAIN_MARGIN_S = 1.0
"""The drain after the schedule outlasts a request's own deadline by this much, so a
request sent just before the end ends as what it was (a timeout, say), not as cut."""
LATE_END_S = 10
"""A run still going this long after its schedule and drain should have ended is stopped."""
WORKER_EXIT_S = 10
"""A worker process that has not exited this long after the run ended is killed."""
DRAIN_CUT = "still in flight when the drain after the schedule ended"


@dataclass
class StepResult:
    """What happened during one load step."""

    started: float
    ended: float
    partial_reason: str | None = None
    saturated: str | None = None  # the step ended early, on purpose: why the target was saturated


class Interrupt:
    """SIGINT/SIGTERM flag: a signal ends the run gracefully. A flag, not an exception:
    a signal handler runs in whichever greenlet is current, often a user's.

    Nested flags share what they saw: a run's flag (held while its report is made) sees a
    signal that came during one of its steps, and a step begun after a signal (a sweep's
    next one) starts cut, so the run ends at once and still writes its report."""

    _open: list[Interrupt] = []

    def __init__(self) -> None:
        self.reason: str | None = None

    def __enter__(self) -> Interrupt:
        self.reason = Interrupt._open[-1].reason if Interrupt._open else None
        Interrupt._open.append(self)
        self._old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for sig in self._old:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.reason = f"interrupted by {signal.Signals(signum).name}"

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        Interrupt._open.remove(self)
        if Interrupt._open and self.reason:
            Interrupt._open[-1].reason = Interrupt._open[-1].reason or self.reason


def run_step(scenario: Scenario, target: ResolvedTarget, out_dir: Path, step: Step) -> StepResult:
    """One load step: a `users` run, or an open-loop run at the step's rate for its
    duration. A signal from the first line to the last gives a partial result, never an
    abort."""
    workers = scenario.load.distributed.workers if scenario.load.distributed else 0
    shape = shape_steps(scenario, step)
    total = sum(d for d, _, _ in shape)
    with Interrupt() as interrupt:
        if workers:
            return _run_distributed(scenario, target, out_dir, step, shape, workers, interrupt)
        plan = build_plan(
            scenario,
            target,
            SampleWriter(out_dir / "samples-local.jsonl"),
            pace=step.pace,
        )
        cut_reason = "the run stopped on an error"
        try:
            env = _environment(plan, shape)
            runner = env.create_local_runner()
            result = _drive(env, runner, total, step, interrupt, _LocalEnd(runner, plan))
            cut_reason = result.partial_reason or result.saturated or DRAIN_CUT
            return result
        finally:
            plan.close(cut_reason)


def _environment(plan: Plan, shape: list[tuple[float, int, float]]) -> Environment:
    """Locust's environment for one step. At the scheduled end, requests in flight get
    their own deadline to finish: cutting them would drop exactly the slowest ones."""
    return Environment(
        user_classes=[make_user(plan)],
        shape_class=make_shape(shape)(),
        stop_timeout=plan.timeout_s + DRAIN_MARGIN_S,
    )


class _LocalEnd:
    """A local run is over when its runner stopped: the shape ended and users drained."""

    def __init__(self, runner, plan: Plan) -> None:
        self.runner = runner
        self.plan = plan

    def counts(self) -> tuple[int, int] | None:
        """(requests due so far, requests done): what saturation is judged on."""
        if self.plan.schedule is None:
            return None
        return self.plan.schedule.offered, self.plan.writer.count

    def finished(self) -> bool:
        return self.runner.state == STATE_STOPPED

    def lost(self) -> str | None:
        return None

    def cut(self) -> None:
        """Nothing beyond the runner's own stop (with no drain) is needed."""


class _Workers:
    """The worker processes of a distributed run, as the master sees them."""

    def __init__(self, runner, procs: list[subprocess.Popen]) -> None:
        self.runner = runner
        self.procs = procs

    def finished(self) -> bool:
        """Every worker exited: each ends itself once its users drained."""
        return all(proc.poll() is not None for proc in self.procs)

    def counts(self) -> None:
        """The due times are the workers': saturation is not watched in a distributed run."""
        return None

    def lost(self) -> str | None:
        """A worker that died, or exited or went silent while the load still ran."""
        load_over = self.runner.state in (STATE_STOPPING, STATE_STOPPED)
        for index, proc in enumerate(self.procs):
            code = proc.poll()
            if code is not None and (code != 0 or not load_over):
                return f"worker {index} (pid {proc.pid}) exited with code {code} during the run"
        missing = [] if load_over else self.runner.clients.missing
        if missing:
            return f"worker {missing[0].id} stopped sending heartbeats"
        return None

    def cut(self) -> None:
        """SIGTERM: a worker then stops its users at once and writes what it has."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()

    def reap(self) -> None:
        deadline = time.monotonic() + WORKER_EXIT_S
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _drive(env: Environment, runner, total: float, step: Step, interrupt, end) -> StepResult:
    """Start the shape and watch until `end` says the run is over, or cut it short. The
    window is placed on the samples' axis (`axis_time`) and measured on the monotonic
    clock: a wall-clock step during the run moves neither it nor the saturation watch."""
    started, began = axis_time(), time.monotonic()
    runner.start_shape()
    late_at = time.monotonic() + total + env.stop_timeout + LATE_END_S
    reason = saturated = None
    dead_for = 0
    watch = SaturationWatch() if step.watch else None
    with LiveProgress(env, total, step.rps, step.label) as progress:
        while not end.finished():
            gevent.sleep(WATCH_S)
            delta = progress.update()
            dead_for = (
                dead_for + 1
                if delta.requests and delta.connection_failures == delta.requests
                else 0
            )
            reason = _why_cut(interrupt, end, dead_for, late_at)
            if watch and not reason and (counts := end.counts()):
                saturated = watch.update(time.monotonic() - began, *counts)
            if reason or saturated:
                env.stop_timeout = 0  # cut short: stop now, requests in flight are cut
                end.cut()
                break
        runner.quit()
    # A run that ended on schedule is judged over its schedule; the drain of in-flight
    # requests after it is not load offered (those requests count: they started before).
    elapsed = time.monotonic() - began
    ended = started + (elapsed if reason or saturated else min(elapsed, total))
    return StepResult(started, ended, reason, saturated)


def _why_cut(interrupt: Interrupt, end, dead_for: int, late_at: float) -> str | None:
    if interrupt.reason:
        return interrupt.reason
    if lost := end.lost():
        return lost
    if dead_for >= DEAD_AFTER_S:
        return f"target stopped answering: every request failed to connect for {DEAD_AFTER_S} s"
    if time.monotonic() > late_at:
        return "the run did not end on schedule and was stopped"
    return None


def _run_distributed(scenario, target, out_dir, step, shape, workers, interrupt) -> StepResult:
    """Locust's own master/worker runners: this process is the master, N local workers
    (the same worker command scales to other machines). Each worker gets its plan as a
    message once it connected (`slakit.load.handoff`); the load starts when all are ready."""
    plan = build_plan(scenario, target, SampleWriter(out_dir / "samples-master.jsonl"))
    plan.close(DRAIN_CUT)  # the master sends no requests, so none is ever in flight here
    env = _environment(plan, shape)
    runner = env.create_master_runner("127.0.0.1", 0)
    total = sum(d for d, _, _ in shape)
    ready: set[int] = set()

    def hello(msg, **_) -> None:
        index = msg.data["index"]
        share = handoff.WorkerPlan.share(
            scenario,
            target,
            str(out_dir / f"samples-worker{index}.jsonl"),
            index=index,
            workers=workers,
            pace=step.pace,
            duration=total,
        )
        runner.send_message(handoff.PLAN, share.message(), client_id=msg.node_id)

    runner.register_message(handoff.HELLO, hello)
    runner.register_message(handoff.READY, lambda msg, **_: ready.add(msg.data["index"]))
    command = [sys.executable, "-m", "slakit.load.worker", "--master-port", str(runner.server.port)]
    end = _Workers(runner, [])
    try:
        for i in range(workers):
            end.procs.append(
                subprocess.Popen(
                    [*command, "--index", str(i)],
                    stdout=subprocess.DEVNULL,
                    stderr=(out_dir / f"worker{i}.log").open("w"),
                )
            )
        if why := _await_workers(ready, workers, interrupt, end):
            runner.quit()
            now = axis_time()
            return StepResult(now, now, why)
        return _drive(env, runner, total, step, interrupt, end)
    finally:
        end.cut()
        end.reap()


def _await_workers(
    ready: set[int], workers: int, interrupt: Interrupt, end: _Workers
) -> str | None:
    """Wait until every worker has its plan and is ready; why not, if one is not."""
    deadline = time.monotonic() + WORKER_CONNECT_TIMEOUT_S
    while len(ready) < workers:
        if why := interrupt.reason or end.lost():
            return why
        if time.monotonic() > deadline:
            return f"only {len(ready)} of {workers} workers connected and ready"
        gevent.sleep(0.2)
    return None
