"""A Locust worker process for distributed runs: `python -m slakit.load.worker`.

Connects to the master, builds the same user from the scenario, writes its own samples
file. Started by the master runner for local workers; the same command runs on other
machines pointed at the master's host and port.

It ends itself once the master stopped the load and its users drained (Locust's worker
would sit out another `stop_timeout` before it reads the master's `quit`), at once on
SIGTERM or SIGINT, and in any case within a bound; requests in flight are written as cut.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gevent
from locust.env import Environment
from locust.runners import STATE_STOPPED

from slakit.load.runner import (
    DRAIN_CUT,
    LATE_END_S,
    WATCH_S,
    WORKER_CONNECT_TIMEOUT_S,
    Interrupt,
)
from slakit.load.samples import SampleWriter
from slakit.load.users import build_plan, make_user
from slakit.scenario import load_scenario
from slakit.stack.placement import prioritise_generator
from slakit.target import ResolvedTarget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--master-host", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, required=True)
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--target-json", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--rps", type=float, help="the whole run's rate; this worker's share is rps / workers"
    )
    parser.add_argument("--arrivals", default="poisson")
    parser.add_argument("--duration", type=float, default=0.0, help="the run's seconds")
    args = parser.parse_args()
    prioritise_generator()  # the master's scheduling is not inherited (reset on fork)

    scenario = load_scenario(args.scenario)
    target = ResolvedTarget(**json.loads(args.target_json))
    with Interrupt() as interrupt:
        plan = build_plan(
            scenario,
            target,
            SampleWriter(args.out),
            arrivals=args.arrivals,
            rps=args.rps / args.workers if args.rps else None,
            duration=args.duration,
            seed_offset=args.index + 1,
        )
        bound_s = WORKER_CONNECT_TIMEOUT_S + args.duration + plan.timeout_s + LATE_END_S
        cut_reason = "the worker stopped on an error"
        try:
            env = Environment(user_classes=[make_user(plan)])
            runner = env.create_worker_runner(args.master_host, args.master_port)
            cut_reason = _serve(env, runner, interrupt, time.monotonic() + bound_s)
        finally:
            plan.close(cut_reason)


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
