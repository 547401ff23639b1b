"""`slakit run scenario` against a hostile target (tests/hostile_target.py, a real server
process on loopback): streams that never end, trickle, never send a newline or send far
too much. The gate must account for every request, end on time and stay interruptible.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import run_cli
from tests.servers import answers, free_port, serve_module, stop, wait_until

pytestmark = pytest.mark.integration

ERRORS_SLO = [{"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"}]
STREAMED_CHAT = [{"kind": "chat", "output_tokens": 16}]
CLI_TIMEOUT_S = 60  # a run that has not ended by then hangs (the tool's own bound is lower)


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with serve_module("tests.hostile_target") as url:
        yield url


def _files(tmp_path: Path, hostile: str, behaviour: str, **scenario) -> tuple[Path, Path]:
    """(scenario, target) files for a run against `behaviour`."""
    fields = {"name": behaviour, "workload": STREAMED_CHAT, "slos": ERRORS_SLO, **scenario}
    fields.setdefault("gate", {"min_samples": 1})
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"openai": f"{hostile}/{behaviour}"}))
    return path, target


def _args(scenario: Path, target: Path, out: Path) -> list[str]:
    return ["run", "scenario", str(scenario), "--out", str(out), "--target", str(target)]


def _results(out: Path) -> tuple[dict, list[dict]]:
    """(report.json, every sample line) of the one run under `out`."""
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    samples = [
        json.loads(line)
        for path in sorted(run_dir.glob("samples-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    return json.loads((run_dir / "report.json").read_text()), samples


def _assert_every_request_counted(report: dict, samples: list[dict]) -> None:
    """Each offered request is a sample (completed, failed or cut) or was never sent."""
    load = report["load"]
    assert load["completed"] + load["failed"] + load["cut"] == len(samples), load
    assert load["offered"] == len(samples) + load["never_sent"], load
    assert load["failed"] == sum(1 for s in samples if s["error"] not in (None, "cut"))
    assert load["cut"] == sum(1 for s in samples if s["error"] == "cut")


def _hits(hostile: str, behaviour: str) -> int:
    return httpx.get(f"{hostile}/hits", timeout=5).json().get(f"{behaviour}/v1/chat/completions", 0)


def test_requests_still_streaming_at_the_end_are_failures_not_dropped(
    hostile: str, tmp_path: Path
) -> None:
    # 10 requests due; the target leaves the 4th and 8th hanging (one byte a second).
    scenario, target = _files(
        tmp_path,
        hostile,
        "every-4th-hangs",
        load={
            "rate": {"rps": 2, "duration": "5s", "arrivals": "constant"},
            "request_timeout": "3s",
        },
    )
    out = tmp_path / "reports"
    r = run_cli(*_args(scenario, target, out), timeout=CLI_TIMEOUT_S)
    assert r.returncode == 1, r.stdout + r.stderr
    report, samples = _results(out)
    _assert_every_request_counted(report, samples)
    assert report["load"]["offered"] == 10 and report["load"]["failed"] == 2, report["load"]
    hung = [s for s in samples if s["error"]]
    assert [s["error"] for s in hung] == ["timeout", "timeout"], hung
    assert all(3 <= s["latency_s"] < 4 for s in hung), hung
    assert report["verdict"] == "fail" and report["status"] == "complete"


def test_a_trickling_stream_ends_at_the_request_deadline(hostile: str, tmp_path: Path) -> None:
    # A byte a second keeps the socket busy: only a whole-request deadline ends it.
    scenario, target = _files(
        tmp_path,
        hostile,
        "trickle",
        load={
            "rate": {"rps": 1, "duration": "2s", "arrivals": "constant"},
            "request_timeout": "2s",
        },
    )
    out = tmp_path / "reports"
    r = run_cli(*_args(scenario, target, out), timeout=CLI_TIMEOUT_S)
    assert r.returncode == 1, r.stdout + r.stderr
    report, samples = _results(out)
    _assert_every_request_counted(report, samples)
    assert samples and {s["error"] for s in samples} == {"timeout"}, samples
    assert all(2 <= s["latency_s"] < 3 for s in samples), samples


@pytest.mark.parametrize(
    ("behaviour", "stream", "error"),
    [("endless-line", True, "oversized_line"), ("huge-body", False, "oversized_body")],
)
def test_a_body_beyond_the_bounds_is_an_error_not_a_hang(
    hostile: str, tmp_path: Path, behaviour: str, stream: bool, error: str
) -> None:
    scenario, target = _files(
        tmp_path,
        hostile,
        behaviour,
        workload=[{"kind": "chat", "output_tokens": 16, "stream": stream}],
        load={"rate": {"rps": 1, "duration": "2s", "arrivals": "constant"}},
    )
    out = tmp_path / "reports"
    r = run_cli(*_args(scenario, target, out), timeout=CLI_TIMEOUT_S)
    assert r.returncode == 1, r.stdout + r.stderr
    report, samples = _results(out)
    _assert_every_request_counted(report, samples)
    assert samples and {s["error"] for s in samples} == {error}, samples
    assert report["kinds"]["all"]["errors_by_class"] == {error: len(samples)}


def _start(scenario: Path, target: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "slakit", *_args(scenario, target, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt(proc: subprocess.Popen) -> tuple[str, str, float]:
    """Ctrl-C; (stdout, stderr, seconds until the process ended)."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=CLI_TIMEOUT_S)
    return stdout, stderr, time.monotonic() - sent


