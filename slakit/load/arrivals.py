"""Open-loop arrivals: requests are due on a schedule, whatever the target's latency.

A dispatcher greenlet puts each due time into a queue when it falls due; free users take
them. When every user is busy, due times wait in the queue: those requests go out late
(lateness recorded per sample) or, at the end, not at all (the backlog). So a report can
say the rate was not kept instead of silently offering less load. Once the schedule is
over, `take` answers None: the user stops, and requests still in flight finish.
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
        self._ended = False  # the end mark (None) is in the queue

    def take(self) -> float | None:
        """Block until a request is due; its due time (`time.monotonic()` seconds), or None
        once the schedule is over and every due time was taken."""
        if self._dispatcher is None:
            self._dispatcher = gevent.spawn(self._dispatch)
        due = self._queue.get()
        if due is None:
            self._queue.put(None)  # leave the end mark for the next user to see
        return due

    def _gap(self) -> float:
        return self._rng.expovariate(self.rps) if self.poisson else 1.0 / self.rps

    def _dispatch(self) -> None:
        start = due = time.monotonic()
        while due < start + self.duration_s:
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            self._queue.put(due)
            self.offered += 1
            due += self._gap()
        self._queue.put(None)  # wakes a user waiting for a due time: the schedule is over
        self._ended = True

    @property
    def backlog(self) -> int:
        """Due times never taken by a user (the end mark is not one)."""
        return self._queue.qsize() - self._ended

    def close(self, path: Path) -> None:
        """Stop dispatching; record offered and never-sent counts beside the samples."""
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
        path.write_text(
            json.dumps({"rps": self.rps, "offered": self.offered, "backlog": self.backlog})
        )


def read_schedules(run_dir: Path) -> tuple[int, int]:
    """(offered, never sent) summed over every process's schedule of a run, and of every
    step of a sweep (each in its own directory)."""
    offered = backlog = 0
    for path in run_dir.rglob("schedule-*.json"):
        data = json.loads(path.read_text())
        offered += data["offered"]
        backlog += data["backlog"]
    return offered, backlog
