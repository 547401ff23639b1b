"""Why an open-loop rate was not kept: a target too slow for the in-flight slots, or a
load generator that fell behind with slots to spare (it shares its machine)."""

from __future__ import annotations

import pandas as pd

from slakit.limits import why_late


def _frame(rows: list[tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["start", "end", "late_s"])


def test_late_requests_behind_full_slots_blame_the_target() -> None:
    # Two slots, each busy for 1 s; the third request waits for the first to end.
    frame = _frame([(0.0, 1.0, 0.0), (0.1, 1.1, 0.0), (1.0, 1.5, 0.8)])
    assert "all 2 in-flight slots were busy: the target" in why_late(frame, slots=2, late_s=0.05)


def test_late_requests_with_free_slots_blame_the_generator() -> None:
    # Short requests, never more than one in flight, yet 200 ms late: nothing to wait for.
    frame = _frame([(0.0, 0.05, 0.0), (0.5, 0.55, 0.2), (1.0, 1.05, 0.3)])
    text = why_late(frame, slots=8, late_s=0.05)
    assert "at most 1 of 8 in-flight slots" in text and "generator itself fell behind" in text


def test_overlap_is_counted_at_the_late_request_itself() -> None:
    # Three in flight when the late one leaves (two others + itself), of four slots.
    frame = _frame([(0.0, 2.0, 0.0), (0.2, 2.0, 0.0), (0.3, 0.4, 0.0), (0.5, 0.9, 0.1)])
    assert "at most 3 of 4" in why_late(frame, slots=4, late_s=0.05)


def test_unsent_requests_without_late_ones_blame_the_target() -> None:
    frame = _frame([(0.0, 1.0, 0.0), (0.1, 1.1, 0.0)])
    assert "all 2 in-flight slots were busy: the target" in why_late(frame, 2, late_s=0.05)
