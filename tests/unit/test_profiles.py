"""Load profiles decide the next step from the last step's outcome, and nothing else: a
sweep steps up until a step does not hold, steps down when its first does not, bisects
the gap in bisect mode, stops at `max_steps` or on a cut, and its capacity is the
highest level that held; over concurrency too, after a throughput step if asked."""

from __future__ import annotations

import pytest

from slakit.load.profiles import (
    FixedRate,
    Outcome,
    Profile,
    Step,
    Sweep,
    TraceReplay,
    Users,
    profile_for,
)
from slakit.scenario import Scenario
from slakit.scenario.schedules import Pace, Segment, TraceRow


def _scenario(load: dict) -> Scenario:
    return Scenario.model_validate(
        {"name": "p", "workload": [{"kind": "chat"}], "load": load, "warmup": "1s"}
    )


def _sweep(**fields) -> Sweep:
    profile = profile_for(_scenario({"sweep": {"step_duration": "10s", **fields}}))
    assert isinstance(profile, Sweep)
    return profile


def _drive(
    profile: Profile, holds, cut_at: float | None = None, achieves=lambda step: step.rps or 0
) -> list[Step]:
    """Every step `profile` asks for against a target that holds a level (rate, else
    concurrency) when `holds(level)` and achieves `achieves(step)` req/s."""
    steps, prev = [], None
    while (step := profile.next_step(prev)) is not None:
        steps.append(step)
        level = step.rps if step.rps is not None else step.concurrency
        cut = "interrupted by SIGINT" if level == cut_at else None
        verdict = "fail" if cut or not holds(level) else "pass"
        prev = Outcome(step, verdict, True, achieves(step), partial_reason=cut)
    return steps


def test_step_mode_stops_at_the_first_rate_that_does_not_hold() -> None:
    profile = _sweep(rates=[1, 2, 16, 32])
    steps = _drive(profile, lambda rate: rate <= 5)
    assert [s.rps for s in steps] == [1, 2, 16]
    assert [s.dir for s in steps] == ["step-00", "step-01", "step-02"]
    assert steps[0].label == "p @ 1 req/s" and steps[0].duration == 10
    finding = profile.finding()
    assert (finding.search, finding.capacity_rps, finding.headline) == (True, 2, 1)


def test_step_mode_multiplies_by_factor_up_to_max_rps_and_max_steps() -> None:
    assert [s.rps for s in _drive(_sweep(start=3, factor=3, max_rps=100), bool)] == [3, 9, 27, 81]
    assert len(_drive(_sweep(start=1, max_rps=1000, max_steps=4), bool)) == 4


def test_bisect_halves_the_gap_until_precision_or_max_steps() -> None:
    profile = _sweep(mode="bisect", start=1, max_rps=64, precision=0.1, max_steps=8)
    steps = _drive(profile, lambda rate: rate <= 10)
    assert [s.rps for s in steps] == [1, 2, 4, 8, 16, 12, 10, 11]  # 8 steps: the bound
    assert profile.finding().capacity_rps == 10
    wide = _sweep(mode="bisect", start=1, max_rps=64, precision=0.4, max_steps=8)
    assert [s.rps for s in _drive(wide, lambda rate: rate <= 10)] == [1, 2, 4, 8, 16, 12]


def test_a_step_that_did_not_keep_its_rate_does_not_hold() -> None:
    profile = _sweep(rates=[1, 2], min_rps=1)  # no stepping down below the first rate
    first = profile.next_step(None)
    late = Outcome(first, "pass", kept_up=False, achieved_rps=0.5, partial_reason=None)
    assert profile.next_step(late) is None
    assert profile.finding().capacity_rps is None and profile.finding().headline == -1


@pytest.mark.parametrize("mode", ["step", "bisect"])
def test_a_cut_step_ends_the_search(mode: str) -> None:
    profile = _sweep(mode=mode, rates=[1, 2, 4, 8])
    assert [s.rps for s in _drive(profile, bool, cut_at=2)] == [1, 2]
    assert profile.finding().capacity_rps == 1


def test_fixed_rate_and_users_are_one_step_each() -> None:
    rate = _scenario({"rate": {"rps": 4, "arrivals": "constant", "duration": "20s"}})
    users = _scenario({"users": {"stages": [{"users": 2, "spawn_rate": 1, "duration": "5s"}]}})
    assert isinstance(profile_for(rate), FixedRate) and isinstance(profile_for(users), Users)
    assert _drive(profile_for(rate), bool) == [Step("p", 4, 20, Pace.fixed(4, 20, "constant"))]
    assert _drive(profile_for(users), bool) == [Step("p")]
    assert not profile_for(rate).finding().search


def test_rate_stages_and_a_ramp_are_one_step_at_their_mean_rate() -> None:
    stages = _scenario(
        {"rate": {"stages": [{"rps": 2, "duration": "10s"}, {"rps": 6, "duration": "30s"}]}}
    )
    (step,) = _drive(profile_for(stages), bool)
    assert step.pace.segments == (Segment(10, 2, 2), Segment(30, 6, 6))
    assert (step.rps, step.duration) == (5.0, 40)
    ramp = _scenario(
        {"rate": {"ramp": {"from_rps": 1, "to_rps": 9, "duration": "20s"}, "arrivals": "gamma"}}
    )
    (step,) = _drive(profile_for(ramp), bool)
    assert step.pace == Pace((Segment(20, 1, 9),), "gamma", 1.0)
    assert (step.rps, step.duration, step.watch) == (5.0, 20, False)


