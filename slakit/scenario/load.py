"""How hard: closed-loop users, an open-loop rate, a capacity sweep, distributed workers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from slakit.scenario.fields import Duration, Strict
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


class RateLoad(Strict):
    """Open loop: requests start on an arrival schedule, whatever the target's latency."""

    rps: float = Field(gt=0, le=5000)
    arrivals: Literal["poisson", "constant"] = "poisson"
    duration: LoadDuration
    max_concurrency: int = Field(
        256,
        ge=1,
        le=5000,
        description="requests in flight at most; arrivals beyond it "
        "are late and the report says the rate was not kept",
    )


class SweepLoad(Strict):
    """Capacity search: raise the rate until an SLO breaks; report the highest that held."""

    mode: Literal["step", "bisect"] = "step"
    rates: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="explicit rates for `step` mode; leave out to step from `start`"
    )
    start: float = Field(1.0, gt=0)
    max_rps: float = Field(64.0, gt=0)
    factor: float = Field(2.0, gt=1, description="step mode without `rates`: start * factor^n")
    precision: float = Field(0.1, gt=0, lt=1, description="bisect stops at this relative width")
    step_duration: LoadDuration
    arrivals: Literal["poisson", "constant"] = "poisson"
    max_steps: int = Field(8, ge=1, le=30)
    max_concurrency: int = Field(256, ge=1, le=5000)

    @model_validator(mode="after")
    def _has_a_rate_to_try(self) -> SweepLoad:
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


class Distributed(Strict):
    workers: int = Field(ge=1, le=64)


class Load(Strict):
    users: UsersLoad | None = None
    rate: RateLoad | None = None
    sweep: SweepLoad | None = None
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
        chosen = [k for k in ("users", "rate", "sweep") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "choose exactly one of `users`, `rate`, `sweep` "
                f"(got {', '.join(chosen) or 'none'})"
            )
        return self

    @property
    def mode(self) -> str:
        return next(k for k in ("users", "rate", "sweep") if getattr(self, k) is not None)

    @property
    def open_loop_slots(self) -> int:
        """Requests an open-loop (`rate` or `sweep`) run may have in flight at once."""
        return (self.rate or self.sweep).max_concurrency
