"""A distributed run's worker plan is plain data (what Locust's messages carry; the e2e
distributed tests send it for real): the worker runs the scenario the master validated,
with the key as data, never as an argument."""

from __future__ import annotations

import json
from pathlib import Path

from slakit.load import handoff
from slakit.scenario import load_scenario
from slakit.scenario.schedules import Pace
from slakit.target import ResolvedTarget

SCENARIO = """\
name: handed-over
workload:
  - {kind: chat, weight: 3, output_tokens: {dist: uniform, min: 8, max: 16}}
  - {kind: completions, weight: 1, input_tokens: 32}
load:
  rate: {rps: 9, arrivals: constant, duration: 90s}
  distributed: {workers: 3}
  request_timeout: 1500ms
warmup: 2.5s
slos:
  - {name: ttft, sli: ttft, aggregation: p95, objective: "< 500ms", warn: "< 250ms"}
seed: 7
"""


def test_a_worker_plan_is_data_the_worker_validates_again(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    target = ResolvedTarget(
        "http://127.0.0.1:1", None, None, None, "m", "external", "SLAKIT_KEY", key="s3cret"
    )
    share = handoff.WorkerPlan.share(
        scenario,
        target,
        "samples-worker2.jsonl",
        index=2,
        workers=3,
        pace=Pace.fixed(9.0, 90.0, "constant"),
        duration=90.0,
    )
    received = handoff.WorkerPlan(**json.loads(json.dumps(share.message())))
    again, its_target = received.resolved()
    assert again.model_dump() == scenario.model_dump()  # all but where it was written
    assert again.load.request_timeout == 1.5 and again.warmup == 2.5
    assert its_target.api_key == "s3cret" and its_target.public() == target.public()
    assert "s3cret" not in str(target.public()) and "s3cret" not in repr(its_target)
    assert (received.seed_offset, received.duration) == (3, 90.0)
    assert Pace.from_message(received.pace) == Pace.fixed(3.0, 90.0, "constant")
