"""`slakit run scenario` end to end, as CI uses it: real load, real reports, exit codes.

The smoke and impossible-objective runs use the session's real stack (real vLLM). The
fault, kill, distributed and baseline runs use the simulated engine as their target,
started here as its own process, so faults can be injected and the target killed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from slakit.stack import supervisor
from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_config, stack_env
from tests.servers import REPO, answers, free_port, serve_module, wait_until

pytestmark = pytest.mark.integration

REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html")


def _run_dir(out: Path) -> Path:
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(runs) == 1, runs
    return runs[0]


def _report(out: Path) -> dict:
    return json.loads((_run_dir(out) / "report.json").read_text())


def _scenario(tmp_path: Path, name: str, **fields) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **fields}, sort_keys=False))
    return path


@contextmanager
def sim_engine(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The simulated engine as its own process: (base URL, process) so a test can kill it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slakit.stack.sim_engine",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model-name",
            "slakit-tiny",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: answers(f"{url}/v1/models"), 30, "sim engine")
        yield url, proc
    finally:
        proc.kill()
        proc.wait(10)


def _run_against(openai: str, scenario: Path, out: Path):
    """`slakit run scenario` against an explicit OpenAI-compatible target at `openai`."""
    target = _target_file(scenario.parent, openai)
    return run_cli("run", "scenario", str(scenario), "--out", str(out), "--target", str(target))


def _target_file(tmp_path: Path, openai: str, **extra) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump({"openai": openai, **extra}))
    return path


CHAT = [{"kind": "chat", "output_tokens": 16}]
BASIC_SLOS = [
    {"name": "ttft-p95", "sli": "ttft", "aggregation": "p95", "objective": "< 2s"},
    {"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"},
]


def test_smoke_scenario_passes_on_the_real_stack(stack: StackConfig, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    r = run_cli(
        "run",
        "scenario",
        str(REPO / "scenarios" / "smoke.yaml"),
        "--out",
        str(out),
        env=stack_env(stack),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = _run_dir(out)
    for name in REPORT_FILES:
        assert (run_dir / name).stat().st_size > 0, name
    suite = ET.fromstring((run_dir / "junit.xml").read_text()).find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) == 8
    report = _report(out)
    assert report["status"] == "complete" and report["verdict"] in ("pass", "warn")
    assert report["target"]["engine"] == "vllm"
    assert report["kinds"]["chat"]["requests"] > 50 and report["kinds"]["rag"]["requests"] > 10
    assert report["load"]["kept_up"], report["load"]
    # The report draws the Grafana dashboards' panels over the run window: vLLM's own
    # TTFT and the gateway's stage latencies must have points from the real Prometheus.
    panels = {s["panel"] for s in report["server"] if s["points"]}
    assert {"Time to first token", "Stage latency"} <= panels, panels
    # Every request carried a W3C traceparent with its own trace id.
    samples = [
        json.loads(line) for line in (run_dir / "samples-local.jsonl").read_text().splitlines()
    ]
    assert len({s["trace_id"] for s in samples}) == len(samples)


def test_impossible_objective_fails_and_is_named(stack: StackConfig, tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        "impossible",
        workload=CHAT,
        load={"rate": {"rps": 4, "duration": "10s"}},
        slos=[
            *BASIC_SLOS,
            {"name": "ttft-instant", "sli": "ttft", "aggregation": "p50", "objective": "< 0.01ms"},
        ],
        gate={"min_samples": 10},
    )
    out = tmp_path / "reports"
    r = run_cli("run", "scenario", str(scenario), "--out", str(out), env=stack_env(stack))
    assert r.returncode == 1, r.stdout + r.stderr
    run_dir = _run_dir(out)
    failures = [
        tc
        for tc in ET.parse(run_dir / "junit.xml").iter("testcase")
        if tc.find("failure") is not None
    ]
    assert [tc.get("name") for tc in failures] == ["ttft-instant"]
    summary = (run_dir / "summary.md").read_text()
    assert "ttft-instant" in summary and "FAIL" in summary


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """A second embedded stack, on the simulated engine, for faults.yaml's own settings."""
    cfg = stack_config(tmp_path_factory.mktemp("fault-stack"), engine="sim", shift=2000)
    yield cfg
    supervisor.down(cfg, purge=True)


