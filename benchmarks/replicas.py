"""Two real vLLM replicas behind HAProxy (issue 13 section 1): what the balancer adds on
the wire, how fast a killed replica is failed over and what it loses, and what a rolling
restart under load fails.

Brings up its own stack (`stack up --replicas 2`, real vLLM, state in a scratch dir, the
default ports) and, in order:

1. overhead: 10 req/s of streamed chat through the gateway for OVERHEAD_S, captured by
   tcpdump on the balancer's and both replicas' ports; each request the gateway sent to
   the balancer is matched to the one HAProxy sent on by their `traceparent`'s trace id.
   Added TTFT = (first token at the balancer port - request's first byte there) minus the
   same at the replica's port; added end-to-end likewise with the response's last byte;
2. failover: scenarios/instance-loss.yaml on vLLM (replica 2 killed 8 s in): the report's
   failover time, requests lost, and the run's errors; then `stack restart-instance 2`;
3. rolling restart: scenarios/rolling-restart.yaml on vLLM, its load stretched to cover
   both restarts (a vLLM replica takes about a minute to be ready): failed requests, and
   each replica's time out of the pool.

Both vLLM workers are bound to core 0 (`VLLM_CPU_OMP_THREADS_BIND`), every other part and
the load generator share core 1, with whatever else the machine runs: each step prints the
load average it began at. Needs root (tcpdump).

    .venv/bin/python benchmarks/replicas.py [--steps overhead,failover,rolling]

Measured 2026-12-02, other sessions' stacks and tests sharing the 2 cores: added TTFT p50
0.19 ms, p99 0.37 ms, end-to-end p99 0.38 ms (379 requests, load 5.5); failover 1.43 s,
0 requests lost (load 14.4; an earlier run at load 12.5: 1.06 s, 3 lost, all streams in
flight at the kill); rolling restart 0 failed of 1954 requests (load 6.8; replicas out
of the pool 226 s and 44 s, vLLM restarting on a shared core).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import yaml
from _common import REPO, SLAKIT, fmt, print_table, readme_line, run_measured, workdir

from slakit.stack.config import load_stack_config
from slakit.wire import Capture, Exchange, read_exchanges

OVERHEAD_S = 40
ROLLING_LOAD_S = 200  # two vLLM restarts of ~60 s each, with drains and checks
RUN_TIMEOUT_S = 900
STACK_TIMEOUT_S = 900
CHAT = "/v1/chat/completions"


def _scenario(work: Path, name: str, save_as: str | None = None, **changes) -> Path:
    """A shipped scenario on real vLLM, with `changes` to its top-level fields or load."""
    scenario = yaml.safe_load((REPO / "scenarios" / f"{name}.yaml").read_text())
    scenario["target"]["engine"] = "vllm"
    if "duration" in changes:
        scenario["load"]["rate"]["duration"] = changes.pop("duration")
    scenario.update(changes)
    path = work / f"{save_as or name}-vllm.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def _run(work: Path, scenario: Path, env: dict[str, str]) -> dict:
    load = os.getloadavg()[0]
    out = work / scenario.stem
    run = run_measured(
        [SLAKIT, "run", "scenario", str(scenario), "--out", str(out)],
        RUN_TIMEOUT_S,
        work / f"{scenario.stem}.log",
        env,
    )
    if run.returncode not in (0, 1):
        raise SystemExit(f"{scenario.stem}: exit {run.returncode}; see {run.log}")
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((run_dir / "report.json").read_text())
    report["_load"] = load
    return report


def _ttft(e: Exchange) -> float | None:
    return e.token_times[0] - e.sent_first if e.token_times else None


def _e2e(e: Exchange) -> float | None:
    return e.received_last - e.sent_first if e.received_last is not None else None


def added(exchanges: list[Exchange], front: int, replicas: set[int]) -> dict[str, list[float]]:
    """What the balancer added to each request it passed on (seconds), matched by trace id."""
    behind = {e.trace_id: e for e in exchanges if e.server_port in replicas and e.trace_id}
    out: dict[str, list[float]] = {"TTFT": [], "end-to-end": []}
    for e in exchanges:
        up = behind.get(e.trace_id) if e.server_port == front and e.path == CHAT else None
        if up is None or e.status != 200:
            continue
        for name, measure in (("TTFT", _ttft), ("end-to-end", _e2e)):
            if measure(e) is not None and measure(up) is not None:
                out[name].append(measure(e) - measure(up))
    return out


def overhead(work: Path, env: dict[str, str], ports: tuple[int, set[int]]) -> dict:
    scenario = _scenario(work, "instance-loss", "overhead", faults=[], duration=f"{OVERHEAD_S}s")
    front, replicas = ports
    with Capture(work / "capture", [front, *replicas]) as capture:
        report = _run(work, scenario, env)
    return {"report": report, "added": added(read_exchanges(capture.paths).exchanges, *ports)}


STEPS = ("overhead", "failover", "rolling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default=",".join(STEPS), help="any of " + ", ".join(STEPS))
    steps = parser.parse_args().steps.split(",")
    work = workdir("replicas")
    env = {"SLAKIT_STACK_STATE_DIR": str(work / "stack")}
    os.environ.update(env)
    cfg = load_stack_config(None, replicas=2)
    up = [SLAKIT, "stack", "up", "--replicas", "2"]
    subprocess.run(up, check=True, cwd=REPO, timeout=STACK_TIMEOUT_S)
    try:
        if "overhead" in steps:
            report_overhead(overhead(work, env, (cfg.balancer.port, set(cfg.replica_ports))))
        if "failover" in steps:
            report_failover(_run(work, _scenario(work, "instance-loss"), env))
            back = [SLAKIT, "stack", "restart-instance", "2"]
            subprocess.run(back, check=True, cwd=REPO, timeout=STACK_TIMEOUT_S)
        if "rolling" in steps:
            scenario = _scenario(work, "rolling-restart", duration=f"{ROLLING_LOAD_S}s")
            report_rolling(_run(work, scenario, env))
    finally:
        subprocess.run([SLAKIT, "stack", "down"], cwd=REPO, timeout=STACK_TIMEOUT_S)
    print(f"work dir: {work}")


def _ms(values: list[float], q: float) -> str:
    return fmt(float(np.percentile(values, q)) * 1000, ".2f", " ms") if values else "-"


def report_overhead(over: dict) -> None:
    rows = []
    for name, values in over["added"].items():
        rows.append([f"balancer added {name}", str(len(values)), _ms(values, 50), _ms(values, 99)])
    load = over["report"]["_load"]
    print_table(f"HAProxy on the wire (load {load:.1f})", ["what", "n", "p50", "p99"], rows)
    ttft, e2e = over["added"]["TTFT"], over["added"]["end-to-end"]
    readme_line(
        f"| HAProxy between the gateway and 2 vLLM replicas | added TTFT p50 {_ms(ttft, 50)}, "
        f"p99 {_ms(ttft, 99)}; end-to-end p99 {_ms(e2e, 99)} ({len(ttft)} requests matched "
        f"on the wire, 10 req/s, load {load:.1f}) |"
    )


def report_failover(loss: dict) -> None:
    [kill] = loss["faults"]
    every = loss["kinds"]["all"]
    readme_line(
        f"| replica killed (instance-loss.yaml, real vLLM) | failover {kill['out_s']:.2f} s, "
        f"{kill['failed']} requests lost (in flight at the kill); {every['errors']} errors of "
        f"{every['requests']} in the SLO window, verdict {loss['verdict']} "
        f"(load {loss['_load']:.1f}) |"
    )


def report_rolling(rolling: dict) -> None:
    every = rolling["kinds"]["all"]
    back = ", ".join(f"replica {f['replica']} {f['back_s']:.0f} s" for f in rolling["faults"])
    readme_line(
        f"| rolling restart (rolling-restart.yaml, real vLLM) | {every['errors']} failed of "
        f"{every['requests']} requests; each out of the pool (drain, restart, ready, UP): "
        f"{back}; verdict {rolling['verdict']} (load {rolling['_load']:.1f}) |"
    )


if __name__ == "__main__":
    main()
