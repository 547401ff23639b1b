"""Alerting rules as data: each `Check` is one Prometheus alert together with the synthetic
series that must make it fire and the healthy ones that must not, so the rule file and its
promtool unit tests are generated from the same object and cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slakit.generate.spec import ResourceRule
from slakit.units import prom_duration

PER_INTERVAL = 1000  # synthetic requests per sample interval
RATE_WINDOW = 300  # seconds: the rate window of rate-based resource and outage checks


@dataclass(frozen=True)
class Clock:
    """Durations as written into rules: the spec's, or divided by `factor` for live tests."""

    factor: int = 1

    def seconds(self, seconds: float) -> float:
        if self.factor == 1 or seconds == 0:
            return seconds
        return max(1, round(seconds / self.factor))

    def text(self, seconds: float) -> str:
        return prom_duration(self.seconds(seconds))


@dataclass(frozen=True)
class Series:
    """A synthetic series: `start`, then `step` added every sample interval."""

    selector: str
    start: float
    step: float = 0.0


@dataclass(frozen=True)
class Case:
    """One synthetic input that fires the alert with `labels` (from the series) and `value`
    (`$value`, for the annotations); `samples` are (series, value) that must then be
    recorded."""

    series: list[Series]
    labels: dict[str, str] = field(default_factory=dict)
    value: float | None = None
    samples: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """One alerting rule with its unit-test inputs."""

    alert: str
    expr: str
    for_s: float  # as written in the rule (already scaled)
    severity: str
    summary: str
    description: str
    runbook: str  # what to look at first, for RUNBOOK.md
    ranged: bool  # reads a range (rate, deriv): first true one sample interval in
    fires: list[Case]
    healthy: list[list[Series]]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def num(value: float) -> str:
    """A number as PromQL reads it, without float noise."""
    return f"{value:.10g}"


def pct(ratio: float) -> str:
    return f"{ratio * 100:.6g}%"


def sel(metric: str, labels: dict[str, str]) -> str:
    """`metric{k="v", ...}`."""
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{body}}}"


class Enabled:
    """The checks of the spec's enabled rules, with the rule's `for:` and severity."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.checks: list[Check] = []

    def add(self, setting: ResourceRule, **kw) -> None:
        if setting.enabled:
            for_s = self.clock.seconds(setting.for_)
            self.checks.append(Check(for_s=for_s, severity=setting.severity, **kw))
