"""When an open-loop step's requests fall due: the due-time generation behind arrivals.

A `Pace` is data (it goes to distributed workers as a message): piecewise-linear rate
segments with an arrival process, or a trace's rows. Its `due_times` count from the
step's start. Rates share one construction: a renewal process of mean gap 1 in
"operational time" (the expected number of arrivals so far, the integral of the rate),
mapped back to real time through the rate's integral. At a fixed rate that is simply
gaps of mean 1/rps; in a ramp it is the non-homogeneous Poisson (or constant, or gamma)
process of that rate, and stages need no special case.

- `poisson`: exponential gaps; `constant`: gaps of exactly 1/rps;
- `gamma`: gamma gaps of shape `burstiness` and mean 1/rps, as `vllm bench serve
  --burstiness` (1 is Poisson, below 1 burstier, above 1 more even; variance
  1/(burstiness * rps^2)).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

TRACE_TAIL_S = 1.0
"""A trace's step lasts this long past its last request, so that one is sent before the
users stop."""


@dataclass(frozen=True)
class Segment:
    """`duration` seconds whose rate goes linearly from `start_rps` to `end_rps`."""

    duration: float
    start_rps: float
    end_rps: float

    @property
    def mass(self) -> float:
        """Expected arrivals in the segment: the integral of its rate."""
        return (self.start_rps + self.end_rps) / 2 * self.duration

    def time_at(self, mass: float) -> float:
        """Seconds into the segment by which `mass` arrivals are expected: the inverse of
        a*t + k*t^2/2, written so it holds for a flat rate (k = 0) and a start at 0."""
        slope = (self.end_rps - self.start_rps) / self.duration
        root = math.sqrt(max(self.start_rps**2 + 2 * slope * mass, 0.0))
        return 2 * mass / (self.start_rps + root) if mass > 0 else 0.0


@dataclass(frozen=True)
class TraceRow:
    """One request of a trace: when (seconds from the trace's start, scaled) and its
    prompt and output lengths in tokens."""

    at: float
    input_tokens: int
    output_tokens: int


class Due(float):
    """A due time (`time.monotonic()` seconds) that carries its request's lengths (a
    trace row's): still a float, so arrivals hand it out like any other due time."""

    lengths: tuple[int, int]  # (input tokens, output tokens)

    def __new__(cls, at: float, row: TraceRow) -> Due:
        due = super().__new__(cls, at)
        due.lengths = (row.input_tokens, row.output_tokens)
        return due


@dataclass(frozen=True)
class Pace:
    """How an open-loop step's requests fall due: rate `segments` under an arrival
    process, or (`trace`) at a trace's times. Seeded: the same seed, the same times."""

    segments: tuple[Segment, ...] = ()
    arrivals: str = "poisson"
    burstiness: float = 1.0
    trace: tuple[TraceRow, ...] = ()

    @classmethod
    def fixed(cls, rps: float, duration: float, arrivals: str = "poisson", burstiness=1.0):
        if rps <= 0:
            raise ValueError("rps must be positive")
        return cls((Segment(duration, rps, rps),), arrivals, burstiness)

    @property
    def duration(self) -> float:
        if self.trace:
            return self.trace[-1].at + TRACE_TAIL_S
        return sum(s.duration for s in self.segments)

    @property
    def mean_rps(self) -> float:
        """Requests expected per second over the step (a trace's: rows over its span)."""
        expected = len(self.trace) if self.trace else sum(s.mass for s in self.segments)
        return expected / max(self.duration, 1e-9)

    def share(self, index: int, workers: int) -> Pace:
        """Worker `index`'s part of the load: every rate over `workers`, or every
        `workers`-th row of a trace."""
        if self.trace:
            return replace(self, trace=self.trace[index::workers])
        part = tuple(
            Segment(s.duration, s.start_rps / workers, s.end_rps / workers) for s in self.segments
        )
        return replace(self, segments=part)

    def message(self) -> dict:
        """As plain data, for a worker (Locust's messages carry no dataclasses)."""
        return asdict(self)

    @classmethod
    def from_message(cls, data: dict) -> Pace:
        return cls(
            tuple(Segment(**s) for s in data["segments"]),
            data["arrivals"],
            data["burstiness"],
            tuple(TraceRow(**r) for r in data["trace"]),
        )

    def due_times(self, start: float, seed: int = 0) -> Iterator[float]:
        """Due times from `start` on, in order; a trace's carry their rows' lengths."""
        if self.trace:
            return (Due(start + row.at, row) for row in self.trace)
        offsets = _rate_offsets(self.segments, self.unit_gaps(random.Random(seed)))
        return (start + offset for offset in offsets)

    def unit_gaps(self, rng: random.Random) -> Iterator[float]:
        """Gaps of mean 1 in operational time, of the arrival process's shape."""
        while True:
            if self.arrivals == "poisson":
                yield rng.expovariate(1.0)
            elif self.arrivals == "gamma":
                yield rng.gammavariate(self.burstiness, 1.0 / self.burstiness)
            else:
                yield 1.0


def _rate_offsets(segments: tuple[Segment, ...], gaps: Iterator[float]) -> Iterator[float]:
    """The first request at 0, each next one a gap later in operational time, until the
    last segment ends."""
    at = 0.0  # operational time of the next request
    began = passed = 0.0  # real seconds and operational time before this segment
    for segment in segments:
        while at - passed < segment.mass:
            yield began + segment.time_at(at - passed)
            at += next(gaps)
        began, passed = began + segment.duration, passed + segment.mass
