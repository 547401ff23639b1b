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
from slakit.scenario.schedules import Pace, Segment


@dataclass(frozen=True)
class Step:
    """One load step: open loop as `pace` makes requests due (`rps` its requested mean
    rate), closed loop at `concurrency` requests in flight, or (neither) the scenario's
    `users` stages; for `duration` seconds. `watch`: end the step early if the target
    saturates (`slakit.load.saturation`). `dir`: the directory under the run its files
    go to ("" the run's)."""

    label: str
    rps: float | None = None
    duration: float | None = None
    pace: Pace | None = None
    concurrency: int | None = None
    watch: bool = False
    dir: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a profile learns of a step it asked for, judged on its own."""

    step: Step
    verdict: str  # `slakit.verdict.judge_run` of the step's SLOs; a step cut short never passes
    kept_up: bool  # an open-loop step sent its schedule on time
    achieved_rps: float
    partial_reason: str | None  # the step (and so the run) was cut short
    saturated: str | None = None  # the step ended early: the target was saturated (why)

    @property
    def held(self) -> bool:
        """Every SLO passed or warned, the rate was kept and the target not saturated (a
        cut step never holds)."""
        return self.verdict in ("pass", "warn") and self.kept_up and not self.saturated


@dataclass(frozen=True)
class Finding:
    """What a run's steps add up to. `headline`: index of the step whose SLOs and load
    the report shows; `search`: the run searched for a capacity, and is judged by
    whether it found one (`capacity_rps`, None if no step held; for a concurrency
    sweep the rate achieved at `capacity_concurrency`). `note`: how the search went,
    in words, when that is more than stepping up."""

    headline: int = -1
    search: bool = False
    capacity_rps: float | None = None
    capacity_concurrency: int | None = None
    note: str = ""


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
    """Open loop: one step at the scenario's rate, its stages or its ramp."""

    def __init__(self, scenario: Scenario) -> None:
        rate = scenario.load.rate
        pace = rate.pace(rate.segments())
        super().__init__(Step(scenario.name, rate.rps or pace.mean_rps, pace.duration, pace))


class TraceReplay(_OneStep):
    """Open loop: one step at a trace's times, each request with its row's lengths."""

    def __init__(self, scenario: Scenario) -> None:
        pace = scenario.load.trace.pace()
        super().__init__(Step(scenario.name, pace.mean_rps, pace.duration, pace))


