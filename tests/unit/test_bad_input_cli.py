"""Bad input through the real command line, as a user's CI would meet it: `python -m slakit
run scenario BAD.yaml --target T.yaml` exits 2 with only `slakit: FILE:LINE: field: problem`
lines, no traceback, nothing written, in bounded time and memory. The target is a closed
loopback port: validation must fail before any connection is tried (issue 8, items 4-9)."""

from __future__ import annotations

import http.server
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slakit.stack import sim_engine
from slakit.stack.config import SimConfig
from tests.conftest import run_cli
from tests.servers import HOST, free_port, serve_handler, serve_in_thread
from tests.unit.test_scenario_errors import GOOD

SWEEP = "  sweep: {start: 1, max_rps: 4, step_duration: 10s}\n"
CLOSED = f"http://{HOST}:{free_port()}"
TARGET = f"openai: {CLOSED}\n"
PROBLEM_LINE = re.compile(r"^slakit: (?P<file>\S+?):(?P<line>\d+): (?P<field>[^:]+): \S.*$")
# Bounds for files that cost seconds and gigabytes before (9.6 s and 2.6 GB, 59.5 s).
MEMORY_LIMIT_BYTES = 2 * 1024**3
SECONDS = 15


def with_load(line: str) -> str:
    return GOOD.replace("  rate: {rps: 2, duration: 10s}\n", line)


def with_slo(slo: str) -> str:
    return GOOD.replace('objective: "< 500ms"}', slo)


def with_chat(*fields: str) -> str:
    return GOOD.replace(
        "  - kind: chat\n", "  - kind: chat\n" + "".join(f"    {f}\n" for f in fields)
    )


# name -> (scenario text or bytes, target file text, fragment of one problem line)
CASES: dict[str, tuple[str | bytes, str, str]] = {
    # 4 / 7: a name too long for a directory name was an OSError after the target check
    "name-500-chars": (
        GOOD.replace("name: ok", "name: " + "n" * 500),
        TARGET,
        "scenario.yaml:1: name: String should have at most 100 characters",
    ),
    # 5: aliases, duplicate keys, nesting
    "alias": (
        "name: &n ok\ndescription: *n\n" + GOOD.replace("name: ok\n", ""),
        TARGET,
        "scenario.yaml:2: refused YAML: aliases (*name) are not allowed",
    ),
    "duplicate-key": (
        GOOD + "name: again\n",
        TARGET,
        "scenario.yaml:8: name: duplicate key, also written at line 1",
    ),
    "duplicate-key-in-flow": (
        with_load("  rate: {rps: 2, duration: 10s, rps: 200}\n"),
        TARGET,
        "scenario.yaml:5: load.rate.rps: duplicate key, also written at line 5",
    ),
    "nested-5000-deep": (
        GOOD + "description: " + "[" * 5000 + "]" * 5000 + "\n",
        TARGET,
        "scenario.yaml:8: refused YAML: nested deeper than 64 levels",
    ),
    # 7: tracebacks
    "sweep-start-above-max": (
        with_load("  sweep: {start: 8, max_rps: 2, step_duration: 10s}\n"),
        TARGET,
        "scenario.yaml:5: load.sweep.start: start (8 req/s) is above max_rps (2 req/s)",
    ),
    "weight-inf": (
        with_chat("weight: .inf"),
        TARGET,
        "scenario.yaml:4: workload.0.chat.weight: Input should be a finite number",
    ),
    "latin-1": (
        GOOD.replace("name: ok", "name: caf\xe9").encode("latin-1"),
        TARGET,
        "scenario.yaml:1: encoding: not UTF-8 text (byte 0xe9)",
    ),
    "utf-16": (GOOD.encode("utf-16"), TARGET, "scenario.yaml:1: encoding: not UTF-8 text"),
    "binary": (
        b"\x1f\x8b\x08\x00" + bytes(range(256)),  # a gzip header, then anything
        TARGET,
        "scenario.yaml:1: encoding: not UTF-8 text (byte 0x8b)",
    ),
    "nul-byte": (
        GOOD.encode() + b"seed: \x00\n",
        TARGET,
        "scenario.yaml:8: malformed YAML: unacceptable character #x0000",
    ),
    "integer-of-5000-digits": (
        GOOD + "seed: " + "9" * 5000 + "\n",
        TARGET,
        "scenario.yaml:8: refused YAML: cannot read this value: Exceeds the limit (4300 digits)",
    ),
    "impossible-date": (
        GOOD + "description: 2024-13-01\n",
        TARGET,
        "scenario.yaml:8: refused YAML: cannot read this value: month must be in 1..12",
    ),
    # 8: accepted though it cannot be meant
    "request-timeout-0s": (
        with_load("  rate: {rps: 2, duration: 10s}\n  request_timeout: 0s\n"),
        TARGET,
        "scenario.yaml:6: load.request_timeout: must be longer than 0s",
    ),
    "objective-below-0": (
        with_slo('objective: "< 0ms"}'),
        TARGET,
        "scenario.yaml:7: slos.0.objective: no measured value can meet '< 0ms'",
    ),
    "warn-looser-than-objective": (
        with_slo('objective: "< 500ms", warn: "< 800ms"}'),
        TARGET,
        "scenario.yaml:7: slos.0.warn: warn '< 800ms' must be stricter than the objective",
    ),
    "sweep-rates-empty": (
        with_load("  sweep: {rates: [], step_duration: 10s}\n"),
        TARGET,
        "scenario.yaml:5: load.sweep.rates: `rates: []` lists no rate to try",
    ),
    "warmup-longer-than-a-sweep-step": (
        with_load(SWEEP) + "warmup: 15s\n",
        TARGET,
        "scenario.yaml:8: warmup: warmup (15s) must be shorter than a sweep step (10s)",
    ),
    "remote-target-for-an-embedded-scenario": (
        GOOD + "target: embedded\n",
        "openai: http://192.0.2.10:8000\n",
        "target.yaml:1: openai: http://192.0.2.10:8000 is not on this machine",
    ),
    # 9: messages
    "token-distribution": (
        with_chat("input_tokens: {dist: uniform, min: 3}"),
        TARGET,
        "scenario.yaml:4: workload.0.chat.input_tokens.distribution: "
        "a uniform distribution needs min and max",
    ),
    "token-count-as-text": (
        with_chat("output_tokens: lots"),
        TARGET,
        "scenario.yaml:4: workload.0.chat.output_tokens: expected a token count like 64",
    ),
    "api-key-env-unset": (
        GOOD,
        TARGET + "api_key_env: SLAKIT_TEST_VARIABLE_NOBODY_SETS\n",
        "target.yaml:2: api_key_env: environment variable SLAKIT_TEST_VARIABLE_NOBODY_SETS "
        "is not set",
    ),
    "url-without-scheme-in-target-file": (
        GOOD,
        "openai: http//x\n",
        "target.yaml:1: openai: expected an http(s) URL like 'http://127.0.0.1:8000'",
    ),
    "url-without-scheme-in-scenario": (
        GOOD + "target: {openai: 'http//x'}\n",
        TARGET,
        "scenario.yaml:8: target.explicit.openai: expected an http(s) URL",
    ),
    "unreachable-target": (
        GOOD,
        TARGET,
        f"target.yaml:1: openai: target unreachable at {CLOSED}/v1/models: ConnectError:",
    ),
    "nan-rps": (
        with_load("  rate: {rps: .nan, duration: 10s}\n"),
        TARGET,
        "scenario.yaml:5: load.rate.rps: Input should be a finite number",
    ),
}


