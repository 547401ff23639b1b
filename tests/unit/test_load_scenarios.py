"""The load section's new shapes as a scenario file writes them: gamma arrivals, rate
stages and ramps, concurrency sweeps, trace replay; each mistake one `file:line` problem,
and a broken trace row named by its own file and line, exit 2 before any load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slakit.errors import InputError
from slakit.scenario import load_scenario
from tests.conftest import run_cli


def _write(tmp_path: Path, load: dict, workload: list | None = None) -> Path:
    path = tmp_path / "s.yaml"
    body = {
        "name": "s",
        "workload": workload or [{"kind": "chat"}],
        "load": load,
        "slos": [{"name": "e", "sli": "error_rate", "aggregation": "ratio", "objective": "< 1%"}],
    }
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _problems(tmp_path: Path, load: dict, workload: list | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_scenario(_write(tmp_path, load, workload))
    return caught.value.problems


BAD = {
    "burstiness without gamma": (
        {"rate": {"rps": 2, "duration": "10s", "burstiness": 0.5}},
        "s.yaml:8: load.rate.burstiness: burstiness shapes gamma arrivals",
    ),
    "rps and stages": (
        {"rate": {"rps": 2, "duration": "10s", "stages": [{"rps": 1, "duration": "5s"}]}},
        "s.yaml:6: load.rate: choose exactly one of `rps` (with `duration`), `stages`, `ramp` "
        "(got rps, stages)",
    ),
    "rps without duration": (
        {"rate": {"rps": 2}},
        "s.yaml:6: load.rate.duration: `rps` needs a `duration`",
    ),
    "stages with a duration": (
        {"rate": {"stages": [{"rps": 1, "duration": "5s"}], "duration": "10s"}},
        "s.yaml:9: load.rate.duration: `stages` has its own durations; leave `duration` out",
    ),
    "a ramp from 0 to 0": (
        {"rate": {"ramp": {"from_rps": 0, "to_rps": 0, "duration": "5s"}}},
        "s.yaml:8: load.rate.ramp.to_rps: a ramp from 0 to 0 req/s offers no load",
    ),
    "concurrency without levels": (
        {"sweep": {"over": "concurrency", "step_duration": "10s"}},
        "s.yaml:6: load.sweep.concurrency: `over: concurrency` needs the levels to try",
    ),
    "levels in a rate sweep": (
        {"sweep": {"concurrency": [1, 2], "step_duration": "10s"}},
        "s.yaml:7: load.sweep.concurrency: levels of concurrency are for `over: concurrency`",
    ),
    "an unknown arrival process": (
        {"rate": {"rps": 2, "duration": "10s", "arrivals": "bursty"}},
        "s.yaml:8: load.rate.arrivals: Input should be 'poisson', 'constant' or 'gamma'",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_load_is_one_line_at_its_field(tmp_path: Path, case: str) -> None:
    load, expected = BAD[case]
    (problem,) = _problems(tmp_path, load)
    assert problem.startswith(str(tmp_path / expected.split(":")[0]) + ":")
    assert problem.removeprefix(str(tmp_path) + "/").startswith(expected), problem


def test_good_shapes_load(tmp_path: Path) -> None:
    ramp = load_scenario(
        _write(tmp_path, {"rate": {"ramp": {"from_rps": 0, "to_rps": 4, "duration": "1m"}}})
    )
    assert ramp.total_duration() == 60 and ramp.load.mode == "rate"
    gamma = load_scenario(
        _write(tmp_path, {"sweep": {"arrivals": "gamma", "burstiness": 2, "step_duration": "5s"}})
    )
    assert gamma.load.sweep.pace(()).burstiness == 2


ROWS = [
    '{"timestamp": 0, "input_length": 64, "output_length": 16}',
    '{"timestamp": 250.5, "input_length": 64}',
    "not json",
    '{"timestamp": 500, "input_length": 0, "output_length": 16}',
    "",
    '{"timestamp": -3, "input_length": 8, "output_length": 16}',
    '{"timestamp": 900, "input_length": 8, "output_length": 2.5, "hash_ids": [1, 2]}',
]


def test_broken_trace_rows_are_refused_each_at_its_line_with_exit_2(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(ROWS) + "\n")
    path = _write(tmp_path, {"trace": {"path": str(trace)}})
    r = run_cli("run", "scenario", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if str(trace) in line]
    assert [line.split(f"{trace}:")[1] for line in lines] == [
        "2: missing output_length",
        '3: expected a JSON object like {"timestamp": 0, "input_length": 64, "output_length": 32}',
        "4: input_length: expected a whole number of tokens of at least 1, not 0",
        "6: timestamp: expected milliseconds as a number of at least 0, not -3",
        "7: output_length: expected a whole number of tokens of at least 1, not 2.5",
    ]
    assert not (tmp_path / "out").exists()


def test_a_trace_needs_corpus_prompts_of_chat_or_completions(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(ROWS[0] + "\n")
    (problem,) = _problems(tmp_path, {"trace": {"path": str(trace)}}, [{"kind": "es_search"}])
    assert "s.yaml:3: workload.0: a trace replay sends each request" in problem


def test_an_empty_or_missing_trace_is_one_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert _problems(tmp_path, {"trace": {"path": str(empty)}}) == [
        f"{empty}: no requests in the trace"
    ]
    (missing,) = _problems(tmp_path, {"trace": {"path": str(tmp_path / "nope.jsonl")}})
    assert "nope.jsonl" in missing
