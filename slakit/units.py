"""Strict parsing of the quantities scenario files are written in.

Durations (`500ms`, `30s`, `2m`, `1h`), percentages (`99.5%`), rates and token counts,
and objectives (`< 500ms`, `>= 99.5%`, `< 1%`, `> 20 rps`). Anything else is an error
that names what was expected; nothing is guessed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_OBJECTIVE = re.compile(r"^\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*([a-z%/]*)\s*$")

# Unit words an objective may carry, by the dimension they measure, with their scale
# to the SLI's base unit (seconds, ratio 0..1, per second, count).
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("seconds", 0.001),
    "s": ("seconds", 1.0),
    "m": ("seconds", 60.0),
    "%": ("ratio", 0.01),
    "rps": ("per_second", 1.0),
    "req/s": ("per_second", 1.0),
    "tok/s": ("per_second", 1.0),
    "/s": ("per_second", 1.0),
    "": ("number", 1.0),
}


def parse_duration(text: str | float | int) -> float:
    """`'1.5s'` -> 1.5 seconds. Bare numbers are refused: a unit must be written."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a duration with a unit like '30s' or '500ms', got {text!r}")
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration like '30s', '500ms' or '2m', got {text!r}")
    return _scaled(match.group(1), _SECONDS[match.group(2)])


def _scaled(number: str, scale: float) -> float:
    """`number` (as written) times `scale`, rounded once: '700ms' is 0.7, not 0.7000000000000001,
    so a value exactly at a written threshold compares as written."""
    value = float(Decimal(number) * Decimal(repr(scale)))
    if math.isinf(value):
        raise ValueError(f"{number} is too large to be meant")
    return value


@dataclass(frozen=True)
class Objective:
    """A comparison against a threshold in the SLI's base unit."""

    op: str
    threshold: float
    dimension: str
    text: str

    def holds(self, value: float) -> bool:
        return {
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            ">=": value >= self.threshold,
        }[self.op]

    @property
    def higher_is_better(self) -> bool:
        return self.op.startswith(">")


def parse_objective(text: str) -> Objective:
    """`'< 500ms'` -> Objective('<', 0.5, 'seconds'); `'>= 99.5%'` -> ('>=', 0.995, 'ratio')."""
    if not isinstance(text, str):
        raise ValueError(f"expected an objective like '< 500ms' or '>= 99.5%', got {text!r}")
    match = _OBJECTIVE.match(text.strip().lower())
    if not match:
        raise ValueError(f"expected an objective like '< 500ms' or '>= 99.5%', got {text!r}")
    op, number, unit = match.groups()
    if unit not in UNITS:
        known = ", ".join(u for u in UNITS if u)
        raise ValueError(f"unknown unit {unit!r} in {text!r}; expected one of {known}")
    dimension, scale = UNITS[unit]
    value = _scaled(number, scale)
    if dimension == "ratio" and value > 1:
        raise ValueError(f"a percentage cannot exceed 100%: {text!r}")
    objective = Objective(op, value, dimension, text.strip())
    _refuse_impossible(objective)
    return objective


def _refuse_impossible(objective: Objective) -> None:
    """Refuse an objective no measured value can meet (the gate would fail every run): SLI
    values are never below 0 and ratios never above 100%, so `< 0ms` and `> 100%` cannot
    hold. A threshold comparison is monotonic, so the two ends of the range decide. One that
    every value meets (`<= 100%`) stays allowed: it records a value without gating on it."""
    highest = 1.0 if objective.dimension == "ratio" else math.inf
    if not objective.holds(0.0) and not objective.holds(highest):
        raise ValueError(
            f"no measured value can meet {objective.text!r}: "
            "SLIs are never below 0 and percentages never above 100%"
        )


def stricter(warn: Objective, objective: Objective) -> bool:
    """Whether `warn` trips before `objective` does: every value meeting warn meets the
    objective, and some value meeting the objective does not meet warn. judge() calls a
    value that meets the objective but not warn a warning, so any other warn level would
    warn about failing values or about none."""
    if warn.higher_is_better != objective.higher_is_better:
        return False
    if warn.threshold != objective.threshold:
        return (warn.threshold > objective.threshold) == warn.higher_is_better
    return len(warn.op) < len(objective.op)  # `< x` is stricter than `<= x`


# Prometheus's own duration syntax (rule windows, scrape intervals).
PROM_DURATION = re.compile(r"^\s*(\d+)(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def parse_prom_duration(text: object) -> float:
    """`'1d'` -> 86400.0. One integer and one unit, as Prometheus writes windows."""
    match = PROM_DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"expected a duration like '5m', '6h' or '30d', got {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def prom_duration(seconds: float) -> str:
    """86400 -> `'1d'`, 90 -> `'90s'`: the largest unit that divides evenly."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    for unit, size in _UNIT_SECONDS.items():
        if size >= 1 and whole % size == 0:
            return f"{whole // size}{unit}"
    raise AssertionError("unreachable: 1 s divides every whole number of seconds")
