"""Requests sent without streaming (`stream: false`) are read as the API answers them:
`choices[0].message.content` for chat, `choices[0].text` for completions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_run_scenario import _run_against, _run_dir, _scenario, sim_engine

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["chat", "completions"])
def test_an_unstreamed_request_succeeds(kind: str, tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        f"unstreamed-{kind}",
        workload=[{"kind": kind, "stream": False, "output_tokens": 8}],
        load={"rate": {"rps": 5, "duration": "3s", "arrivals": "constant"}},
        slos=[{"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"}],
        gate={"min_samples": 5},
    )
    out = tmp_path / "reports"
    with sim_engine() as (url, _):
        r = _run_against(url, scenario, out)
    report = json.loads((_run_dir(out) / "report.json").read_text())
    assert report["kinds"]["all"]["errors_by_class"] == {}, report["kinds"]["all"]
    assert report["kinds"]["all"]["requests"] >= 14
    assert r.returncode == 0, r.stdout + r.stderr
