"""`slakit run scenario --wire-check` end to end through the CLI: the report's
"Measurement error" section, the gate's `max_measurement_error` holding on a clean run
and failing a generator a CPU hog stalls, and the smoke scenario on the real stack.
Needs tcpdump, CAP_NET_RAW and, for the stall, CAP_SYS_NICE (root has them).

The simulated engine runs on every core but the generator's, at a raised priority, so
that its own lateness (it shares core 0 with vLLM's spinning worker when the session's
stack is up) neither stalls nor crowds the generator's core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_env
from tests.servers import REPO, answers, free_port, stop, wait_until

MS = 0.001
BOUND_MS = 5
CLI_TIMEOUT_S = 120
CORES = sorted(os.sched_getaffinity(0))
GENERATOR_CORE = CORES[-1]
ENGINE_CORES = ",".join(map(str, CORES[:-1]))
ENGINE_NICE = -10
STALL_S = 0.100
"""The hog spins this long, then sleeps HOG_REST_S: one stall in five of the run's time."""
HOG_REST_S = 0.400
HOG_LIMIT_S = 60
"""The hog ends by itself after this long, whatever becomes of the test."""

# A real-time busy loop pinned to one core, one priority above the generator's own
# (`slakit.stack.placement`: SCHED_RR at the lowest real-time priority): while it spins,
# the generator does not run there. Not a niceness: a generator that mostly sleeps wins
# its wake-up over a nice -10 or -20 hog even at nice 0 (the scheduler credits sleepers),
# late by 10-30 ms, no stall of a known size, and a real-time one is never delayed by it.
# Bounded by the kernel's real-time throttling (95% of each second) and by HOG_LIMIT_S.
HOG = """
import os, sys, time
core, spin, rest, limit = int(sys.argv[1]), *map(float, sys.argv[2:])
os.sched_setaffinity(0, {core})
above_the_generator = os.sched_get_priority_min(os.SCHED_FIFO) + 1
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(above_the_generator))
end = time.monotonic() + limit
while time.monotonic() < end:
    until = min(time.monotonic() + spin, end)
    while time.monotonic() < until:
        pass
    time.sleep(rest)
"""

needs_two_cores = pytest.mark.skipif(len(CORES) < 2, reason="needs a core for the generator")


