"""Where slakit keeps things: a cache shared across clones, and per-stack state."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Large, slow-to-fetch things (Elasticsearch zip, tiny model), keyed by version inside.

    `SLAKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/slakit`, else `~/.cache/slakit`.
    """
    if explicit := os.environ.get("SLAKIT_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "slakit"


MAX_SAME_NAME_RUNS = 1000
"""Runs of one scenario started in the same second that get their own directory."""


def new_run_dir(out_root: Path, run_id: str) -> Path:
    """A directory of its own for one run under `out_root`: `run_id`, or `run_id-2`, ... when
    another run (a parallel CI job, say) took the name in the same second. Never shared: two
    runs writing samples into one directory would be judged as one."""
    out_root.mkdir(parents=True, exist_ok=True)
    for n in range(1, MAX_SAME_NAME_RUNS + 1):
        path = out_root / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{out_root}: {MAX_SAME_NAME_RUNS} runs named {run_id} already")
