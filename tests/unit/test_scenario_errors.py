"""Malformed scenario files: each gives exit code 2 and one readable line naming the
file, the line and the field, and no traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from slakit.cli import main

GOOD = """\
name: ok
workload:
  - kind: chat
load:
  rate: {rps: 2, duration: 10s}
slos:
  - {name: ttft, sli: ttft, aggregation: p95, objective: "< 500ms"}
"""

# (scenario text, a fragment the error line must contain)
CASES = {
    "yaml-syntax": ("name: [unclosed\n", ":2: malformed YAML"),
    "tabs": ("name: x\n\tworkload: []\n", "malformed YAML"),
    "not-a-mapping": ("- just\n- a list\n", "expected a mapping"),
    "unknown-top-field": (GOOD + "colour: blue\n", ":8: colour: unknown field"),
    "missing-name": (GOOD.replace("name: ok\n", ""), "name: required field is missing"),
    "missing-load": (
        GOOD.replace("load:\n  rate: {rps: 2, duration: 10s}\n", ""),
        "load: required field is missing",
    ),
    "empty-workload": (
        GOOD.replace("  - kind: chat\n", "  []\n").replace("workload:\n  []", "workload: []"),
        "workload: List should have at least 1 item",
    ),
    "unknown-kind": (GOOD.replace("kind: chat", "kind: telnet"), "workload.0"),
    "unknown-kind-field": (
        GOOD.replace("  - kind: chat\n", "  - kind: chat\n    temprature: 1\n"),
        ":4: workload.0.chat.temprature: unknown field",
    ),
    "duration-without-unit": (GOOD.replace("duration: 10s", "duration: 10"), "load.rate.duration"),
    "duration-bad-unit": (
        GOOD.replace("duration: 10s", "duration: 10 parsecs"),
        "expected a duration like",
    ),
    "negative-rate": (GOOD.replace("rps: 2", "rps: -3"), "load.rate.rps"),
    "two-load-modes": (
        GOOD.replace(
            "  rate: {rps: 2, duration: 10s}\n",
            "  rate: {rps: 2, duration: 10s}\n  users: {stages: "
            "[{users: 1, spawn_rate: 1, duration: 5s}]}\n",
        ),
        "choose exactly one of",
    ),
    "no-load-mode": (
        GOOD.replace("  rate: {rps: 2, duration: 10s}\n", "  {}\n").replace(
            "load:\n  {}", "load: {}"
        ),
        "choose exactly one of",
    ),
    "unknown-sli": (GOOD.replace("sli: ttft", "sli: happiness"), "unknown sli 'happiness'"),
    "unknown-aggregation": (
        GOOD.replace("aggregation: p95", "aggregation: p42"),
        "unknown aggregation 'p42'",
    ),
    "aggregation-not-for-sli": (
        GOOD.replace("sli: ttft, aggregation: p95", "sli: error_rate, aggregation: p95"),
        "supports ratio, not 'p95'",
    ),
    "objective-garbage": (GOOD.replace('"< 500ms"', '"fast please"'), "expected an objective like"),
    "objective-wrong-unit": (GOOD.replace('"< 500ms"', '"< 5%"'), "is in ratio but sli 'ttft'"),
    "objective-over-100pct": (
        GOOD.replace(
            'sli: ttft, aggregation: p95, objective: "< 500ms"',
            'sli: error_rate, aggregation: ratio, objective: "< 150%"',
        ),
        "cannot exceed 100%",
    ),
    "unknown-unit": (GOOD.replace('"< 500ms"', '"< 5 fortnights"'), "unknown unit"),
    "scope-not-a-kind": (
        GOOD.replace('objective: "< 500ms"}', 'objective: "< 500ms", scope: rag}'),
        ":7: slos.0.scope: scope 'rag' is not a request kind",
    ),
    "duplicate-slo": (
        GOOD + '  - {name: ttft, sli: latency, aggregation: p95, objective: "< 1s"}\n',
        ":8: slos.1.name: two SLOs share the name",
    ),
    "warmup-too-long": (GOOD + "warmup: 20s\n", ":8: warmup: warmup (20s) must be shorter"),
    "uniform-without-max": (
        GOOD.replace(
            "  - kind: chat\n", "  - kind: chat\n    input_tokens: {dist: uniform, min: 3}\n"
        ),
        "uniform distribution needs min and max",
    ),
    "weight-zero": (
        GOOD.replace("  - kind: chat\n", "  - kind: chat\n    weight: 0\n"),
        "workload.0.chat.weight",
    ),
    "bad-relative": (
        GOOD.replace('objective: "< 500ms"}', 'objective: "< 500ms", baseline: "better please"}'),
        "like 'within 10%'",
    ),
    "target-typo": (GOOD + "target: embeded\n", "target"),
    "confidence-without-repeat": (
        GOOD + "gate: {confidence: 0.95}\n",
        ":8: gate.confidence: an interval needs runs to spread over: set `repeat` to 2",
    ),
    "confidence-out-of-range": (
        GOOD + "repeat: 3\ngate: {confidence: 1.5}\n",
        ":9: gate.confidence: Input should be less than 1",
    ),
    "repeated-sweep": (
        GOOD.replace("rate: {rps: 2, duration: 10s}", "sweep: {step_duration: 10s}")
        + "repeat: 3\n",
        ":8: repeat: a sweep cannot be repeated",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_scenario_exits_2_with_one_line(name: str, tmp_path: Path, capsys) -> None:
    text, fragment = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(SystemExit) as exit_info:
        import sys

        sys.argv = ["slakit", "run", "scenario", str(path)]
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert all(line.startswith(f"slakit: {path}") for line in lines), err
    assert any(fragment in line for line in lines), f"{fragment!r} not in:\n{err}"


def test_good_scenario_validates(tmp_path: Path) -> None:
    from slakit.scenario import load_scenario

    path = tmp_path / "ok.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.load.rate.duration == 10.0
    assert scenario.slos[0].objective == "< 500ms"


def test_missing_file_is_exit_2(tmp_path: Path, capsys) -> None:
    import sys

    sys.argv = ["slakit", "run", "scenario", str(tmp_path / "nope.yaml")]
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("smoke", "smoke"),
        ("../../../../escape", "escape"),
        ("rag mixed/v2", "rag-mixed-v2"),
        ("..", "scenario"),
        ("日本語", "scenario"),
    ],
)
def test_the_run_directory_name_is_one_readable_segment(name: str, segment: str) -> None:
    """The run directory is OUT/<time>-<this>: nothing in a name may lead out of OUT."""
    from slakit.scenario import Scenario

    scenario = Scenario.model_validate(
        {
            "name": name,
            "workload": [{"kind": "chat"}],
            "load": {"rate": {"rps": 1, "duration": "5s"}},
        }
    )
    assert scenario.run_dir_name() == segment


@pytest.mark.parametrize("text", ["0.00005s", "30s", "250ms", "2m", "0.1ms"])
def test_a_duration_survives_a_stored_report(text: str) -> None:
    """report.json stores the scenario with durations written back: `5e-05s` (what `:g`
    wrote for 50 µs) was not a duration slakit could read again."""
    from slakit.scenario import Load

    load = Load.model_validate({"rate": {"rps": 1, "duration": text}})
    again = Load.model_validate(load.model_dump(mode="json"))
    assert again.rate.duration == load.rate.duration
