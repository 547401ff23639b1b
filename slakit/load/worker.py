"""A Locust worker process for distributed runs: `python -m slakit.load.worker`.

Connects to the master, builds the same user from the scenario, writes its own samples
file. Started by the master runner for local workers; the same command runs on other
machines pointed at the master's host and port.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from locust.env import Environment

from slakit.load.samples import SampleWriter
from slakit.load.users import build_plan, make_user
from slakit.scenario import load_scenario
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
    parser.add_argument("--duration", type=float, default=0.0, help="open loop: seconds")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    target = ResolvedTarget(**json.loads(args.target_json))
    plan = build_plan(
        scenario,
        target,
        SampleWriter(args.out),
        arrivals=args.arrivals,
        rps=args.rps / args.workers if args.rps else None,
        duration=args.duration,
        seed_offset=args.index + 1,
    )
    try:
        env = Environment(user_classes=[make_user(plan, scenario.load.request_timeout)])
        runner = env.create_worker_runner(args.master_host, args.master_port)
        runner.greenlet.join()
    finally:
        plan.close()


if __name__ == "__main__":
    main()