class Users(_OneStep):
    """Closed loop: one step through the scenario's user stages."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(Step(scenario.name))


class Sweep(Profile):
    """Capacity search over the open-loop rate or the requests in flight (`over`).

    Optionally first a throughput step (`max_concurrency` in flight, closed loop): what it
    achieves is the ceiling, and a rate sweep tries nothing above it. Then step the level
    up until a step does not hold; if the very first does not, step down by `factor`
    until one holds or the floor (`min_rps`, or 1 in flight) is passed. In bisect mode,
    then halve the gap between the highest level that held and the lowest that did not
    until it is within `precision` of the latter. At most `max_steps` steps in all; a
    step cut short ends the search. The capacity is the highest rate that held; over
    concurrency, the highest rate achieved at a level that held (and that level)."""

    def __init__(self, scenario: Scenario) -> None:
        self.name = scenario.name
        self.sweep = scenario.load.sweep
        self.rates = self.sweep.over == "rate"
        self.levels = sweep_levels(self.sweep)
        self.steps: list[Step] = []
        self.tried: list[float] = []  # the level of each step but the throughput one
        self.at_level: dict[float, Step] = {}
        self.achieved: dict[float, float] = {}
        self.passed: list[float] = []
        self.failed: list[float] = []
        self.ceiling: float | None = None
        self.stepped_down = False

    def next_step(self, prev: Outcome | None) -> Step | None:
        if prev is None:
            return self._throughput() if self.sweep.throughput else self._up()
        if prev.step.label == self._throughput_label:
            self.ceiling = float(f"{prev.achieved_rps:.3g}")
            if self.rates:
                self.levels = [r for r in self.levels if r <= self.ceiling] or [self.ceiling]
        else:
            level = self.tried[-1]
            self.achieved[level] = prev.achieved_rps
            (self.passed if prev.held else self.failed).append(level)
        if prev.partial_reason or len(self.steps) >= self.sweep.max_steps:
            return None
        if not self.failed:
            return self._up()
        if not self.passed:
            return self._down()
        return self._bisect()

    @property
    def _throughput_label(self) -> str:
        return f"{self.name} throughput"

    def _throughput(self) -> Step:
        """As many in flight as the scenario allows, closed loop: the target's ceiling."""
        step = Step(
            self._throughput_label,
            duration=self.sweep.step_duration,
            concurrency=self.sweep.max_concurrency,
            dir=f"step-{len(self.steps):02d}",
        )
        self.steps.append(step)
        return step

    def _up(self) -> Step | None:
        higher = [level for level in self.levels if not self.tried or level > max(self.tried)]
        return self._at(higher[0]) if higher else None

    def _down(self) -> Step | None:
        """The first level did not hold: the next one down, above the floor."""
        low = min(self.failed)
        level = low / self.sweep.factor if self.rates else float(int(low // self.sweep.factor))
        if level < (self.sweep.min_rps if self.rates else 1):
            return None
        self.stepped_down = True
        return self._at(level)

    def _bisect(self) -> Step | None:
        high, low = min(self.failed), max(self.passed)
        middle = (high + low) / 2 if self.rates else float(round((high + low) / 2))
        if (
            self.sweep.mode != "bisect"
            or middle in (low, high)
            or (high - low) / high <= self.sweep.precision
        ):
            return None
        return self._at(middle)

    def _at(self, level: float) -> Step:
        """The step at `level`, in its own directory (step-00, step-01, ...)."""
        where = f"step-{len(self.steps):02d}"
        sweep = self.sweep
        self.tried.append(level)
        if self.rates:
            label = f"{self.name} @ {level:g} req/s"
            pace = sweep.pace((Segment(sweep.step_duration, level, level),))
            step = Step(label, level, sweep.step_duration, pace, watch=True, dir=where)
        else:
            label = f"{self.name} @ {level:g} in flight"
            step = Step(label, duration=sweep.step_duration, concurrency=int(level), dir=where)
        self.steps.append(step)
        self.at_level[level] = step
        return step

    def finding(self) -> Finding:
        """The step at the capacity is the headline; without one, the last step."""
        best = max(self.passed, key=self._worth) if self.passed else None
        headline = self.steps.index(self.at_level[best]) if best is not None else -1
        capacity = None if best is None else self._worth(best)
        concurrency = None if self.rates or best is None else int(best)
        return Finding(headline, True, capacity, concurrency, self._note(best))

    def _worth(self, level: float) -> float:
        """What a level that held is worth as a capacity: a rate itself; a concurrency
        the rate achieved at it (more in flight may achieve less on a busy target)."""
        return level if self.rates else self.achieved[level]

    def _note(self, best: float | None) -> str:
        unit = "req/s" if self.rates else "in flight"
        words = []
        if self.ceiling is not None:
            words.append(f"The throughput step reached {self.ceiling:g} req/s.")
        if self.stepped_down:
            first, last = self.tried[0], min(self.tried)
            found = (
                f"{best:g} {unit} held"
                if best is not None
                else f"none held down to {last:g} {unit}"
            )
            words.append(
                f"The first step ({first:g} {unit}) did not hold: searched downward; {found}."
            )
        return " ".join(words)


def sweep_levels(sweep: SweepLoad) -> list[float]:
    """The levels a sweep steps up through: its concurrency levels, its `rates`, else
    start * factor^n up to max_rps; at most `max_steps`."""
    if sweep.over == "concurrency":
        return [float(c) for c in sorted(sweep.concurrency)[: sweep.max_steps]]
    if sweep.rates:
        return sweep.rates[: sweep.max_steps]
    count = int(math.log(sweep.max_rps / sweep.start, sweep.factor)) + 1
    return [sweep.start * sweep.factor**i for i in range(min(count, sweep.max_steps))]


PROFILES: dict[str, type[Profile]] = {
    "rate": FixedRate,
    "users": Users,
    "sweep": Sweep,
    "trace": TraceReplay,
}
"""The profile of each load mode (`Load.mode`)."""


def profile_for(scenario: Scenario) -> Profile:
    return PROFILES[scenario.load.mode](scenario)
