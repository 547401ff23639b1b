"""Load profiles end to end, through `slakit run scenario` and its exit code, against the
simulated engine as a quiet, capacity-limited local target: a rate sweep whose first
step is already too much searches downward, a saturated step ends early and says so, a
concurrency sweep finds its capacity after a throughput step, and a trace is replayed at
its times (late by under 10 ms) with each row's lengths, on the real stack too."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slakit.scenario.trace import read_trace
from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_env
from tests.e2e.test_run_scenario import (
    CHAT,
    _report,
    _run_against,
    _run_dir,
    _scenario,
    sim_engine,
)
from tests.servers import REPO

pytestmark = pytest.mark.integration

LIMITED = ("--max-num-seqs", "2", "--token-delay-ms", "25")
"""Two sequences at a time, 16 tokens 25 ms apart: about 5 req/s before requests queue."""
TTFT = [{"name": "ttft-p95", "sli": "ttft", "aggregation": "p95", "objective": "< 150ms"}]
LATE_BOUND_S = 0.010


def _run(tmp_path: Path, load: dict, engine=(), workload=CHAT, slos=TTFT, warmup="1s"):
    """`slakit run scenario` of `load` against a fresh simulated engine started with
    `engine`: (its report, the reports directory); exit 0 asserted."""
    with sim_engine(*engine) as (url, _):
        scenario = _scenario(
            tmp_path,
            "s",
            workload=workload,
            load=load,
            warmup=warmup,
            slos=slos,
            gate={"min_samples": 8},
        )
        out = tmp_path / "reports"
        r = _run_against(url, scenario, out)
    assert r.returncode == 0, r.stdout + r.stderr
    return _report(out), out


def _samples(out: Path) -> pd.DataFrame:
    rows = [json.loads(line) for p in _run_dir(out).rglob("samples-*.jsonl") for line in p.open()]
    return pd.DataFrame(rows)


def test_a_sweep_too_much_at_its_start_searches_down_and_stops_saturated_steps(
    tmp_path: Path,
) -> None:
    """32 req/s swamps the engine (about 5 req/s): the step is stopped once saturated
    (the watch needs 17 s of its 24); 8 req/s breaks TTFT too; 2 req/s holds. Exit 0: a
    capacity was found. The objective leaves room for a shared machine's hiccups."""
    sweep = {"start": 32, "max_rps": 64, "factor": 4, "step_duration": "24s"}
    slos = [{**TTFT[0], "objective": "< 500ms"}]
    report, out = _run(tmp_path, {"sweep": sweep}, LIMITED, slos=slos, warmup="2s")
    steps = [(s["rate"], s["verdict"]) for s in report["sweep"]]
    assert steps == [(32, "fail"), (8, "fail"), (2, "pass")], steps
    assert report["capacity_rps"] == 2
    note = report["sweep"][0]["note"]
    assert note.startswith("ended after 1") and "of 24 s: saturated: " in note, note
    assert report["sweep"][2]["note"] == ""
    summary = (_run_dir(out) / "summary.md").read_text()
    assert "The first step (32 req/s) did not hold: searched downward; 2 req/s held." in summary
    assert "saturated: " in summary


def test_a_concurrency_sweep_after_a_throughput_step(tmp_path: Path) -> None:
    """Closed loop: 1 and 2 in flight fit the engine's two sequences; 4 queue behind them
    (TTFT about a whole 16-token answer, 400 ms), so 2 in flight is the capacity."""
    sweep = {"over": "concurrency", "concurrency": [1, 2, 4, 8], "throughput": True}
    sweep |= {"max_concurrency": 8, "step_duration": "6s"}
    report, out = _run(tmp_path, {"sweep": sweep}, LIMITED)
    levels = [(s["concurrency"], s["verdict"]) for s in report["sweep"]]
    assert levels == [(8, "fail"), (1, "pass"), (2, "pass"), (4, "fail")], levels
    ceiling = report["sweep"][0]["achieved_rps"]
    assert 3.5 < ceiling < 5.5  # two sequences of 16 tokens 25 ms apart: 5 req/s at most
    assert report["capacity_concurrency"] == 2
    assert report["capacity_rps"] == pytest.approx(report["sweep"][2]["achieved_rps"])
    summary = (_run_dir(out) / "summary.md").read_text()
    assert "achieved at 2 in flight" in summary and "2 in flight" in summary
    assert f"The throughput step reached {float(f'{ceiling:.3g}'):g} req/s." in summary


TRACE = REPO / "scenarios" / "data" / "synthetic-trace.jsonl"


def _assert_replayed(report: dict, out: Path, rows) -> pd.DataFrame:
    """Every row sent once, at its time (within LATE_BOUND_S), with its lengths as the
    server counted them."""
    assert report["load"]["mode"] == "trace" and report["load"]["offered"] == len(rows)
    assert report["load"]["completed"] == len(rows) and report["load"]["kept_up"]
    samples = _samples(out).sort_values("start")
    due = samples["start"] - samples["late_s"]
    offsets = (due - due.iloc[0]).tolist()
    assert offsets == pytest.approx([row.at for row in rows], abs=LATE_BOUND_S)
    assert samples["late_s"].max() < LATE_BOUND_S, samples["late_s"].describe()
    # due times that fall together may go out in either order: compare as multisets
    sent = sorted(zip(samples["tokens_in_requested"], samples["tokens_out"], strict=True))
    assert sent == sorted((row.input_tokens, row.output_tokens) for row in rows)
    assert (samples["tokens_in"] == samples["tokens_in_requested"]).all()
    late = samples["late_s"] * 1000
    print(f"lateness max {late.max():.2f} ms, p99 {late.quantile(0.99):.2f} ms, {len(rows)} rows")
    return samples


def test_a_trace_is_replayed_at_its_times_with_its_lengths(tmp_path: Path) -> None:
    """The shipped synthetic trace, scaled to half its span, against an idle engine."""
    load = {"trace": {"path": str(TRACE), "time_scale": 0.5}}
    report, out = _run(tmp_path, load, workload=[{"kind": "chat"}])
    _assert_replayed(report, out, read_trace(TRACE, 0.5))


def test_the_shipped_trace_replay_passes_on_the_real_stack(
    stack: StackConfig, tmp_path: Path
) -> None:
    """scenarios/trace-replay.yaml as shipped: real vLLM counts every prompt at exactly
    its row's input length and generates its output length."""
    out = tmp_path / "reports"
    scenario = REPO / "scenarios" / "trace-replay.yaml"
    r = run_cli("run", "scenario", str(scenario), "--out", str(out), env=stack_env(stack))
    assert r.returncode == 0, r.stdout + r.stderr
    report = _report(out)
    assert report["target"]["engine"] == "vllm" and report["verdict"] == "pass"
    _assert_replayed(report, out, read_trace(TRACE))


def test_rate_stages_send_each_stage_its_own_rate(tmp_path: Path) -> None:
    """Constant arrivals at 2 then 10 req/s for 4 s each: 8 and 40 requests due, each
    sent in its stage, and the report says so per stage."""
    stages = [{"rps": 2, "duration": "4s"}, {"rps": 10, "duration": "4s"}]
    report, out = _run(tmp_path, {"rate": {"stages": stages, "arrivals": "constant"}})
    assert report["load"]["offered"] == 48 and report["load"]["kept_up"]
    sent = [(s["start_rps"], s["sent"]) for s in report["load"]["stages"]]
    assert sent == [(2, 8), (10, 40)], sent
    summary = (_run_dir(out) / "summary.md").read_text()
    assert "Stage 2: 10/s for 4 s: 40 requests sent" in summary
