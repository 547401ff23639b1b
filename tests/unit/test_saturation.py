"""The saturation stop (`slakit.load.saturation`): a target that completes what falls due
is never called saturated, whatever its latency or the arrivals' noise; one that
completes less is, once outstanding requests have grown over the window."""

from __future__ import annotations

import random

from slakit.load.saturation import CONFIRM_TICKS, GRACE_S, WINDOW_S, SaturationWatch


def _feed(rate: float, completes: float, latency_s: float, seconds: int, seed: int = 1):
    """Ticks of one second: Poisson arrivals at `rate`; completions at `completes` req/s
    at most, each `latency_s` after it fell due. The first answer that is not None, and
    the second it came at."""
    rng, watch = random.Random(seed), SaturationWatch()
    due = done = 0
    started: list[float] = []
    for second in range(1, seconds + 1):
        arrivals = sum(rng.random() < rate / 100 for _ in range(100))
        started += [second] * arrivals
        due += arrivals
        ready = sum(1 for t in started[done:] if t + latency_s <= second)
        done += min(ready, int(completes))
        if why := watch.update(float(second), due, done):
            return why, second
    return None, None


def test_a_target_that_keeps_up_is_never_saturated() -> None:
    for seed in range(20):
        for rate, latency_s in [(4, 3), (30, 1), (50, 2)]:
            assert _feed(rate, 100, latency_s, seconds=60, seed=seed) == (None, None)


def test_a_target_that_completes_half_of_what_falls_due_is_saturated_after_the_grace() -> None:
    why, at = _feed(rate=20, completes=10, latency_s=1, seconds=60)
    assert at == GRACE_S + WINDOW_S + CONFIRM_TICKS - 1  # judged from then, confirmed
    assert why.startswith("saturated: ")
    assert "completing 10 req/s of" in why


def test_growth_below_the_minimum_is_noise() -> None:
    """At 2 req/s against 1 completed, outstanding grows about 10 in 10 s: under MIN_GROWTH."""
    assert _feed(rate=2, completes=1, latency_s=0, seconds=30)[0] is None


def test_a_burst_that_drains_is_not_saturation() -> None:
    watch = SaturationWatch()
    counts = [(t, 10 * t, 10 * t) for t in range(1, 7)]  # keeping up
    counts += [(t, 10 * t, 10 * t) for t in range(7, 15)]
    counts += [(15, 200, 150), (16, 210, 170), (17, 220, 200), (18, 230, 230), (19, 240, 240)]
    assert all(watch.update(float(t), due, done) is None for t, due, done in counts)
