"""Open-loop arrivals: requests are due on a schedule, whatever the target's latency.

A dispatcher greenlet hands each due time, when it falls due, to the user that became
free most recently (idle users wait in a stack): a run uses as few users as its
concurrency needs, so their keep-alive connections stay warm (`connections.py` reopens
one only once the server may have closed it) and a request is not timed through a new
connection's set-up (a queue that woke the longest-idle user first sent every one of a
smoke run's requests on a connection of its own). When every user is busy, due times
wait, oldest first: those requests go out late (lateness recorded per sample) or, at the
end, not at all (the backlog). So a report can say the rate was not kept instead of
silently offering less load. Once the schedule is over, `take` answers None: the user
stops, and requests still in flight finish.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

import gevent
from gevent.event import AsyncResult

from slakit.scenario.schedules import Pace


class ArrivalSchedule:
    """Due times as `pace` makes them (`slakit.scenario.schedules`), seeded."""

    def __init__(self, pace: Pace, seed: int = 0) -> None:
        self.pace = pace
        self.seed = seed
        self._waiting: deque[float] = deque()  # fell due while no user was free
        self._idle: list[AsyncResult] = []  # free users, the most recently free last
        self._dispatcher: gevent.Greenlet | None = None
        self.offered = 0
        self._over = False

    def take(self) -> float | None:
        """Block until a request is due; its due time (`time.monotonic()` seconds), or None
        once the schedule is over and every due time was taken."""
        if self._dispatcher is None:
            self._dispatcher = gevent.spawn(self._dispatch)
        if self._waiting:
            return self._waiting.popleft()
        if self._over:
            return None
        free = AsyncResult()
        self._idle.append(free)
        try:
            return free.get()
        finally:
            if free in self._idle:  # killed while waiting: the run is being stopped
                self._idle.remove(free)

    def _hand(self, due: float) -> None:
        """To the most recently freed user (its connection is warm), else to the wait."""
        if self._idle:
            self._idle.pop().set(due)
        else:
            self._waiting.append(due)

    def _dispatch(self) -> None:
        for due in self.pace.due_times(time.monotonic(), self.seed):
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            self._hand(due)
            self.offered += 1
        self._over = True
        # The schedule is over: the users waiting stop, one at a time. Released at once,
        # ~250 users stopping ran before the request just handed out reached its socket
        # (wire-checked, 8 req/s: the last request's send delay 6-12 ms, every other
        # ~1 ms; CI's clean run failed its 5 ms p99 bound on it); yielding after each
        # lets that send and any token in flight be served in between.
        while self._idle:
            self._idle.pop().set(None)
            gevent.sleep(0)

    @property
    def backlog(self) -> int:
        """Due times never taken by a user."""
        return len(self._waiting)

    def close(self, path: Path) -> None:
        """Stop dispatching; record offered and never-sent counts beside the samples."""
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
        path.write_text(
            json.dumps(
                {"rps": self.pace.mean_rps, "offered": self.offered, "backlog": self.backlog}
            )
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
