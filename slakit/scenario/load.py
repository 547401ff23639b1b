"""How hard: closed-loop users, an open-loop rate (fixed, staged or ramped), a capacity
sweep over rate or concurrency, a trace replayed, distributed workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from slakit.scenario.fields import Duration, Strict
from slakit.scenario.schedules import Pace, Segment
from slakit.scenario.trace import read_trace
from slakit.yamlconf import FieldProblem

# A stage, a rate run or a sweep step of no time offers no load and leaves nothing to judge.
LoadDuration = Annotated[Duration, Field(gt=0)]


class Stage(Strict):
    users: int = Field(ge=1, le=2000)
    spawn_rate: float = Field(gt=0)
    duration: LoadDuration


class UsersLoad(Strict):
    """Closed loop: a fixed population of users, each waits `think_time` between requests."""

    stages: list[Stage] = Field(min_length=1)
    think_time: Duration = 0.0


Arrivals = Literal["poisson", "constant", "gamma"]

MAX_RPS = 5000.0
"""The highest rate a scenario may ask for."""
Rps = Annotated[float, Field(gt=0, le=MAX_RPS)]
Slots = Annotated[
    int,
    Field(
        ge=1,
        le=5000,
        description="requests in flight at most; arrivals beyond it "
        "are late and the report says the rate was not kept",
    ),
]


class _Open(Strict):
    """What every open-loop load shares: how arrivals are spaced, and the slots."""

    arrivals: Arrivals = "poisson"
    burstiness: float | None = Field(
        None,
        gt=0,
        le=100,
        description="gamma arrivals: the gamma shape (vLLM bench's --burstiness); mean gap "
        "1/rps either way, 1 is Poisson, below 1 burstier, above 1 more even",
    )
    max_concurrency: Slots = 256

    @model_validator(mode="after")
    def _burstiness_is_gamma(self) -> _Open:
        if self.burstiness is not None and self.arrivals != "gamma":
            raise FieldProblem(
                ("burstiness",),
                f"burstiness shapes gamma arrivals; set `arrivals: gamma`, or leave "
                f"burstiness out (arrivals are {self.arrivals})",
            )
        return self

    def pace(self, segments: tuple[Segment, ...]) -> Pace:
        return Pace(segments, self.arrivals, self.burstiness or 1.0)


class RateStage(Strict):
    rps: Rps
    duration: LoadDuration


class Ramp(Strict):
    """A rate that goes linearly from `from_rps` to `to_rps` over `duration`."""

    from_rps: float = Field(ge=0, le=MAX_RPS)
    to_rps: float = Field(ge=0, le=MAX_RPS)
    duration: LoadDuration

    @model_validator(mode="after")
    def _offers_load(self) -> Ramp:
        if self.from_rps == self.to_rps == 0:
            raise FieldProblem(("to_rps",), "a ramp from 0 to 0 req/s offers no load")
        return self


class RateLoad(_Open):
    """Open loop: requests start on an arrival schedule, whatever the target's latency:
    at `rps` for `duration`, through `stages` of their own rates, or along a `ramp`."""

    rps: Rps | None = None
    duration: LoadDuration | None = None
    stages: list[RateStage] | None = Field(None, min_length=1)
    ramp: Ramp | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> RateLoad:
        chosen = [k for k in ("rps", "stages", "ramp") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "choose exactly one of `rps` (with `duration`), `stages`, `ramp` "
                f"(got {', '.join(chosen) or 'none'})"
            )
        if self.rps is not None and self.duration is None:
            raise FieldProblem(("duration",), "`rps` needs a `duration`")
        if self.rps is None and self.duration is not None:
            raise FieldProblem(
                ("duration",), f"`{chosen[0]}` has its own durations; leave `duration` out"
            )
        return self

    def segments(self) -> tuple[Segment, ...]:
        if self.stages:
            return tuple(Segment(s.duration, s.rps, s.rps) for s in self.stages)
        if self.ramp:
            return (Segment(self.ramp.duration, self.ramp.from_rps, self.ramp.to_rps),)
        return (Segment(self.duration, self.rps, self.rps),)


class SweepLoad(_Open):
    """Capacity search over the open-loop rate (`over: rate`) or the requests in flight
    (`over: concurrency`, closed loop): step up until an SLO breaks and report the highest
    that held; if the first step already breaks, step down until one holds."""

    over: Literal["rate", "concurrency"] = "rate"
    mode: Literal["step", "bisect"] = "step"
    rates: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="explicit rates for `step` mode; leave out to step from `start`"
    )
    start: float = Field(1.0, gt=0)
    max_rps: float = Field(64.0, gt=0)
    min_rps: float = Field(
        0.25,
        gt=0,
        description="a search that steps down (its first rate did not hold) stops below this",
    )
    concurrency: list[Annotated[int, Field(ge=1, le=5000)]] | None = Field(
        None, description="`over: concurrency`: the requests in flight of each step"
    )
    throughput: bool = Field(
        False,
        description="first a step at `max_concurrency` in flight to find the ceiling; a rate "
        "sweep then tries no rate above what it achieved",
    )
    factor: float = Field(2.0, gt=1, description="step mode without `rates`: start * factor^n")
    precision: float = Field(0.1, gt=0, lt=1, description="bisect stops at this relative width")
    step_duration: LoadDuration
    max_steps: int = Field(8, ge=1, le=30)

    @model_validator(mode="after")
    def _has_a_rate_to_try(self) -> SweepLoad:
        if self.over == "concurrency":
            if not self.concurrency:
                raise FieldProblem(
                    ("concurrency",),
                    "`over: concurrency` needs the levels to try, like `concurrency: [1, 4, 16]`",
                )
            return self
        if self.concurrency is not None:
            raise FieldProblem(
                ("concurrency",), "levels of concurrency are for `over: concurrency`"
            )
        if self.rates == []:
            raise FieldProblem(
                ("rates",),
                "`rates: []` lists no rate to try; list rates, or leave `rates` out to "
                "step from `start` by `factor`",
            )
        if self.rates is None and self.start > self.max_rps:
            raise FieldProblem(
                ("start",),
                f"start ({self.start:g} req/s) is above max_rps ({self.max_rps:g} req/s): "
                "the sweep would have no rate to try",
            )
        return self


class TraceLoad(Strict):
    """Open loop at a trace's times: one request per row of a JSONL file in Mooncake's
    columns (`slakit.scenario.trace`), each with the row's input and output lengths."""

    path: Path = Field(description="JSONL trace: timestamp (ms), input_length, output_length")
    time_scale: float = Field(
        1.0, gt=0, description="multiplies the trace's times: 2 replays it at half the rate"
    )
    max_concurrency: Slots = 256

    def pace(self) -> Pace:
        """The trace's rows as due times (read once, bad rows refused with file:line)."""
        return Pace(trace=read_trace(self.path, self.time_scale))


MODES = ("users", "rate", "sweep", "trace")
"""The load modes, one of which a scenario chooses."""


class Distributed(Strict):
    workers: int = Field(ge=1, le=64)


class Load(Strict):
    users: UsersLoad | None = None
    rate: RateLoad | None = None
    sweep: SweepLoad | None = None
    trace: TraceLoad | None = None
    distributed: Distributed | None = None
    request_timeout: Duration = 60.0

    @field_validator("request_timeout")
    @classmethod
    def _timeout_allows_a_request(cls, seconds: float) -> float:
        if seconds <= 0:
            raise ValueError("must be longer than 0s: every request would time out unanswered")
        return seconds

    @model_validator(mode="after")
    def _exactly_one(self) -> Load:
        chosen = [k for k in MODES if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "choose exactly one of `users`, `rate`, `sweep`, `trace` "
                f"(got {', '.join(chosen) or 'none'})"
            )
        return self

    @property
    def mode(self) -> str:
        return next(k for k in MODES if getattr(self, k) is not None)

    @property
    def open_loop_slots(self) -> int:
        """Requests an open-loop (`rate`, `sweep` or `trace`) run may have in flight at once."""
        return (self.rate or self.sweep or self.trace).max_concurrency