def test_ctrl_c_while_every_read_blocks_keeps_each_request_as_cut(
    hostile: str, tmp_path: Path
) -> None:
    # Every stream trickles and the deadline is a minute away: the run is in its drain,
    # each user blocked in a read, when Ctrl-C comes.
    scenario, target = _files(
        tmp_path,
        hostile,
        "trickle",
        load={"rate": {"rps": 2, "duration": "2s", "arrivals": "constant"}},
    )
    out = tmp_path / "reports"
    before = _hits(hostile, "trickle")
    proc = _start(scenario, target, out)
    try:
        wait_until(lambda: _hits(hostile, "trickle") >= before + 4, 40, "four trickling streams")
        time.sleep(1)  # past the schedule's end
        stdout, stderr, took = _interrupt(proc)
    finally:
        proc.kill()
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    assert took < 20, took  # reports written and out; a read never holds up the signal
    report, samples = _results(out)
    assert report["status"] == "partial"
    assert report["partial_reason"] == "interrupted by SIGINT"
    _assert_every_request_counted(report, samples)
    assert len(samples) == 4 and report["load"]["cut"] == 4, samples
    assert {s["cut_reason"] for s in samples} == {"interrupted by SIGINT"}


def test_ctrl_c_after_the_load_still_writes_a_report_that_says_so(
    hostile: str, tmp_path: Path
) -> None:
    """Once the load is over slakit waits for Prometheus's next scrape, then queries it:
    a Ctrl-C then keeps every sample and writes a partial report (it exited 130 with none)."""
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 5s}\n")
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scenario, target = _files(
        tmp_path, hostile, "ok", load={"rate": {"rps": 4, "duration": "2s", "arrivals": "constant"}}
    )
    url = f"http://127.0.0.1:{port}"
    target.write_text(yaml.safe_dump({"openai": f"{hostile}/ok", "prometheus": url}))
    out = tmp_path / "reports"
    try:
        wait_until(lambda: answers(f"{url}/-/ready"), 30, "Prometheus")
        proc = _start(scenario, target, out)
        try:
            # The schedule file is written as the load step closes: the report phase begins.
            wait_until(lambda: list(out.glob("*/schedule-*.json")), 40, "the end of the load")
            stdout, stderr, took = _interrupt(proc)
        finally:
            proc.kill()
    finally:
        stop(prometheus)
    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr and took < 20, (stderr, took)
    report, samples = _results(out)
    assert report["status"] == "partial"
    assert report["partial_reason"] == (
        "interrupted by SIGINT after the load, while the report was being made"
    )
    assert report["verdict"] == "fail" and report["exit_code"] == 1
    assert len(samples) == report["load"]["completed"] == report["load"]["offered"] == 8


def test_a_named_prometheus_that_does_not_answer_is_refused_before_any_load(
    hostile: str, tmp_path: Path
) -> None:
    """Its queries would fail one by one after the load (they took minutes, retried)."""
    scenario, target = _files(tmp_path, hostile, "ok", load={"rate": {"rps": 4, "duration": "2s"}})
    closed = f"http://127.0.0.1:{free_port()}"
    target.write_text(yaml.safe_dump({"openai": f"{hostile}/ok", "prometheus": closed}))
    out = tmp_path / "reports"
    result = run_cli(*_args(scenario, target, out), timeout=CLI_TIMEOUT_S)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(
        f"slakit: {target}:2: prometheus: target unreachable at {closed}/-/ready"
    )
    assert not out.exists() or not any(out.iterdir())
