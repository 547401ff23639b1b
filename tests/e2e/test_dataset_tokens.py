"""A dataset with a token filter on the real vLLM: every row sent is one the filter keeps,
counted by vLLM's /tokenize as its request is counted (chat template and the row's earlier
messages included), and vLLM's own usage agrees with that count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_env
from tests.e2e.test_run_scenario import _run_dir, _scenario
from tests.servers import REPO

pytestmark = pytest.mark.integration

TOKENS = {"min": 150, "max": 400}


@pytest.mark.parametrize("fmt, name", [("openai", "corpus-openai-chat.jsonl")])
def test_dataset_rows_are_sent_as_counted(
    stack: StackConfig, tmp_path: Path, fmt: str, name: str
) -> None:
    source = {"source": "dataset", "path": str(REPO / "scenarios" / "data" / name)}
    prompt = {**source, "format": fmt, "tokens": TOKENS, "sample": "without_replacement"}
    scenario = _scenario(
        tmp_path,
        "dataset",
        workload=[{"kind": "chat", "prompt": prompt, "output_tokens": 4}],
        load={"rate": {"rps": 4, "duration": "6s"}},
        slos=[{"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"}],
        gate={"min_samples": 1},
    )
    out = tmp_path / "reports"
    r = run_cli("run", "scenario", str(scenario), "--out", str(out), env=stack_env(stack))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = (_run_dir(out) / "samples-local.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    assert len(samples) > 10 and all(s["error"] is None for s in samples)
    for sample in samples:
        assert sample["tokens_in_sized_by"] == "server"
        assert TOKENS["min"] <= sample["tokens_in"] <= TOKENS["max"], sample
        assert sample["tokens_in"] == sample["tokens_in_requested"], sample
