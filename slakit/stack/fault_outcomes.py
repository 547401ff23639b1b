"""What each fault of a run cost, from the faults the driver recorded and the run's own
samples: the requests that failed from the fault until the balancer had dealt with it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from slakit.load.samples import CUT
from slakit.report.model import FaultSeen
from slakit.stack.fault_driver import FAULTS_FILE


def read_faults(step_dirs: list[Path]) -> list[dict]:
    """Every fault record of the run's steps, in the order they were done."""
    records = []
    for path in (d / FAULTS_FILE for d in step_dirs):
        if path.exists():
            records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def outcomes(records: list[dict], samples: pd.DataFrame, load_start: float) -> list[FaultSeen]:
    """Each fault with its failed requests: those still running at the fault or sent
    before it was over (a kill: the replica out of the pool; a restart or errors: the
    replica serving again), ending with an error."""
    failed = samples[samples["error"].notna() & (samples["error"] != CUT)]
    out = []
    for r in records:
        if "error" in r:
            out.append(FaultSeen(action=r["action"], replica=r["replica"], error=r["error"]))
            continue
        until = r["back_at"] if r["back_at"] is not None else r["out_at"]
        hit = failed[(failed["end"] >= r["at"]) & (failed["start"] <= until)]
        out.append(
            FaultSeen(
                action=r["action"],
                replica=r["replica"],
                pid=r["pid"],
                at=r["at"],
                offset_s=r["at"] - load_start,
                out_s=None if r["out_at"] is None else r["out_at"] - r["at"],
                back_s=None if r["back_at"] is None else r["back_at"] - r["at"],
                opened=r["opened"],
                failed=len(hit),
            )
        )
    return out
