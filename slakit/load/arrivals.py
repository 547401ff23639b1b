"""Open-loop arrivals: requests are due on a schedule, whatever the target's latency.

A dispatcher greenlet puts each due time into a queue when it falls due; free users take
them. When every user is busy, due times wait in the queue: those requests go out late
(lateness recorded per sample) or, at the end, not at all (the backlog). So a report can
say the rate was not kept instead of silently offering less load.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import gevent
from gevent.queue import Queue


class ArrivalSchedule:
    """Due times of a Poisson or constant process at `rps`, for at most `duration_s`."""

    def __init__(self, rps: float, arrivals: str, duration_s: float, seed: int = 0) -> None:
        if rps <= 0:
            raise ValueError("rps must be positive")
        self.rps = rps
        self.poisson = arrivals == "poisson"
        self.duration_s = duration_s
        self._rng = random.Random(seed)
        self._queue: Queue = Queue()
        self._dispatcher: gevent.Greenlet | None = None
        self.offered = 0

    def take(self) -> float:
        """Block until a request is due; return its due time (epoch seconds)."""
        if self._dispatcher is None:
            self._dispatcher = gevent.spawn(self._dispatch)
        return self._queue.get()

    def _gap(self) -> float:
        return self._rng.expovariate(self.rps) if self.poisson else 1.0 / self.rps

    def _dispatch(self) -> None:
        start = due = time.time()
        while due < start + self.duration_s:
            delay = due - time.time()
            if delay > 0:
                gevent.sleep(delay)
            self._queue.put(due)
            self.offered += 1
            due += self._gap()

    def close(self, path: Path) -> None:
        """Stop dispatching; record offered and never-sent counts beside the samples."""
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
        path.write_text(
            json.dumps({"rps": self.rps, "offered": self.offered, "backlog": self._queue.qsize()})
        )


def read_schedules(run_dir: Path) -> tuple[int, int]:
    """(offered, never sent) summed over every process's schedule of a run."""
    offered = backlog = 0
    for path in run_dir.glob("schedule-*.json"):
        data = json.loads(path.read_text())
        offered += data["offered"]
        backlog += data["backlog"]
    return offered, backlog
