"""Load profiles decide the next step from the last step's outcome, and nothing else: a
sweep steps up until a step does not hold, bisects the gap in bisect mode, stops at
`max_steps` or on a cut, and its capacity is the highest rate that held."""

from __future__ import annotations

import pytest

from slakit.load.profiles import FixedRate, Outcome, Profile, Step, Sweep, Users, profile_for
from slakit.scenario import Scenario


def _scenario(load: dict) -> Scenario:
    return Scenario.model_validate(
        {"name": "p", "workload": [{"kind": "chat"}], "load": load, "warmup": "1s"}
    )


def _sweep(**fields) -> Sweep:
    profile = profile_for(_scenario({"sweep": {"step_duration": "10s", **fields}}))
    assert isinstance(profile, Sweep)
    return profile


def _drive(profile: Profile, holds, cut_at: float | None = None) -> list[Step]:
    """Every step `profile` asks for against a target that holds a rate when `holds(rate)`."""
    steps, prev = [], None
    while (step := profile.next_step(prev)) is not None:
        steps.append(step)
        held = holds(step.rps)
        cut = "interrupted by SIGINT" if step.rps == cut_at else None
        verdict = "fail" if cut or not held else "pass"
        prev = Outcome(step, verdict, kept_up=True, achieved_rps=step.rps or 0, partial_reason=cut)
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
    profile = _sweep(rates=[1, 2])
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
    assert _drive(profile_for(rate), bool) == [Step("p", 4, 20, "constant")]
    assert _drive(profile_for(users), bool) == [Step("p")]
    assert not profile_for(rate).finding().search
