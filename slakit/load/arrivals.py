"""Open-loop arrival schedules: when the next request is due, whatever the target does.

Users take the next due time from one shared schedule; if every user is busy, requests
go out late and the lateness is recorded, so a report can say the rate was not kept
instead of silently offering less load.
"""

from __future__ import annotations

import random
import time


class ArrivalSchedule:
    """Due times (epoch seconds) of a Poisson or constant process at `rps`."""

    def __init__(self, rps: float, arrivals: str, seed: int = 0) -> None:
        if rps <= 0:
            raise ValueError("rps must be positive")
        self.rps = rps
        self.poisson = arrivals == "poisson"
        self._rng = random.Random(seed)
        self._next: float | None = None  # the clock starts at the first request

    def next_due(self) -> float:
        """The due time of the next request; each call consumes one arrival."""
        if self._next is None:
            self._next = time.time()
        due = self._next
        gap = self._rng.expovariate(self.rps) if self.poisson else 1.0 / self.rps
        self._next += gap
        return due
