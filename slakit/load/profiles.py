"""Load profiles: each decides a run's next load step from the last step's outcome.

The run (`slakit.run`) has one loop: ask the profile for a step, run it, judge it, hand
the outcome back, until the profile says done; then `finding` says which step the
report's SLOs and load come from, and for a capacity search what it found. A profile
runs nothing and judges nothing, so a new way to load (trace replay, a concurrency
sweep, a ramp, a stop at saturation) is one new class here, registered by load mode.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from slakit.scenario import Scenario, SweepLoad


@dataclass(frozen=True)
class Step:
    """One load step: open loop at `rps` for `duration`, or (no rps) the scenario's
    `users` stages. `dir`: the directory under the run its files go to ("" the run's)."""

    label: str
    rps: float | None = None
    duration: float | None = None
    arrivals: str = "poisson"
    dir: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a profile learns of a step it asked for, judged on its own."""

    step: Step
    verdict: str  # `slakit.verdict.judge_run` of the step's SLOs; a step cut short never passes
    kept_up: bool  # an open-loop step sent its schedule on time
    achieved_rps: float
    partial_reason: str | None  # the step (and so the run) was cut short

    @property
    def held(self) -> bool:
        """Every SLO passed or warned and the rate was kept (a cut step never holds)."""
        return self.verdict in ("pass", "warn") and self.kept_up


@dataclass(frozen=True)
class Finding:
    """What a run's steps add up to. `headline`: index of the step whose SLOs and load
    the report shows; `search`: the run searched for a capacity, and is judged by
    whether it found one (`capacity_rps`, None if no step held)."""

    headline: int = -1
    search: bool = False
    capacity_rps: float | None = None


class Profile(ABC):
    """Decides steps one at a time; holds what it needs of the steps so far."""

    @abstractmethod
    def next_step(self, prev: Outcome | None) -> Step | None:
        """The step after `prev` (None: the first step), or None when the run is done."""

    def finding(self) -> Finding:
        """The last step is the run's result."""
        return Finding()


class _OneStep(Profile):
    def __init__(self, step: Step) -> None:
        self.step = step

    def next_step(self, prev: Outcome | None) -> Step | None:
        return self.step if prev is None else None


class FixedRate(_OneStep):
    """Open loop: one step at the scenario's rate."""

    def __init__(self, scenario: Scenario) -> None:
        rate = scenario.load.rate
        super().__init__(Step(scenario.name, rate.rps, rate.duration, rate.arrivals))


class Users(_OneStep):
    """Closed loop: one step through the scenario's user stages."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(Step(scenario.name))


class Sweep(Profile):
    """Capacity search: step the open-loop rate up until a step does not hold; in bisect
    mode, then halve the gap between the highest rate that held and the lowest that did
    not until it is within `precision` of the latter. At most `max_steps` steps; a step
    cut short ends the search. The capacity is the highest rate that held."""

    def __init__(self, scenario: Scenario) -> None:
        self.name = scenario.name
        self.sweep = scenario.load.sweep
        self.rates = iter(sweep_rates(self.sweep))
        self.tried: list[float] = []
        self.passed: list[float] = []
        self.failed: list[float] = []

    def next_step(self, prev: Outcome | None) -> Step | None:
        if prev is not None:
            (self.passed if prev.held else self.failed).append(prev.step.rps)
            if prev.partial_reason:
                return None
        if not self.failed and (rate := next(self.rates, None)) is not None:
            return self._at(rate)
        if self._bisecting():
            return self._at((max(self.passed) + min(self.failed)) / 2)
        return None

    def _bisecting(self) -> bool:
        return (
            self.sweep.mode == "bisect"
            and bool(self.passed and self.failed)
            and len(self.tried) < self.sweep.max_steps
            and (min(self.failed) - max(self.passed)) / min(self.failed) > self.sweep.precision
        )

    def _at(self, rate: float) -> Step:
        """The step at `rate`, in its own directory (step-00, step-01, ...)."""
        label, where = f"{self.name} @ {rate:g} req/s", f"step-{len(self.tried):02d}"
        self.tried.append(rate)
        return Step(label, rate, self.sweep.step_duration, self.sweep.arrivals, where)

    def finding(self) -> Finding:
        """The step at the capacity is the headline; without one, the last step."""
        capacity = max(self.passed) if self.passed else None
        headline = self.tried.index(capacity) if capacity is not None else -1
        return Finding(headline, search=True, capacity_rps=capacity)


def sweep_rates(sweep: SweepLoad) -> list[float]:
    """The rates a sweep steps through: its `rates`, else start * factor^n up to max_rps;
    at most `max_steps`."""
    if sweep.rates:
        return sweep.rates[: sweep.max_steps]
    count = int(math.log(sweep.max_rps / sweep.start, sweep.factor)) + 1
    return [sweep.start * sweep.factor**i for i in range(min(count, sweep.max_steps))]


PROFILES: dict[str, type[Profile]] = {"rate": FixedRate, "users": Users, "sweep": Sweep}
"""The profile of each load mode (`Load.mode`)."""


def profile_for(scenario: Scenario) -> Profile:
    return PROFILES[scenario.load.mode](scenario)
