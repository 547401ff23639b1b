"""A scenario's `faults:` done to the embedded stack while its load runs.

The faults run in a child process, never in the load generator: the generator's gevent
loop keeps the request schedule, and a drain, a restart or a wait for HAProxy blocks for
seconds. The plan goes to the child as one message on its stdin; it writes one JSON line
per fault done (`slakit.stack.instances.Event`, or the error that stopped it) to
FAULTS_FILE in the step's directory, which the report reads (`slakit.stack.fault_outcomes`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slakit.errors import SlakitError
from slakit.scenario.faults import Fault
from slakit.stack import instances
from slakit.stack.config import StackConfig

FAULTS_FILE = "faults.jsonl"
POLL_S = 0.05  # how often the child looks for the load's first sample
FINISH_LIMIT_S = 600.0
"""How long the run waits, once its load is over, for faults still being done (a rolling
restart of real vLLM replicas takes about a minute each)."""


@contextmanager
def injected(faults: list[Fault], cfg: StackConfig | None, out_dir: Path) -> Iterator[None]:
    """Do `faults` in a child process during the load about to start in `out_dir`; wait
    for it after."""
    if not faults or cfg is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = {
        "config": cfg.model_dump(mode="json"),
        "faults": [f.model_dump(mode="json", by_alias=True) for f in faults],
    }
    with open(out_dir / "faults.log", "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "slakit.stack.fault_driver", str(out_dir / FAULTS_FILE)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    child.stdin.write(json.dumps(plan).encode())
    child.stdin.close()
    try:
        yield
    finally:
        try:
            child.wait(FINISH_LIMIT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _not_done(fault: Fault, why: str) -> dict:
    return {"action": fault.action, "replica": fault.replica, "error": why}


def _do(cfg: StackConfig, fault: Fault) -> list[instances.Event]:
    if fault.action == "kill":
        return [instances.kill(cfg, fault.replica)]
    if fault.action == "restart":
        return [instances.restart(cfg, fault.replica)]
    if fault.action == "rolling-restart":
        return instances.rolling_restart(cfg)
    return [instances.errors(cfg, fault.replica, fault.error_rate, fault.for_)]


def load_start(step_dir: Path, limit_s: float) -> float | None:
    """When the step's load began: its first sample's start, once one is written (prompts
    are sized before the first request goes out, which can take seconds)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for path in step_dir.glob("samples-*.jsonl"):
            first = path.read_text().partition("\n")
            if first[1]:
                return json.loads(first[0])["start"]
        time.sleep(POLL_S)
    return None


def main(out: Path) -> None:
    """The child: read the plan from stdin, do each fault at its time after the load's
    start, record each."""
    plan = json.loads(sys.stdin.read())
    cfg = StackConfig(**plan["config"])
    faults = sorted((Fault.model_validate(f) for f in plan["faults"]), key=lambda f: f.at)
    t0 = load_start(out.parent, FINISH_LIMIT_S)
    with open(out, "a") as records:
        for fault in faults:
            if t0 is None:
                records.write(json.dumps(_not_done(fault, "the load never started")) + "\n")
                continue
            time.sleep(max(0.0, t0 + fault.at - time.time()))
            try:
                lines = [e.record() for e in _do(cfg, fault)]
            except SlakitError as exc:
                lines = [_not_done(fault, str(exc))]
            for line in lines:
                records.write(json.dumps(line) + "\n")
                records.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
