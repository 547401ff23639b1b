"""A wall-clock step in the middle of a run (as NTP makes one) bends nothing: the run is
`slakit run scenario` as users run it, against the simulated engine (200 ms to the first
token, 16 tokens 50 ms apart, so about five requests are in flight when the clock jumps),
with its wall clock stepped back an hour once 8 requests were sent
(`tests/stepped_clock.py`). Every
request stays in the run's window and in its SLOs, and every duration is the engine's.
Takes ~15 s."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.servers import REPO, serve_module, wait_until

TTFT_S, TOKEN_DELAY_S, TOKENS = 0.200, 0.050, 16
RPS, DURATION_S, STEP_S, STEP_AFTER_SENT = 5, 6, -3600.0, 8


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    args = ("--model-name", "slakit-tiny", "--ttft-ms", str(TTFT_S * 1000))
    with serve_module("slakit.stack.sim_engine", *args, "--token-delay-ms", "50") as url:
        yield url


@pytest.mark.timeout(120)
def test_a_clock_stepped_back_mid_run_moves_no_request_and_bends_no_latency(
    engine: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "clock-step",
                "workload": [{"kind": "chat", "output_tokens": TOKENS}],
                "load": {"rate": {"rps": RPS, "duration": f"{DURATION_S}s"}},
                "slos": [
                    {"name": "ttft", "sli": "ttft", "aggregation": "p99", "objective": "< 1s"},
                    {
                        "name": "errors",
                        "sli": "error_rate",
                        "aggregation": "ratio",
                        "objective": "< 1%",
                    },
                ],
            },
            sort_keys=False,
        )
    )
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"openai": engine}))
    out, trigger = tmp_path / "out", tmp_path / "step-now"
    run = subprocess.Popen(
        [sys.executable, "-m", "tests.stepped_clock", str(STEP_S), str(trigger)]
        + ["run", "scenario", str(scenario), "--target", str(target), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    try:
        wait_until(lambda: _sent(out) >= STEP_AFTER_SENT, 60, f"{STEP_AFTER_SENT} requests")
        trigger.touch()
        output, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 0, output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((run_dir / "report.json").read_text())
    samples = [
        json.loads(line)
        for path in run_dir.glob("samples-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    load = report["load"]
    assert load["offered"] == load["completed"] == len(samples) >= RPS * DURATION_S // 2, load
    assert (load["failed"], load["cut"], load["never_sent"]) == (0, 0, 0), load
    # The window is as long as the schedule: the rate sent over it is the rate offered.
    assert load["achieved_rps"] == pytest.approx(load["offered_rps"], rel=0.2)
    assert {slo["name"]: slo["samples"] for slo in report["slos"]} == {
        "ttft": len(samples),
        "errors": len(samples),
    }
    # The requests in flight when the clock jumped are timed as the engine timed them
    # (within what a busy machine adds; a duration on the stepped clock would be an hour off).
    expected_latency = TTFT_S + (TOKENS - 1) * TOKEN_DELAY_S
    for sample in samples:
        assert TTFT_S <= sample["ttft_s"] < TTFT_S + 1, sample
        assert expected_latency <= sample["end"] - sample["start"] < expected_latency + 2
    starts = sorted(s["start"] for s in samples)
    assert starts[-1] - starts[0] < DURATION_S + 1, "a sample left the run's time axis"


def _sent(out: Path) -> int:
    """Requests the run has begun so far: the Locust TTFT events are not on disk, so the
    samples written (flushed every 0.5 s) tell, a few behind."""
    return sum(len(p.read_text().splitlines()) for p in out.glob("*/samples-*.jsonl"))