def refused(
    tmp_path: Path, scenario: str | bytes, target: str = TARGET, timeout: float = SECONDS
) -> list[str]:
    """Run the CLI on `scenario` with `target` as --target; check the bad-input contract
    (exit 2, only FILE:LINE: field: problem lines, no traceback, no file written anywhere);
    return the problem lines without the `slakit: ` prefix."""
    path, target_path = _write(tmp_path, scenario, target)
    before = sorted(tmp_path.rglob("*"))
    done = run_cli(
        "run", "scenario", str(path), "--target", str(target_path), "--out",
        str(tmp_path / "out"), timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines, "no problem reported"
    for line in lines:
        assert PROBLEM_LINE.match(line), f"not `slakit: FILE:LINE: field: problem`: {line!r}"
    assert sorted(tmp_path.rglob("*")) == before, "bad input must write nothing"
    return [line.removeprefix("slakit: ") for line in lines]


def _write(tmp_path: Path, scenario: str | bytes, target: str) -> tuple[Path, Path]:
    path, target_path = tmp_path / "scenario.yaml", tmp_path / "target.yaml"
    if isinstance(scenario, str):
        path.write_text(scenario)
    else:
        path.write_bytes(scenario)
    target_path.write_text(target)
    return path, target_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_exits_2_with_file_line_field_problem(name: str, tmp_path: Path) -> None:
    scenario, target, fragment = CASES[name]
    lines = refused(tmp_path, scenario, target)
    assert any(fragment in line for line in lines), f"{fragment!r} not in {lines}"


def test_a_union_error_is_one_line_without_pydantic_internals(tmp_path: Path) -> None:
    lines = refused(tmp_path, with_chat("input_tokens: {dist: uniform, min: 3}"))
    assert len(lines) == 1, lines
    assert not any(word in lines[0] for word in ("constrained-int", "function-after"))


def test_nan_is_not_called_too_large(tmp_path: Path) -> None:
    lines = refused(tmp_path, with_load("  rate: {rps: .nan, duration: 10s}\n"))
    assert not any("less than or equal" in line for line in lines), lines


# --- prompt files: checked before any load ------------------------------------------------

PROMPT_FILES = {
    "missing": (None, "prompts.jsonl: cannot read: No such file or directory"),
    "empty": ("\n\n", "prompts.jsonl: no prompts in the file"),
    "broken-line": (
        '{"prompt": "hello"}\n{"prompt": "cut off\n',
        'prompts.jsonl:2: expected a JSON object like {"prompt": "..."}',
    ),
    "latin-1": ('{"prompt": "caf\xe9"}\n', "prompts.jsonl:1: encoding: not UTF-8 text"),
    "number-of-5000-digits": (
        '{"prompt": ' + "9" * 5000 + "}\n",
        'prompts.jsonl:1: expected a JSON object like {"prompt": "..."}',
    ),
}


@pytest.mark.parametrize("case", sorted(PROMPT_FILES))
def test_a_bad_prompt_file_is_refused_before_any_load(case: str, tmp_path: Path) -> None:
    content, fragment = PROMPT_FILES[case]
    prompts = tmp_path / "prompts.jsonl"
    if content is not None:
        prompts.write_bytes(content.encode("latin-1"))
    scenario = with_chat("prompt: {source: jsonl, path: " + str(prompts) + "}")
    lines = refused(tmp_path, scenario)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path}/scenario.yaml:4: workload.0.prompt.path: "), lines
    assert f"{tmp_path}/{fragment}" in lines[0], lines


