"""When an open-loop step's target is saturated, so the step can end early and say so.

A target that keeps up completes requests as fast as they fall due: the requests due but
not yet done (queued behind busy users, or in flight at the server, waiting in vLLM's
queue) hover around rate x latency. A saturated one completes fewer than fall due, so
that number grows without bound, as guidellm's over-saturation constraint watches.
Judged once the step is past `GRACE_S` (outstanding rises from 0 to rate x latency at
the start), over the last `WINDOW_S`: outstanding grew by at least `MIN_GROWTH` requests
and by `GROWTH_SHARE` of what fell due in the window, in both halves of it (a burst that
drains is not saturation), at `CONFIRM_TICKS` watch ticks in a row (the arrivals' noise
rarely lasts). Every threshold is here.
"""

from __future__ import annotations

WINDOW_S = 10.0
"""Growth of the outstanding requests is judged over this many seconds."""
GRACE_S = 5.0
"""Not judged before this many seconds of the step: the first requests are in flight."""
MIN_GROWTH = 20
"""Fewer more outstanding requests than this is noise of the arrivals (4 standard
deviations of it at 4 req/s and 3 s latency). A latency well past `GRACE_S` still looks
like growth now and then: 4 in 1,000 simulated 60 s steps at 2 req/s and 8 s latency
were called saturated (tests/unit/test_saturation.py)."""
GROWTH_SHARE = 0.25
"""Saturated: outstanding grew by this share of what fell due in the window (the target
completed at most 75% of the offered rate)."""
CONFIRM_TICKS = 3
"""Ticks in a row the growth must be seen at."""


class SaturationWatch:
    """Fed the step's counts once per watch tick; answers why the target is saturated,
    or None."""

    def __init__(self) -> None:
        self._seen: list[tuple[float, int, int]] = []  # (seconds into the step, due, done)
        self._growing = 0  # ticks in a row outstanding was seen growing

    def update(self, elapsed: float, due: int, done: int) -> str | None:
        self._seen.append((elapsed, due, done))
        if elapsed < GRACE_S + WINDOW_S:
            return None
        then, first_due, first_done = self._at(elapsed - WINDOW_S)
        _, middle_due, middle_done = self._at(elapsed - WINDOW_S / 2)
        before, middle, now = first_due - first_done, middle_due - middle_done, due - done
        growth, fell_due = now - before, due - first_due
        growing = growth >= max(MIN_GROWTH, GROWTH_SHARE * fell_due) and before < middle < now
        self._growing = self._growing + 1 if growing else 0
        if self._growing >= CONFIRM_TICKS:
            span = elapsed - then
            return (
                f"saturated: {growth} more requests due but not done than {span:.0f} s "
                f"before (completing {(done - first_done) / span:.3g} req/s of "
                f"{fell_due / span:.3g} req/s due)"
            )
        return None

    def _at(self, elapsed: float) -> tuple[float, int, int]:
        """The last counts seen at or before `elapsed` seconds."""
        return next(seen for seen in reversed(self._seen) if seen[0] <= elapsed)
