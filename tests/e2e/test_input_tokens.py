"""`input_tokens` are the served model's tokens, end to end: every request's
`usage.prompt_tokens` is what its prompt was sized to, on the simulated engine and on real
vLLM behind the gateway, for chat (chat template included) and completions alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_env
from tests.e2e.test_run_scenario import _report, _run_against, _run_dir, _scenario, sim_engine

pytestmark = pytest.mark.integration

UNIFORM = {"dist": "uniform", "min": 16, "max": 128}
ERRORS = [{"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"}]


def llm(kind: str, name: str, input_tokens: int | dict) -> dict:
    """A request kind; a distribution is copied, so the YAML written has no alias."""
    tokens = dict(input_tokens) if isinstance(input_tokens, dict) else input_tokens
    return {"kind": kind, "name": name, "input_tokens": tokens, "output_tokens": 4}


def exact_samples(out: Path, kinds: list[str]) -> list[dict]:
    """The run's samples, after checking each was counted as it was sized, by the server."""
    run_dir = _run_dir(out)
    samples = [
        json.loads(line) for line in (run_dir / "samples-local.jsonl").read_text().splitlines()
    ]
    done = [s for s in samples if s["error"] is None]
    assert len(done) == len(samples), [s["error"] for s in samples]
    for name in kinds:
        assert sum(s["kind"] == name for s in done) >= 5, name
    for sample in done:
        assert sample["tokens_in_sized_by"] == "server", sample
        assert sample["tokens_in"] == sample["tokens_in_requested"], sample
    for name in kinds:
        summary = _report(out)["kinds"][name]
        assert summary["tokens_in_mismatched"] == 0 and summary["tokens_in_sized_by"] == "server"
    return done


def test_input_tokens_are_exact_on_the_simulated_engine(tmp_path: Path) -> None:
    workload = [
        llm("completions", "completions-64", 64),
        llm("chat", "chat-64", 64),
        llm("completions", "completions-uniform", UNIFORM),
        llm("chat", "chat-uniform", UNIFORM),
    ]
    scenario = _scenario(
        tmp_path,
        "exact-tokens",
        workload=workload,
        load={"rate": {"rps": 10, "duration": "6s"}},
        slos=ERRORS,
        gate={"min_samples": 1},
    )
    out = tmp_path / "reports"
    with sim_engine() as (url, _):
        r = _run_against(url, scenario, out)
    assert r.returncode == 0, r.stdout + r.stderr
    done = exact_samples(out, [k["name"] for k in workload])
    uniform = {s["tokens_in"] for s in done if s["kind"].endswith("uniform")}
    assert len(uniform) > 5 and uniform <= set(range(16, 129))
    assert "| 64 → 64 (server) |" in (_run_dir(out) / "summary.md").read_text()


def test_input_tokens_are_exact_on_real_vllm(stack: StackConfig, tmp_path: Path) -> None:
    workload = [
        llm("completions", "completions-64", 64),
        llm("chat", "chat-64", 64),
        llm("chat", "chat-uniform", {"dist": "uniform", "min": 40, "max": 90}),
    ]
    scenario = _scenario(
        tmp_path,
        "exact-tokens-vllm",
        workload=workload,
        load={"rate": {"rps": 4, "duration": "15s"}},
        slos=ERRORS,
        gate={"min_samples": 1},
    )
    out = tmp_path / "reports"
    r = run_cli("run", "scenario", str(scenario), "--out", str(out), env=stack_env(stack))
    assert r.returncode == 0, r.stdout + r.stderr
    done = exact_samples(out, [k["name"] for k in workload])
    assert {s["tokens_in"] for s in done if s["kind"].endswith("-64")} == {64}
