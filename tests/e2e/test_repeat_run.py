"""`repeat: N` end to end: N runs against the simulated engine (its own process), each
with its own reports, and a combined report that `slakit check` holds to the runs' own."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.e2e.test_run_scenario import (
    BASIC_SLOS,
    CHAT,
    REPORT_FILES,
    _run_against,
    _run_dir,
    _scenario,
    _start_run,
    _target_file,
    sim_engine,
)
from tests.servers import wait_until

pytestmark = pytest.mark.integration


def _repeated(tmp_path: Path, duration: str = "4s") -> Path:
    return _scenario(
        tmp_path,
        "repeated",
        workload=CHAT,
        load={"rate": {"rps": 8, "duration": duration}},
        slos=BASIC_SLOS,
        repeat=3,
    )


def test_three_runs_give_one_report_judged_on_their_mean(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    with sim_engine() as (url, _):
        r = _run_against(url, _repeated(tmp_path), out)
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = _run_dir(out)
    runs = [json.loads((run_dir / f"run-0{i}" / "report.json").read_text()) for i in (1, 2, 3)]
    for i in (1, 2, 3):
        assert all((run_dir / f"run-0{i}" / name).is_file() for name in REPORT_FILES)
        assert f"run {i} of 3" in r.stdout
    assert "3 of 3 runs ran (run-01 PASS, run-02 PASS, run-03 PASS)" in r.stdout.replace("\n", " ")
    assert [run["scenario"]["seed"] for run in runs] == [0, 1, 2]
    report = json.loads((run_dir / "report.json").read_text())
    ttft = [run["slos"][0]["value"] for run in runs]
    assert report["slos"][0]["value"] == pytest.approx(sum(ttft) / 3, rel=1e-12)
    assert report["repeats"]["slos"][0]["values"] == ttft
    spread = report["repeats"]["slos"][0]
    assert spread["low"] <= spread["mean"] <= spread["high"]
    assert report["status"] == "complete" and report["exit_code"] == 0
    assert "Repeated runs" in (run_dir / "summary.md").read_text()

    assert run_cli("check", str(run_dir)).returncode == 0
    # A stored value the runs' own reports do not give is refused.
    report["slos"][0]["value"] = ttft[0] / 10
    (run_dir / "report.json").write_text(json.dumps(report))
    r = run_cli("check", str(run_dir))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "slos.0: value" in r.stderr and "runs' own reports give" in r.stderr


def test_ctrl_c_in_the_second_run_keeps_both_and_is_partial(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    with sim_engine() as (url, _):
        proc = _start_run(_repeated(tmp_path, "30s"), _target_file(tmp_path, url), out)
        wait_until(lambda: list(out.glob("*/run-02/samples-local.jsonl")), 90, "run 2")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    run_dir = _run_dir(out)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "partial"
    assert report["partial_reason"] == "run-02 of 3 was cut: interrupted by SIGINT"
    assert [run["dir"] for run in report["repeats"]["runs"]] == ["run-01", "run-02"]
    assert not (run_dir / "run-03").exists()
    first = json.loads((run_dir / "run-01" / "report.json").read_text())
    assert first["status"] == "complete"
