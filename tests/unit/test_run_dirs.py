"""Run directories: each run gets its own, also when two start in the same second."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slakit.paths import new_run_dir


def test_runs_started_in_the_same_second_never_share_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(lambda _: new_run_dir(out, "20261202-011001-smoke"), range(8)))
    assert len(set(dirs)) == 8
    assert sorted(p.name for p in dirs)[0] == "20261202-011001-smoke"
    assert {p.name for p in dirs} >= {"20261202-011001-smoke", "20261202-011001-smoke-8"}
    assert all(p.parent == out and p.is_dir() for p in dirs)
