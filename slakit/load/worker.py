"""A Locust worker process for distributed runs: `python -m slakit.load.worker`.

Started knowing only where the master is and its index; once connected it asks for its
plan (`slakit.load.handoff`), builds the same user from it, writes its own samples file
and says ready. Started by the master runner for local workers; the same command runs
on other machines pointed at the master's host and port.

It ends itself once the master stopped the load and its users drained (Locust's worker
would sit out another `stop_timeout` before it reads the master's `quit`), at once on
SIGTERM or SIGINT, and in any case within a bound; requests in flight are written as cut.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gevent
from gevent.event import AsyncResult
from locust.env import Environment
from locust.runners import STATE_STOPPED

from slakit.load import handoff
from slakit.load.runner import (
    DRAIN_CUT,
    LATE_END_S,
    WATCH_S,
    WORKER_CONNECT_TIMEOUT_S,
    Interrupt,
)
from slakit.load.samples import SampleWriter
from slakit.load.users import build_plan, make_user
from slakit.scenario.schedules import Pace
from slakit.stack.placement import prioritise_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--master-host", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, required=True)
    parser.add_argument("--index", type=int, default=0, help="this worker's number, from 0")
    args = parser.parse_args()
    prioritise_generator()  # the master's scheduling is not inherited (reset on fork)

    with Interrupt() as interrupt:
        env = Environment(user_classes=[])  # the user comes with the plan
        runner = env.create_worker_runner(args.master_host, args.master_port)
        received = _ask_for_plan(runner, args.index, interrupt)
        if received is None:
            return  # stopped before any load: nothing to write
        scenario, target = received.resolved()
        plan = build_plan(
            scenario,
            target,
            SampleWriter(Path(received.samples)),
            pace=Pace.from_message(received.pace) if received.pace else None,
            seed_offset=received.seed_offset,
        )
        # Bounded as the master is: every worker ready, then the step, drain and a margin.
        bound_s = WORKER_CONNECT_TIMEOUT_S + received.duration + plan.timeout_s + LATE_END_S
        cut_reason = "the worker stopped on an error"
        try:
            env.user_classes = [make_user(plan)]
            runner.send_message(handoff.READY, {"index": args.index})
            cut_reason = _serve(env, runner, interrupt, time.monotonic() + bound_s)
        finally:
            plan.close(cut_reason)


def _ask_for_plan(runner, index: int, interrupt: Interrupt) -> handoff.WorkerPlan | None:
    """Hello to the master, then its answer; None on a signal first. A master that does
    not answer within WORKER_CONNECT_TIMEOUT_S ends the worker (exit 1)."""
    answer: AsyncResult = AsyncResult()
    runner.register_message(handoff.PLAN, lambda msg, **_: answer.set(msg.data))
    runner.send_message(handoff.HELLO, {"index": index})
    deadline = time.monotonic() + WORKER_CONNECT_TIMEOUT_S
    while not answer.ready():
        if interrupt.reason:
            return None
        if time.monotonic() > deadline:
            raise SystemExit(f"no plan from the master in {WORKER_CONNECT_TIMEOUT_S} s")
        answer.wait(WATCH_S / 5)
    return handoff.WorkerPlan(**answer.get())


def _serve(env: Environment, runner, interrupt: Interrupt, deadline: float) -> str:
    """Run the master's load until it stopped or quit; stop at once on a signal or past
    `deadline`. Returns the reason for any request still in flight."""
    while runner.state != STATE_STOPPED and len(runner.greenlet):
        if interrupt.reason or time.monotonic() > deadline:
            env.stop_timeout = 0
            runner.stop()
            return f"the worker was {interrupt.reason or 'past its time bound'}"
        gevent.sleep(WATCH_S / 5)
    return DRAIN_CUT


if __name__ == "__main__":
    main()
