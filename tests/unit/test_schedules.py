"""Due-time generation (`slakit.scenario.schedules`): the arrival processes' statistics over
many seeded gaps, and rate stages and ramps offering what their rate integrates to."""

from __future__ import annotations

import statistics

import pytest

from slakit.scenario.schedules import Due, Pace, Segment, TraceRow


def gaps(pace: Pace, seed: int = 3) -> list[float]:
    times = list(pace.due_times(0.0, seed))
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_poisson_gaps_are_reproducible_with_a_seed() -> None:
    pace = Pace.fixed(20, 10)
    assert gaps(pace, 7) == gaps(pace, 7)
    assert gaps(pace, 7) != gaps(pace, 8)


@pytest.mark.parametrize("rps", [5.0, 50.0, 400.0])
def test_poisson_gaps_average_one_over_the_rate(rps: float) -> None:
    """20 000 exponential draws: the mean's standard error is 0.7% of 1/rps, so a 5%
    tolerance is over 7 standard errors; the spread (stddev = mean) tells it from constant."""
    drawn = gaps(Pace.fixed(rps, 20_000 / rps))[:20_000]
    mean = statistics.fmean(drawn)
    assert mean == pytest.approx(1 / rps, rel=0.05)
    assert statistics.stdev(drawn) / mean == pytest.approx(1.0, abs=0.05)
    assert min(drawn) >= 0


def test_constant_gaps_are_exactly_one_over_the_rate() -> None:
    assert gaps(Pace.fixed(8, 60, "constant")) == pytest.approx([0.125] * 479, abs=1e-9)


@pytest.mark.parametrize("rps", [0, -1.0])
def test_rate_must_be_positive(rps: float) -> None:
    with pytest.raises(ValueError, match="rps must be positive"):
        Pace.fixed(rps, 1)


@pytest.mark.parametrize(("burstiness", "rps"), [(0.25, 10.0), (1.0, 10.0), (4.0, 40.0)])
def test_gamma_gaps_have_mean_one_over_rps_and_variance_one_over_b_rps_squared(
    burstiness: float, rps: float
) -> None:
    """10,000 seeded gamma gaps. The mean's relative standard error is 1/sqrt(B n): 2% at
    B = 0.25, so 8% is 4 of them; the variance's is about sqrt((2 + 6/B) / n), 5% at
    B = 0.25, so 20% is 4 of them."""
    drawn = gaps(Pace.fixed(rps, 12_000 / rps, "gamma", burstiness), seed=5)[:10_000]
    assert len(drawn) == 10_000
    assert statistics.fmean(drawn) == pytest.approx(1 / rps, rel=0.08)
    assert statistics.variance(drawn) == pytest.approx(1 / (burstiness * rps**2), rel=0.2)


def test_burstiness_orders_the_spread_of_gaps() -> None:
    """Below 1 burstier than Poisson, above 1 more even: the coefficient of variation is
    1/sqrt(B)."""
    spread = {
        b: statistics.stdev(g) / statistics.fmean(g)
        for b in (0.2, 1.0, 5.0)
        if (g := gaps(Pace.fixed(10, 1000, "gamma", b)))
    }
    assert spread[0.2] == pytest.approx(5**0.5, rel=0.15)
    assert spread[1.0] == pytest.approx(1.0, rel=0.1)
    assert spread[5.0] == pytest.approx(5**-0.5, rel=0.1)


def test_stages_offer_each_stage_its_own_rate() -> None:
    pace = Pace((Segment(10, 2, 2), Segment(10, 8, 8), Segment(5, 1, 1)), "constant")
    times = list(pace.due_times(100.0))
    stages = ((100, 110), (110, 120), (120, 125))
    per_stage = [sum(lo <= t < hi for t in times) for lo, hi in stages]
    assert per_stage == [20, 80, 5]
    assert pace.duration == 25 and pace.mean_rps == pytest.approx(105 / 25)
    assert max(times) < 125


def test_a_linear_ramp_offers_what_its_rate_integrates_to() -> None:
    """Constant arrivals in a ramp from 0 to 20 req/s over 10 s: by t seconds, 20 t^2 / 20
    = t^2 requests are due (the k-th at sqrt(k)), 100 in all."""
    times = list(Pace((Segment(10, 0, 20),), "constant").due_times(0.0))
    assert len(times) == 100
    assert times == pytest.approx([k**0.5 for k in range(100)], abs=1e-9)


def test_a_poisson_ramp_down_counts_per_second_follow_the_rate() -> None:
    """A non-homogeneous Poisson process from 40 to 0 req/s over 20 s, 20 seeds: the mean
    count in each 5 s quarter is the integral of the rate there (175, 125, 75, 25)."""
    pace = Pace((Segment(20, 40, 0),))
    counts = [[0] * 4 for _ in range(20)]
    for seed in range(20):
        for t in pace.due_times(0.0, seed):
            counts[seed][int(t // 5)] += 1
    means = [statistics.fmean(c[q] for c in counts) for q in range(4)]
    assert means == pytest.approx([175, 125, 75, 25], rel=0.08)


def test_a_trace_is_due_at_its_rows_times_with_their_lengths() -> None:
    pace = Pace(trace=(TraceRow(0.0, 10, 5), TraceRow(0.5, 20, 6), TraceRow(2.0, 30, 7)))
    due = list(pace.due_times(50.0))
    assert due == [50.0, 50.5, 52.0]
    assert all(isinstance(d, Due) for d in due)
    assert [d.lengths for d in due] == [(10, 5), (20, 6), (30, 7)]
    assert pace.duration == pytest.approx(3.0)  # the last row, then the tail


def test_shares_split_rates_and_deal_out_trace_rows() -> None:
    rate = Pace((Segment(10, 2, 8),), "gamma", 0.5).share(1, 2)
    assert rate.segments == (Segment(10, 1, 4),) and rate.burstiness == 0.5
    rows = tuple(TraceRow(float(i), 10, 5) for i in range(5))
    assert Pace(trace=rows).share(1, 2).trace == (rows[1], rows[3])