# --- bounded time and memory -------------------------------------------------------------


def billion_laughs(levels: int) -> str:
    """`levels` aliases deep, each a list of ten of the one before: 10**levels strings."""
    rows = ['l0: &l0 "lol"']
    rows += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(rows) + f"\ndescription: *l{levels}\n" + GOOD


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def test_an_alias_bomb_is_refused_at_once_in_bounded_memory(tmp_path: Path) -> None:
    """The 9-level bomb grew past 2.6 GB: here the CLI runs under an address-space limit
    (`run_cli` cannot set one) and must refuse within a CPU second of its own start-up (CPU
    time, not wall time: a busy machine stretches the one, not the other)."""
    path, target = _write(tmp_path, billion_laughs(9), TARGET)
    startup, _ = _cpu_run(tmp_path / "absent.yaml", target)  # the same start-up, no YAML
    elapsed, done = _cpu_run(path, target)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"slakit: {path}:2: refused YAML: aliases (*name) are not allowed: one alias can "
        "expand to gigabytes; write the value out"
    ]
    assert elapsed < startup + 1.0, f"{elapsed:.1f} CPU s (start-up alone {startup:.1f} s)"


def _cpu_run(path: Path, target: Path) -> tuple[float, subprocess.CompletedProcess]:
    """The CLI's exit and the CPU seconds (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "slakit", "run", "scenario", str(path), "--target", str(target)],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=_limit_memory,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done


def test_16000_unknown_keys_are_reported_in_linear_time(tmp_path: Path) -> None:
    """59.5 s before (every error's line looked up through a set of all keys built anew)."""
    count = 16_000
    scenario = GOOD + "".join(f"unknown_{i}: {i}\n" for i in range(count))
    started = time.monotonic()
    lines = refused(tmp_path, scenario, timeout=30)
    assert time.monotonic() - started < SECONDS
    assert len(lines) == count
    assert lines[-1] == f"{tmp_path}/scenario.yaml:{7 + count}: unknown_{count - 1}: unknown field"


# --- a target's answers -------------------------------------------------------------------

HOSTILE_REASON = "\x1b[2JGo away"


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 401 and a reason phrase that would clear a terminal."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(401, HOSTILE_REASON)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads the CLI's output, not the server's."""


def test_a_401_is_a_refused_key_printed_without_control_characters(tmp_path: Path) -> None:
    with serve_handler(_Refusing) as url:
        lines = refused(tmp_path, GOOD, f"openai: {url}\n")
    assert lines == [
        f"{tmp_path}/target.yaml:1: openai: target refused a request without an API key "
        f"(HTTP 401 [2JGo away) at {url}/v1/models"
    ]


# --- the run directory ---------------------------------------------------------------------


def test_the_scenario_name_cannot_lead_the_reports_out_of_the_out_dir(tmp_path: Path) -> None:
    """`name: ../../../../escape` wrote the reports to tmp/escape, outside `--out tmp/A/B`."""
    out = tmp_path / "A" / "B"
    scenario = GOOD.replace("name: ok", 'name: "../../../../escape"').replace(
        "rps: 2, duration: 10s", "rps: 2, duration: 1s"
    )
    with serve_in_thread(sim_engine.create_app(SimConfig(ttft_ms=0), "slakit-tiny")) as url:
        path, target = _write(tmp_path, scenario, f"openai: {url}\n")
        done = run_cli(
            "run", "scenario", str(path), "--target", str(target), "--out", str(out), timeout=120
        )
    assert done.returncode in (0, 1), done.stderr
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {path, target}
    assert written and all(out in p.parents for p in written), sorted(written)
    (run_dir,) = out.iterdir()
    assert run_dir.name.endswith("-escape") and (run_dir / "report.json").is_file()


@pytest.mark.parametrize(
    "args",
    [("check", "a", "b"), ("nosuch",), ("run", "scenario"), ("check", "--max-regression", "x")],
)
def test_a_command_line_mistake_is_exit_2_without_a_traceback(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Error" in result.stderr