@contextmanager
def sim_engine(*args: str) -> Iterator[str]:
    """The simulated engine off the generator's core, at ENGINE_NICE; its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "slakit.stack.sim_engine", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        ["taskset", "-c", ENGINE_CORES, "nice", "-n", str(ENGINE_NICE), *command]
        + ["--port", str(port), "--model-name", "slakit-tiny", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        wait_until(lambda: answers(f"{url}/v1/models"), 30, "sim engine")
        yield url
    finally:
        stop(proc)


def _scenario(tmp_path: Path, url: str, **fields) -> tuple[Path, Path]:
    """(scenario, target file): streamed chat at an open-loop rate, the bound at 5 ms."""
    scenario = {
        "name": "wire-check",
        "workload": [{"kind": "chat", "stream": True, "output_tokens": 4}],
        "slos": [
            {"name": "ttft-p95", "sli": "ttft", "aggregation": "p95", "objective": "< 2s"},
            {"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"},
        ],
        "gate": {"min_samples": 10, "max_measurement_error": f"{BOUND_MS}ms"},
        **fields,
    }
    path, target = tmp_path / "wire-check.yaml", tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    target.write_text(yaml.safe_dump({"openai": url}))
    return path, target


def _run(scenario: Path, target: Path, out: Path, *prefix: str) -> subprocess.CompletedProcess:
    """`slakit run scenario --wire-check` as a user runs it, after `prefix` (e.g. taskset)."""
    command = [sys.executable, "-m", "slakit", "run", "scenario", str(scenario)]
    return subprocess.run(
        [*prefix, *command, "--target", str(target), "--out", str(out), "--wire-check"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def _run_dir(out: Path) -> Path:
    (run_dir,) = out.iterdir()
    return run_dir


def _measurement(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())["measurement"]


def _figures(measurement: dict) -> str:
    """TTFT, ITL, TPOT, latency and send delay: p50 / p99 / max in ms, for a failure."""
    error = measurement["error"]
    stats = {**error["errors"], "send_delay": error["send_delay"]}
    return "; ".join(
        f"{sli} " + " / ".join(f"{(s[k] or 0) / MS:.1f}" for k in ("p50_s", "p99_s", "max_s"))
        for sli, s in stats.items()
    )


@needs_two_cores
def test_a_clean_run_is_within_the_bound_and_passes(tmp_path: Path) -> None:
    """Over 100 requests, so that the p99 is not just the largest of a few dozen. Arrivals
    are constant and normally answered well within their interval; requests still in
    flight when the schedule ends are timed right too, now that the plan fills
    `inspect`'s cache before the load (Locust's stop calls `inspect.stack()`, whose first
    call blocked the generator ~100 ms: the last three requests of a run whose target
    answered slowly at the end were stamped 12-36 ms late, and the test failed)."""
    with sim_engine("--ttft-ms", "20", "--token-delay-ms", "5") as url:
        scenario, target = _scenario(
            tmp_path, url, load={"rate": {"rps": 8, "arrivals": "constant", "duration": "13s"}}
        )
        r = _run(scenario, target, tmp_path / "out")
    run_dir = _run_dir(tmp_path / "out")
    measurement = _measurement(run_dir)
    assert r.returncode == 0, r.stdout + r.stderr + _figures(measurement)
    error = measurement["error"]
    samples = sum(1 for _ in (run_dir / "samples-local.jsonl").open())
    assert error["matched"] == samples >= 100 and error["unmatched_samples"] == 0, error
    assert measurement["capture_clean"] and measurement["dropped_packets"] == 0, measurement
    assert error["itl_mismatched"] == 0 and error["errors"]["itl"]["count"] == 3 * samples
    for sli in ("ttft", "itl", "tpot", "latency"):
        assert error["errors"][sli]["abs_p99_s"] <= BOUND_MS * MS, _figures(measurement)
    assert measurement["verdict"] == "pass" and measurement["changed_verdicts"] == []
    assert [s["verdict"] for s in measurement["wire_slos"]] == ["pass", "pass"]
    summary = (run_dir / "summary.md").read_text()
    assert "### Measurement error" in summary
    assert f"within max_measurement_error {BOUND_MS} ms" in summary
    assert "| Time to first token | " in summary and "No verdict would change" in summary
    suite = ET.fromstring((run_dir / "junit.xml").read_text()).find("testsuite")
    assert suite.get("failures") == "0" and suite.get("tests") == "3"
    # `check` judges the stored wire check by the same rule.
    assert run_cli("check", str(run_dir)).returncode == 0


@needs_two_cores
def test_a_generator_stalled_by_a_cpu_hog_shows_the_stall_and_fails(tmp_path: Path) -> None:
    """The CLI and a real-time busy loop share one core: each spin stalls the generator
    for STALL_S while the engine, on the other core, answers on time. A token that
    arrives during a spin is stamped when it ends: late by up to the stall. About one first
    token in five lands in a spin, late by a uniform share of it: at 5 req/s (~8 such) the
    largest was under 0.6 of the stall in one fresh-clone run (46.7 ms, odds ~2%); at
    10 req/s (~16) the odds are ~0.03%."""
    with sim_engine("--ttft-ms", "100", "--token-delay-ms", "10") as url:
        scenario, target = _scenario(tmp_path, url, load={"rate": {"rps": 10, "duration": "8s"}})
        hog = subprocess.Popen(
            [sys.executable, "-c", HOG, str(GENERATOR_CORE), str(STALL_S), str(HOG_REST_S)]
            + [str(HOG_LIMIT_S)],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            r = _run(scenario, target, tmp_path / "out", "taskset", "-c", str(GENERATOR_CORE))
        finally:
            hog.kill()
            _, hog_said = hog.communicate(timeout=10)
    assert not hog_said, hog_said
    assert r.returncode == 1, r.stdout + r.stderr
    run_dir = _run_dir(tmp_path / "out")
    report = json.loads((run_dir / "report.json").read_text())
    assert [s["verdict"] for s in report["slos"]] == ["pass", "pass"]  # the bound alone fails
    measurement = report["measurement"]
    ttft = measurement["error"]["errors"]["ttft"]
    # About the stall: a token stamped at the end of a spin it arrived in.
    assert 0.6 * STALL_S <= ttft["max_s"] <= 1.5 * STALL_S, _figures(measurement)
    assert ttft["abs_p99_s"] > BOUND_MS * MS and ttft["p50_s"] < BOUND_MS * MS, ttft
    assert measurement["verdict"] == "fail"
    assert f"over max_measurement_error {BOUND_MS} ms" in measurement["detail"]
    assert "measurement error: fail" in r.stdout
    assert "Measurement error: FAIL." in (run_dir / "summary.md").read_text()
    suite = ET.fromstring((run_dir / "junit.xml").read_text()).find("testsuite")
    (case,) = [c for c in suite.findall("testcase") if c.get("name") == "max_measurement_error"]
    assert case.find("failure").get("message") == measurement["detail"]


def test_a_closed_loop_distributed_run_is_checked_across_its_workers(tmp_path: Path) -> None:
    users = {"stages": [{"users": 4, "spawn_rate": 4, "duration": "6s"}], "think_time": "100ms"}
    with sim_engine("--ttft-ms", "20", "--token-delay-ms", "5") as url:
        scenario, target = _scenario(
            tmp_path,
            url,
            load={"users": users, "distributed": {"workers": 2}},
            gate={"min_samples": 10},
        )
        r = _run(scenario, target, tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = _run_dir(tmp_path / "out")
    workers = [sum(1 for _ in (run_dir / f"samples-worker{i}.jsonl").open()) for i in (0, 1)]
    measurement = _measurement(run_dir)
    assert all(workers) and measurement["error"]["matched"] == sum(workers), measurement
    assert measurement["verdict"] is None  # no bound: the check only reports


def test_a_sweep_refuses_the_wire_check_and_its_bound_in_one_line(tmp_path: Path) -> None:
    sweep = {"sweep": {"rates": [1, 2], "step_duration": "5s"}}
    scenario, target = _scenario(tmp_path, "http://127.0.0.1:9", load=sweep)
    r = _run(scenario, target, tmp_path / "out")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        "slakit: --wire-check: a sweep cannot be checked; check one of its rates as `load.rate`"
    ]
    r = run_cli("run", "scenario", str(scenario), "--target", str(target))
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        f"slakit: {scenario}:17: gate.max_measurement_error: a sweep cannot be wire-checked; "
        "bound one of its rates as `load.rate`"
    ]


@pytest.mark.integration
def test_smoke_on_the_real_stack_is_within_5ms_of_the_wire(
    stack: StackConfig, tmp_path: Path
) -> None:
    """Issue 9's target: with the stack beside it, slakit's client TTFT within 5 ms of the
    wire at p99. Only the gateway's port is captured (the workload's kinds send there).
    Missed today (p99 55-57 ms, all of it send delay: README, "Measurement error")."""
    out = tmp_path / "reports"
    r = run_cli(
        *("run", "scenario", str(REPO / "scenarios" / "smoke.yaml")),
        *("--out", str(out), "--wire-check"),
        env=stack_env(stack),
    )
    assert r.returncode in (0, 1), r.stdout + r.stderr  # smoke's own verdict is not judged here
    run_dir = _run_dir(out)
    measurement = _measurement(run_dir)
    error = measurement["error"]
    samples = sum(1 for _ in (run_dir / "samples-local.jsonl").open())
    assert error["matched"] == samples and error["relayed"] == 0, error
    assert measurement["capture_clean"] and measurement["dropped_packets"] == 0, measurement
    print(f"smoke --wire-check: {_figures(measurement)}")  # shown with pytest -s
    assert error["errors"]["ttft"]["abs_p99_s"] <= BOUND_MS * MS, _figures(measurement)
