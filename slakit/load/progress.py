"""The live view of a run: elapsed, users, rate, requests, errors, current p95 and TTFT.

Reads Locust's own statistics (aggregated from workers in distributed runs); the current
percentiles are over the last `WINDOW_S` seconds. On a terminal it is a rich Live line;
in a CI log it prints a plain line every `LOG_EVERY_S` seconds.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from locust.env import Environment
from locust.stats import calculate_response_time_percentile, diff_response_time_dicts
from rich.console import Console
from rich.live import Live

WINDOW_S = 10
LOG_EVERY_S = 10


@dataclass
class Delta:
    """What happened since the previous update."""

    requests: int
    failures: int
    connection_failures: int


@dataclass
class _Snapshot:
    requests: int
    failures: int
    connection_failures: int
    latency: dict[int, int]
    ttft: dict[int, int]


def _merge(entries) -> dict[int, int]:
    merged: dict[int, int] = {}
    for entry in entries:
        for ms, n in entry.response_times.items():
            merged[ms] = merged.get(ms, 0) + n
    return merged


class LiveProgress:
    def __init__(self, env: Environment, total_s: float, rps: float | None, label: str) -> None:
        self.env = env
        self.total_s = total_s
        self.rps = rps
        self.label = label
        self.console = Console(stderr=True)
        self.history: deque[tuple[float, _Snapshot]] = deque()
        self.started = time.monotonic()
        self._last_log = 0.0
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.update()
        if self._live:
            self._live.__exit__(*exc)
        else:
            self.console.print(self._line())

    def _snapshot(self) -> _Snapshot:
        entries = self.env.stats.entries.values()
        posts = [e for e in entries if e.method != "TTFT"]
        ttfts = [e for e in entries if e.method == "TTFT"]
        conn = sum(
            e.occurrences for e in self.env.stats.errors.values() if "connection" in str(e.error)
        )
        return _Snapshot(
            sum(e.num_requests for e in posts),
            sum(e.num_failures for e in posts),
            conn,
            _merge(posts),
            _merge(ttfts),
        )

    def update(self) -> Delta:
        now = time.monotonic()
        snap = self._snapshot()
        previous = self.history[-1][1] if self.history else _Snapshot(0, 0, 0, {}, {})
        self.history.append((now, snap))
        while len(self.history) > 1 and now - self.history[0][0] > WINDOW_S:
            self.history.popleft()
        if self._live:
            self._live.update(self._line())
        elif now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            self.console.print(self._line())
        return Delta(
            snap.requests - previous.requests,
            snap.failures - previous.failures,
            snap.connection_failures - previous.connection_failures,
        )

    def _window_p95(self, field: str) -> str:
        if len(self.history) < 2:
            return "-"
        latest = getattr(self.history[-1][1], field)
        delta = diff_response_time_dicts(latest, getattr(self.history[0][1], field))
        count = sum(delta.values())
        if not count:
            return "-"
        return f"{calculate_response_time_percentile(delta, count, 0.95):.0f} ms"

    def _line(self) -> str:
        elapsed = time.monotonic() - self.started
        snap = self.history[-1][1] if self.history else _Snapshot(0, 0, 0, {}, {})
        span = self.history[-1][0] - self.history[0][0] if len(self.history) > 1 else 0
        done = snap.requests - self.history[0][1].requests if span else 0
        rate = f"{done / span:.1f}" if span else "-"
        target = f"/{self.rps:g}" if self.rps else ""
        users = getattr(self.env.runner, "user_count", 0)
        label = f"[bold]{self.label}[/bold] " if self.label else ""
        return (
            f"{label}{elapsed:4.0f}/{self.total_s:.0f} s  users {users}  "
            f"rate {rate}{target} req/s  requests {snap.requests}  errors {snap.failures}  "
            f"p95 {self._window_p95('latency')}  TTFT p95 {self._window_p95('ttft')}"
        )