def test_faults_scenario_fails_and_says_why(fault_stack: StackConfig, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    r = run_cli(
        "run",
        "scenario",
        str(REPO / "scenarios" / "faults.yaml"),
        "--out",
        str(out),
        env=stack_env(fault_stack),
    )
    assert r.returncode == 1, r.stdout + r.stderr
    report = _report(out)
    verdicts = {s["name"]: s["verdict"] for s in report["slos"]}
    assert verdicts["errors"] == "fail" and verdicts["itl-max"] == "fail"
    assert report["kinds"]["all"]["errors_by_class"].get("http_500", 0) > 0
    failed = [f for f in report["limits"] if f["kind"] == "requests_failed"]
    assert failed and failed[0]["by_class"].get("http_500", 0) > 0
    assert "http_500" in (_run_dir(out) / "summary.md").read_text()


def _sample_lines(out: Path, name: str = "samples-local.jsonl") -> int:
    """Sample lines written so far by the one run under `out` (0 before it has any)."""
    paths = list(out.glob(f"*/{name}"))
    return len(paths[0].read_text().splitlines()) if paths else 0


def _start_run(scenario: Path, target: Path, out: Path) -> subprocess.Popen:
    """`slakit run scenario` as its own process, so a test can signal it or its workers."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slakit",
            "run",
            "scenario",
            str(scenario),
            "--out",
            str(out),
            "--target",
            str(target),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("cut", ["target killed", "SIGINT"])
def test_a_run_cut_short_keeps_its_samples_in_a_partial_report(cut: str, tmp_path: Path) -> None:
    with sim_engine() as (url, engine):
        scenario = _scenario(
            tmp_path,
            "cut",
            workload=CHAT,
            load={"rate": {"rps": 10, "duration": "60s"}},
            slos=BASIC_SLOS,
        )
        out = tmp_path / "reports"
        proc = _start_run(scenario, _target_file(tmp_path, url), out)
        # Cut once the load runs (a fixed sleep raced a slow start: the signal came before
        # any load, the engine died before the pre-flight check).
        wait_until(lambda: _sample_lines(out) > 40, 60, "40 samples")
        if cut == "SIGINT":
            proc.send_signal(signal.SIGINT)  # Ctrl-C
        else:
            engine.kill()  # the target dies without a goodbye
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    report = _report(out)
    assert report["status"] == "partial"
    reason = "interrupted by SIGINT" if cut == "SIGINT" else "target stopped answering"
    assert reason in report["partial_reason"]
    assert report["ended_at"] - report["started_at"] < 30
    assert report["kinds"]["all"]["requests"] > 30  # what it had is kept
    assert "partial" in (_run_dir(out) / "summary.md").read_text().lower()


@pytest.mark.parametrize("moment", ["as the step starts", "while the load runs"])
def test_ctrl_c_at_any_moment_of_the_load_gives_a_partial_report(
    moment: str, tmp_path: Path
) -> None:
    # The samples file is created by the load step itself, before Locust starts.
    with sim_engine() as (url, _):
        scenario = _scenario(
            tmp_path,
            "ctrl-c",
            workload=CHAT,
            load={"rate": {"rps": 10, "duration": "60s"}},
            slos=BASIC_SLOS,
        )
        out = tmp_path / "reports"
        proc = _start_run(scenario, _target_file(tmp_path, url), out)
        if moment == "as the step starts":
            wait_until(lambda: list(out.glob("*/samples-local.jsonl")), 60, "the load step")
        else:
            wait_until(lambda: _sample_lines(out) > 0, 60, "a sample")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    report = _report(out)
    assert report["status"] == "partial" and report["verdict"] != "pass"
    assert report["partial_reason"] == "interrupted by SIGINT"
    assert report["ended_at"] - report["started_at"] < 30
    load = report["load"]
    samples = _sample_lines(out)
    assert load["completed"] + load["failed"] + load["cut"] == samples
    assert load["offered"] == samples + load["never_sent"], load


def test_ctrl_c_before_any_load_exits_130(tmp_path: Path) -> None:
    # Before the load step (here: the pre-flight check of a target that does not answer)
    # there is nothing to report: Ctrl-C ends slakit as Ctrl-C does, with 130.
    with serve_module("tests.hostile_target") as url:
        scenario = _scenario(
            tmp_path,
            "early",
            workload=CHAT,
            load={"rate": {"rps": 1, "duration": "5s"}},
            slos=BASIC_SLOS,
        )
        out = tmp_path / "reports"
        proc = _start_run(scenario, _target_file(tmp_path, f"{url}/stall"), out)
        wait_until(
            lambda: httpx.get(f"{url}/hits", timeout=5).json().get("stall/v1/models"),
            60,
            "the pre-flight check",
        )
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert not list(out.glob("*/report.json"))


def _child(parent: int, *words: str) -> int:
    """The pid of `parent`'s child process whose command line holds every one of `words`."""
    for children in Path(f"/proc/{parent}/task").glob("*/children"):
        for pid in children.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if all(w.encode() in cmdline for w in words):
                return int(pid)
    raise LookupError(f"no child of {parent} runs {words}")


def test_a_worker_lost_mid_run_makes_the_run_partial(tmp_path: Path) -> None:
    with sim_engine() as (url, _):
        scenario = _scenario(
            tmp_path,
            "lost-worker",
            workload=CHAT,
            load={"rate": {"rps": 4, "duration": "20s"}, "distributed": {"workers": 2}},
            slos=BASIC_SLOS,
            gate={"min_samples": 1},
        )
        out = tmp_path / "reports"
        proc = _start_run(scenario, _target_file(tmp_path, url), out)
        wait_until(lambda: _sample_lines(out, "samples-worker0.jsonl") >= 3, 60, "worker 0")
        os.kill(_child(proc.pid, "slakit.load.worker", "--index", "0"), signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout + stderr
    report = _report(out)
    assert report["status"] == "partial" and report["verdict"] != "pass"
    assert report["partial_reason"].startswith("worker 0 "), report["partial_reason"]
    assert report["ended_at"] - report["started_at"] < 15  # ended when it was lost
    kept = _sample_lines(out, "samples-worker0.jsonl")
    assert kept >= 3  # the lost worker's samples so far are in the run
    load = report["load"]
    assert load["completed"] + load["failed"] + load["cut"] == kept + _sample_lines(
        out, "samples-worker1.jsonl"
    )


def test_two_distributed_workers_give_one_merged_result(tmp_path: Path) -> None:
    with sim_engine() as (url, engine):
        scenario = _scenario(
            tmp_path,
            "distributed",
            workload=CHAT,
            load={"rate": {"rps": 12, "duration": "12s"}, "distributed": {"workers": 2}},
            slos=BASIC_SLOS,
            gate={"min_samples": 20},
        )
        out = tmp_path / "reports"
        r = _run_against(url, scenario, out)
        exited = time.time()
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = _run_dir(out)
    # Done when the load is: workers once waited out Locust's stop timeout (a minute).
    assert exited - _report(out)["ended_at"] < 20
    per_worker = [
        len((run_dir / f"samples-worker{i}.jsonl").read_text().splitlines()) for i in range(2)
    ]
    assert all(n > 20 for n in per_worker), per_worker
    report = _report(out)
    assert report["load"]["workers"] == 2
    total = report["kinds"]["all"]["requests"]
    assert total <= sum(per_worker) and total > 0.8 * sum(per_worker)  # warm-up excluded
    assert report["load"]["achieved_rps"] > 9
    # Each worker says what generating its share cost; the report adds them up.
    costs = [json.loads((run_dir / f"generator-worker{i}.json").read_text()) for i in range(2)]
    assert [c["requests"] for c in costs] == per_worker
    every = [json.loads(p.read_text()) for p in run_dir.glob("generator-*.json")]  # + master
    assert report["load"]["generator_cpu_s"] == pytest.approx(sum(c["cpu_s"] for c in every))


def test_requests_that_wait_for_a_slot_are_timed_from_their_due_time(tmp_path: Path) -> None:
    """Two slots for 20 req/s of ~0.3 s requests: most requests wait to be sent. Timed from
    the send, latency hides that wait; from the due time it does not, and the report says
    so. What generating the load cost is a part of what the slakit process spent."""
    with sim_engine("--ttft-ms", "100", "--token-delay-ms", "10") as (url, _engine):
        scenario = _scenario(
            tmp_path,
            "waiting",
            workload=CHAT,
            load={"rate": {"rps": 20, "duration": "4s", "max_concurrency": 2}},
            slos=[{"name": "e2e", "sli": "latency_from_due", "objective": "< 60s"}],
            gate={"min_samples": 5},
        )
        out = tmp_path / "reports"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        _run_against(url, scenario, out)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = _report(out)
    summary, load = report["kinds"]["all"], report["load"]
    assert not load["kept_up"] and load["late_after_s"] == 0.05
    assert summary["latency_from_due_p99"] > summary["latency_p99"] + 1.0, summary
    assert load["from_due_differs"] == ["ttft", "latency"]
    text = (_run_dir(out) / "summary.md").read_text()
    assert "Timed from when requests were due, end-to-end latency p99 is" in text
    spent = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert 0 < load["generator_cpu_s"] < spent
    sent = load["completed"] + load["failed"] + load["cut"]
    assert load["generator_cpu_per_request_s"] == pytest.approx(load["generator_cpu_s"] / sent)
    assert "of CPU per request" in text


def test_baseline_regression_is_detected_both_ways(tmp_path: Path) -> None:
    slos = [
        {
            "name": "ttft-p50",
            "sli": "ttft",
            "aggregation": "p50",
            "objective": "< 2s",
            "baseline": "within 10%",
        }
    ]
    reports = {}
    for label, ttft in (("fast", "10"), ("slow", "120")):
        with sim_engine("--ttft-ms", ttft) as (url, _):
            scenario = _scenario(
                tmp_path,
                label,
                workload=CHAT,
                slos=slos,
                load={"rate": {"rps": 8, "duration": "8s"}},
                gate={"min_samples": 10},
            )
            out = tmp_path / label
            r = _run_against(url, scenario, out)
            assert r.returncode == 0, r.stdout + r.stderr
            reports[label] = _run_dir(out) / "report.json"
    worse = run_cli("check", str(reports["slow"]), "--baseline", str(reports["fast"]))
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "ttft-p50" in worse.stdout and "baseline" in worse.stdout
    better = run_cli("check", str(reports["fast"]), "--baseline", str(reports["slow"]))
    assert better.returncode == 0, better.stdout + better.stderr
    loose = run_cli(
        "check",
        str(reports["slow"]),
        "--baseline",
        str(reports["fast"]),
        "--max-regression",
        "5000",
    )
    assert loose.returncode == 0, loose.stdout + loose.stderr


def test_sweep_finds_the_knee_of_a_capacity_limited_engine(tmp_path: Path) -> None:
    # Two sequences at a time, 16 tokens 25 ms apart: about 5 req/s before requests queue.
    with sim_engine("--max-num-seqs", "2", "--token-delay-ms", "25") as (url, _):
        scenario = _scenario(
            tmp_path,
            "sweep",
            workload=CHAT,
            load={"sweep": {"mode": "step", "rates": [1, 2, 16], "step_duration": "8s"}},
            slos=[
                {"name": "ttft-p95", "sli": "ttft", "aggregation": "p95", "objective": "< 150ms"}
            ],
            gate={"min_samples": 8},
        )
        out = tmp_path / "reports"
        r = _run_against(url, scenario, out)
    assert r.returncode == 0, r.stdout + r.stderr
    report = _report(out)
    steps = [(s["rate"], s["verdict"]) for s in report["sweep"]]
    assert steps == [(1, "pass"), (2, "pass"), (16, "fail")], steps
    assert report["capacity_rps"] == 2
    assert "Capacity" in (_run_dir(out) / "summary.md").read_text()


def test_unreachable_target_is_exit_2(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        "nowhere",
        workload=CHAT,
        load={"rate": {"rps": 1, "duration": "5s"}},
        slos=BASIC_SLOS,
    )
    r = run_cli(
        "run",
        "scenario",
        str(scenario),
        "--target",
        str(_target_file(tmp_path, "http://127.0.0.1:9")),
    )
    assert r.returncode == 2
    where = f"{tmp_path / 'target.yaml'}:1: openai"
    assert r.stderr.startswith(
        f"slakit: {where}: target unreachable at http://127.0.0.1:9/v1/models"
    )
    assert "Traceback" not in r.stderr
