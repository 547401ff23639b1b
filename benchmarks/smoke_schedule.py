"""Does the generator keep the smoke scenario's schedule beside the embedded stack?

`scenarios/smoke.yaml` on the running embedded stack, ROUNDS times with slakit's CPU
placement (observers at nice 10, the generator real-time) and as many times without it
(every part at nice 0, the generator an ordinary process), alternating so both see the
same machine. Per run:
the share of requests sent more than 10 ms after they were due (the issue's target: at
most 1%), the p99 lateness, client TTFT p95 and the verdict. Prints the ratio of the late
shares. Needs a stack (`slakit stack up`) and root (to put niceness back to 0).

    .venv/bin/python benchmarks/smoke_schedule.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

from _common import REPO, SLAKIT, fmt, print_table, readme_line, wait_quiet, workdir

from slakit.load.samples import read_samples
from slakit.stack import placement, supervisor
from slakit.stack.config import load_stack_config

LATE_TARGET_S = 0.010
TIMEOUT_S = 300


def observer_pids() -> list[int]:
    """The running stack's observers (their recorded names are their part keys)."""
    state = supervisor.read_state(load_stack_config(None))
    return [p.pid for p in state if p.part in placement.OBSERVERS]


def renice(pids: list[int], nice: int) -> None:
    for pid in pids:
        subprocess.run(["renice", "-n", str(nice), "-g", str(pid)], capture_output=True, check=True)


def smoke(out: Path, generator_priority: str) -> dict:
    env = {**os.environ, placement.GENERATOR_PRIORITY_ENV: generator_priority}
    subprocess.run(
        [SLAKIT, "run", "scenario", str(REPO / "scenarios" / "smoke.yaml"), "--out", str(out)],
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S,
        cwd=REPO,
    )
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    report = json.loads((run_dir / "report.json").read_text())
    late = read_samples(run_dir)["late_s"].astype(float)
    ttft = next(s["value"] for s in report["slos"] if s["sli"] == "ttft")
    return {
        "late_share": float((late > LATE_TARGET_S).mean()),
        "late_p99_ms": float(late.quantile(0.99)) * 1000,
        "ttft_p95_ms": ttft * 1000 if ttft is not None else None,
        "verdict": report["verdict"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--placed-only", action="store_true", help="skip the flat runs")
    args = parser.parse_args()
    pids = observer_pids()
    if not pids:
        raise SystemExit("no embedded stack is running: `slakit stack up` first")
    work = workdir("smoke-schedule")
    runs: dict[str, list[dict]] = {"placed": []} if args.placed_only else {"placed": [], "flat": []}
    try:
        for i in range(args.rounds):
            for mode in runs:
                wait_quiet(f"smoke round {i + 1} ({mode})")
                renice(pids, placement.OBSERVER_NICE if mode == "placed" else 0)
                priority = "realtime" if mode == "placed" else "default"
                runs[mode].append(smoke(work / f"{mode}-{i}", priority))
    finally:
        renice(pids, placement.OBSERVER_NICE)
    rows = [
        [
            mode,
            str(i + 1),
            fmt(r["late_share"] * 100, ".1f", "%"),
            fmt(r["late_p99_ms"], ".1f", " ms"),
            fmt(r["ttft_p95_ms"], ".0f", " ms"),
            r["verdict"],
        ]
        for mode, results in runs.items()
        for i, r in enumerate(results)
    ]
    columns = ["mode", "run", "late", "p99 late", "TTFT p95", "verdict"]
    print_table("smoke: requests sent > 10 ms late", columns, rows)
    worst = {mode: max(r["late_share"] for r in results) for mode, results in runs.items()}
    verdicts = {mode: sorted({r["verdict"] for r in results}) for mode, results in runs.items()}
    readme_line(
        f"smoke over {args.rounds} runs: "
        + "; ".join(
            f"{mode}: worst late share (> 10 ms) {worst[mode]:.1%}, verdicts {verdicts[mode]}"
            for mode in runs
        )
    )


if __name__ == "__main__":
    main()