def test_a_trace_is_one_step_at_its_rows(tmp_path) -> None:
    trace = tmp_path / "t.jsonl"
    lines = [
        '{"timestamp": 5000, "input_length": 40, "output_length": 8, "hash_ids": [1]}',
        '{"timestamp": 1000, "input_length": 20, "output_length": 4}',
        '{"timestamp": 3000, "input_length": 30, "output_length": 6}',
    ]
    trace.write_text("\n".join(lines) + "\n")
    scenario = _scenario({"trace": {"path": str(trace), "time_scale": 0.5}})
    profile = profile_for(scenario)
    assert isinstance(profile, TraceReplay)
    (step,) = _drive(profile, bool)
    assert step.pace.trace == (TraceRow(0, 20, 4), TraceRow(1, 30, 6), TraceRow(2, 40, 8))
    assert step.duration == 3.0 and step.rps == 1.0  # the last row, then a second's tail


def test_rate_sweep_steps_are_watched_for_saturation() -> None:
    steps = _drive(_sweep(rates=[1, 2], arrivals="gamma", burstiness=0.5), bool)
    assert all(s.watch for s in steps)
    assert steps[1].pace == Pace((Segment(10, 2, 2),), "gamma", 0.5)


def test_a_saturated_step_does_not_hold() -> None:
    profile = _sweep(rates=[1, 2, 4])
    first = profile.next_step(None)
    second = profile.next_step(Outcome(first, "pass", True, 1.0, None))
    saturated = Outcome(second, "pass", True, 1.1, None, saturated="saturated: ...")
    assert not saturated.held
    assert profile.next_step(saturated) is None
    assert profile.finding().capacity_rps == 1


def test_a_first_step_that_fails_searches_downward_until_one_holds() -> None:
    """capacity-sweep.yaml on the embedded stack: 4 req/s already breaks TTFT p95."""
    profile = _sweep(start=4, max_rps=256, factor=2)
    steps = _drive(profile, lambda rate: rate <= 1.2)
    assert [s.rps for s in steps] == [4, 2, 1]
    finding = profile.finding()
    assert (finding.capacity_rps, finding.headline) == (1, 2)
    assert "did not hold: searched downward; 1 req/s held" in finding.note


def test_a_downward_search_bisects_in_bisect_mode_and_stops_at_the_floor() -> None:
    bisect = _sweep(mode="bisect", start=4, max_rps=256, precision=0.2)
    assert [s.rps for s in _drive(bisect, lambda rate: rate <= 1.6)] == [4, 2, 1, 1.5, 1.75]
    assert bisect.finding().capacity_rps == 1.5
    floor = _sweep(start=4, min_rps=0.5)
    assert [s.rps for s in _drive(floor, lambda rate: False)] == [4, 2, 1, 0.5]
    assert floor.finding().capacity_rps is None
    assert "none held down to 0.5 req/s" in floor.finding().note


def test_a_concurrency_sweep_is_closed_loop_at_each_level() -> None:
    profile = _sweep(over="concurrency", concurrency=[1, 2, 4, 8, 16])
    steps = _drive(profile, lambda c: c <= 4, achieves=lambda s: 3.0 * s.concurrency)
    assert [(s.concurrency, s.rps, s.pace) for s in steps] == [
        (1, None, None),
        (2, None, None),
        (4, None, None),
        (8, None, None),
    ]
    assert steps[0].label == "p @ 1 in flight" and not steps[0].watch
    finding = profile.finding()
    assert (finding.capacity_rps, finding.capacity_concurrency, finding.headline) == (12, 4, 2)


def test_a_concurrency_sweep_s_capacity_is_the_most_achieved_at_a_level_that_held() -> None:
    """Measured on the embedded stack: 8 in flight achieved 23.2 req/s, 16 only 19.9."""
    achieved = {1: 4.6, 2: 8.2, 4: 13.2, 8: 23.2, 16: 19.9}
    profile = _sweep(over="concurrency", concurrency=[1, 2, 4, 8, 16])
    _drive(profile, bool, achieves=lambda s: achieved[s.concurrency])
    finding = profile.finding()
    assert (finding.capacity_rps, finding.capacity_concurrency, finding.headline) == (23.2, 8, 3)


def test_a_concurrency_sweep_bisects_whole_levels_and_steps_down() -> None:
    bisect = _sweep(over="concurrency", concurrency=[8, 32], mode="bisect", precision=0.01)
    assert [s.concurrency for s in _drive(bisect, lambda c: c <= 13)] == [8, 32, 20, 14, 11, 12, 13]
    down = _sweep(over="concurrency", concurrency=[8, 16])
    assert [s.concurrency for s in _drive(down, lambda c: c <= 2)] == [8, 4, 2]
    assert down.finding().capacity_concurrency == 2


def test_a_throughput_step_first_caps_the_rates_tried() -> None:
    profile = _sweep(start=1, max_rps=64, throughput=True, max_concurrency=32)
    steps = _drive(profile, bool, achieves=lambda s: 5.5 if s.concurrency else s.rps)
    assert (steps[0].concurrency, steps[0].rps, steps[0].label) == (32, None, "p throughput")
    assert [s.rps for s in steps[1:]] == [1, 2, 4]  # 8 is above the 5.5 req/s it achieved
    assert [s.dir for s in steps] == ["step-00", "step-01", "step-02", "step-03"]
    finding = profile.finding()
    assert (finding.capacity_rps, finding.headline) == (4, 3)
    assert "throughput step reached 5.5 req/s" in finding.note


def test_a_throughput_ceiling_below_every_rate_is_tried_itself_then_searched_down() -> None:
    profile = _sweep(rates=[8, 16], throughput=True)
    steps = _drive(
        profile, lambda rate: rate <= 1.5, achieves=lambda s: 3.0 if s.concurrency else s.rps
    )
    assert [s.rps for s in steps] == [None, 3.0, 1.5]
