"""The evaluator on hand-built sample frames: each expected figure is worked out here,
from the rows, not read back from the code under test."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from slakit import evaluate as ev
from slakit.load.samples import COLUMNS
from slakit.report.model import SloResult
from slakit.scenario import Scenario, Slo
from slakit.sli import CATALOGUE
from slakit.verdict import overall

# --- helpers -------------------------------------------------------------------------


def row(
    start: float = 0.0,
    latency: float = 0.1,
    *,
    kind: str = "chat",
    error: str | None = None,
    ttft: float | None = None,
    itl: list[float] | None = None,
    tokens_out: int | None = None,
    end: float | None = None,
    late: float = 0.0,
) -> dict:
    """One sample as read_samples gives it (same columns)."""
    return {
        "kind": kind,
        "start": start,
        "end": start + latency if end is None else end,
        "latency_s": latency if end is None else end - start,
        "status": 0 if error else 200,
        "error": error,
        "ttft_s": ttft,
        "itl_s": list(itl or []),
        "tokens_in": None,
        "tokens_out": tokens_out,
        "late_s": late,
        "trace_id": "",
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    """Built the way read_samples builds its frame, so dtypes match a real run."""
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def slo(name: str, sli: str, objective: str, aggregation: str = "p95", **extra) -> Slo:
    return Slo.model_validate(
        {"name": name, "sli": sli, "aggregation": aggregation, "objective": objective, **extra}
    )


def result(
    name: str,
    verdict: str,
    value: float | None = 1.0,
    *,
    sli: str = "latency",
    objective: str = "< 1s",
    detail: str = "as measured",
) -> SloResult:
    spec = CATALOGUE[sli]
    return SloResult(
        name=name,
        sli=sli,
        title=spec.title,
        side=spec.side,
        aggregation="p95",
        objective=objective,
        dimension=spec.dimension,
        value=value,
        samples=100,
        verdict=verdict,
        detail=detail,
    )


def linear_quantile(values: list[float], q: float) -> float:
    """Reference quantile with linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


WIDE = ev.EvalWindow(0.0, 1000.0)


def test_reference_quantile_matches_textbook_values() -> None:
    assert linear_quantile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    assert linear_quantile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)


# --- per_request ---------------------------------------------------------------------


def test_latency_per_request_excludes_failed_requests() -> None:
    rows = [row(0, 0.2), row(1, 9.0, error="timeout"), row(2, 0.4)]
    assert ev.per_request(frame(rows), CATALOGUE["latency"]).tolist() == pytest.approx([0.2, 0.4])


def test_ttft_per_request_skips_requests_without_a_first_token_and_failures() -> None:
    rows = [
        row(0, 1.0, ttft=0.1),
        row(1, 1.0, ttft=None),
        row(2, 1.0, ttft=0.3),
        row(3, 1.0, ttft=0.05, error="http_500"),
    ]
    assert ev.per_request(frame(rows), CATALOGUE["ttft"]).tolist() == pytest.approx([0.1, 0.3])


def test_tpot_is_decode_time_per_token_after_the_first() -> None:
    rows = [
        row(0, 1.0, ttft=0.2, tokens_out=5),  # (1.0 - 0.2) / 4 = 0.2
        row(1, 2.0, ttft=0.5, tokens_out=4),  # (2.0 - 0.5) / 3 = 0.5
        row(2, 3.0, ttft=0.5, tokens_out=1),  # one token: no decode time
        row(3, 3.0, ttft=0.5, tokens_out=0),
        row(4, 3.0, ttft=None, tokens_out=9),  # not streamed: ttft unknown
        row(5, 3.0, ttft=0.5, tokens_out=None),
        row(6, 9.0, ttft=0.1, tokens_out=9, error="timeout"),
    ]
    assert ev.per_request(frame(rows), CATALOGUE["tpot"]).tolist() == pytest.approx([0.2, 0.5])


def test_itl_pools_every_gap_of_the_successful_requests() -> None:
    rows = [
        row(0, itl=[0.01, 0.02]),
        row(1, itl=[]),
        row(2, itl=[0.03]),
        row(3, itl=[5.0, 5.0], error="stream_broken"),
    ]
    assert ev.per_request(frame(rows), CATALOGUE["itl"]).tolist() == pytest.approx(
        [0.01, 0.02, 0.03]
    )


def test_from_due_slis_add_how_late_each_request_went_out() -> None:
    rows = [
        row(0, 0.5, ttft=0.1, late=0.0),
        row(1, 0.5, ttft=0.1, late=0.3),  # due at 0.7, sent at 1.0: 0.3 s the user waited
        row(2, 0.5, ttft=None, late=0.2),  # no first token: no ttft from due either
        row(3, 0.5, ttft=0.1, late=0.9, error="timeout"),
    ]
    from_due = ev.per_request(frame(rows), CATALOGUE["ttft_from_due"])
    assert from_due.tolist() == pytest.approx([0.1, 0.4])
    latency = ev.per_request(frame(rows), CATALOGUE["latency_from_due"])
    assert latency.tolist() == pytest.approx([0.5, 0.8, 0.7])
    scenario_slo = slo("late-ttft", "ttft_from_due", "< 200ms", aggregation="max")
    window = ev.EvalWindow(0, 10)
    value, count = ev.client_value(frame(rows), scenario_slo, [scenario_slo], window)
    assert (value, count) == (pytest.approx(0.4), 2)


def test_per_request_refuses_a_whole_run_sli() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        ev.per_request(frame([row()]), CATALOGUE["error_rate"])


# --- client_value --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("p50", 50.5), ("p90", 90.1), ("p95", 95.05), ("p99", 99.01), ("mean", 50.5), ("max", 100)],
)
def test_latency_aggregations_over_1_to_100(aggregation: str, expected: float) -> None:
    rows = [row(i, float(i)) for i in range(1, 101)] + [row(200, 1e6, error="timeout")]
    value, samples = ev.client_value(
        frame(rows), slo("lat", "latency", "< 1s", aggregation), [], WIDE
    )
    assert value == pytest.approx(expected)
    assert samples == 100  # the failed request is not a latency sample


def test_ttft_p95_is_over_requests_that_had_a_first_token() -> None:
    ttfts = [0.05 * i for i in range(1, 41)]
    rows = [row(i, 1.0, ttft=t) for i, t in enumerate(ttfts)] + [row(50, 1.0)] * 5
    value, samples = ev.client_value(frame(rows), slo("t", "ttft", "< 1s"), [], WIDE)
    assert samples == 40
    assert value == pytest.approx(linear_quantile(ttfts, 0.95))


def test_distribution_sli_without_samples_has_no_value() -> None:
    rows = [row(0, 1.0, error="timeout")]
    assert ev.client_value(frame(rows), slo("l", "latency", "< 1s"), [], WIDE) == (None, 0)


def test_error_rate_is_failed_over_all_requests() -> None:
    rows = [row(i) for i in range(17)] + [row(20 + i, error="timeout") for i in range(3)]
    value, samples = ev.client_value(frame(rows), slo("e", "error_rate", "< 1%", "ratio"), [], WIDE)
    assert value == pytest.approx(3 / 20)
    assert samples == 20


def test_error_rate_of_no_requests_has_no_value() -> None:
    empty = frame([])
    assert ev.client_value(empty, slo("e", "error_rate", "< 1%", "ratio"), [], WIDE) == (None, 0)


def test_throughput_counts_successes_over_the_window_length() -> None:
    rows = [row(10 + i * 0.25) for i in range(30)] + [row(11, error="timeout")] * 5
    window = ev.EvalWindow(10.0, 20.0)
    value, samples = ev.client_value(
        frame(rows), slo("r", "throughput_rps", "> 1 rps", "rate"), [], window
    )
    assert value == pytest.approx(30 / 10)
    assert samples == 35


def test_output_tokens_per_s_counts_tokens_of_successes_only() -> None:
    rows = [
        row(0, tokens_out=10),
        row(1, tokens_out=30),
        row(2, tokens_out=None),  # e.g. es_search: no tokens, counts as none
        row(3, tokens_out=500, error="timeout"),
    ]
    value, samples = ev.client_value(
        frame(rows), slo("o", "output_tokens_per_s", "> 1 tok/s", "rate"), [], ev.EvalWindow(0, 4)
    )
    assert value == pytest.approx(40 / 4)
    assert samples == 4


def test_goodput_is_the_share_of_requests_meeting_every_per_request_objective() -> None:
    slos = [
        slo("lat", "latency", "< 1s"),
        slo("ttft", "ttft", "< 200ms"),
        slo("tpot", "tpot", "< 100ms"),
        slo("rag-only", "latency", "< 1ms", scope="rag"),  # scoped: not part of goodput
        slo("itl", "itl", "< 1ms"),  # no per-request value: not part of goodput
        slo("errors", "error_rate", "< 0.1%", "ratio"),  # whole-run: not part of goodput
        slo("good", "goodput", ">= 50%", "ratio"),
    ]
    rows = [
        row(0, 0.3, ttft=0.1, tokens_out=5, itl=[0.5]),  # good: tpot 0.05, itl not judged
        row(1, 1.5, ttft=0.1, tokens_out=100),  # latency too high
        row(2, 0.5, ttft=0.25, tokens_out=100),  # ttft too high
        row(3, 0.8, ttft=0.1, tokens_out=2),  # tpot (0.8 - 0.1) / 1 = 0.7 too high
        row(4, 0.5, kind="es_search"),  # no ttft/tokens: judged on latency only -> good
        row(5, 0.1, ttft=0.05, tokens_out=1),  # one token: no tpot -> good
        row(6, 0.1, ttft=0.05, tokens_out=5, error="http_500"),  # failed
    ]
    frame_ = frame(rows)
    mask = ev.goodput_mask(frame_, slos)
    assert mask.tolist() == [True, False, False, False, True, True, False]
    value, samples = ev.client_value(frame_, slos[-1], slos, WIDE)
    assert value == pytest.approx(3 / 7)
    assert samples == 7


def test_goodput_counts_only_failures_when_no_per_request_objective_exists() -> None:
    slos = [slo("good", "goodput", ">= 50%", "ratio"), slo("lat", "latency", "< 1ms", scope="rag")]
    rows = [row(0, 5.0), row(1, 5.0), row(2, 5.0, error="timeout"), row(3, 5.0)]
    value, _ = ev.client_value(frame(rows), slos[0], slos, WIDE)
    assert value == pytest.approx(3 / 4)


@pytest.mark.parametrize(("objective", "good"), [("< 1s", False), ("<= 1s", True)])
def test_goodput_applies_the_objective_exactly_at_its_threshold(objective: str, good: bool) -> None:
    mask = ev.goodput_mask(frame([row(0, 1.0)]), [slo("lat", "latency", objective)])
    assert mask.tolist() == [good]


def test_goodput_with_a_ttft_objective_when_no_request_had_a_first_token() -> None:
    """Every request failed (or none streamed): ttft_s holds only None. Goodput is still a
    number (0 when all failed, 1 when all succeeded unstreamed), not a crash."""
    slos = [slo("ttft", "ttft", "< 200ms"), slo("good", "goodput", ">= 90%", "ratio")]
    failed = frame([row(i, 0.5, error="connect") for i in range(3)])
    assert ev.client_value(failed, slos[1], slos, WIDE) == (0.0, 3)
    unstreamed = frame([row(i, 0.5, tokens_out=8) for i in range(4)])
    assert ev.client_value(unstreamed, slos[1], slos, WIDE) == (1.0, 4)


def test_goodput_of_no_requests_has_no_value() -> None:
    slos = [slo("good", "goodput", ">= 90%", "ratio")]
    assert ev.client_value(frame([]), slos[0], slos, WIDE) == (None, 0)


# --- in_window -----------------------------------------------------------------------


def test_in_window_keeps_requests_started_within_both_bounds_inclusive() -> None:
    starts = [9.999, 10.0, 15.0, 20.0, 20.001]
    rows = [row(s, 0.1) for s in starts]
    kept = ev.in_window(frame(rows), ev.EvalWindow(10.0, 20.0))
    assert kept["start"].tolist() == [10.0, 15.0, 20.0]


def test_in_window_goes_by_start_not_end() -> None:
    rows = [row(9.0, 2.0), row(19.0, 6.0)]  # ends 11.0 (inside) and 25.0 (outside)
    kept = ev.in_window(frame(rows), ev.EvalWindow(10.0, 20.0))
    assert kept["start"].tolist() == [19.0]


def test_window_length() -> None:
    assert ev.EvalWindow(10.0, 25.0).seconds == 15.0
    assert ev.EvalWindow(5.0, 5.0).seconds > 0  # no division by zero on an empty window


# --- judge ---------------------------------------------------------------------------


LAT = slo("lat", "latency", "< 500ms", warn="< 300ms")


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.2, "pass"), (0.3, "warn"), (0.4, "warn"), (0.5, "fail"), (0.9, "fail")],
)
def test_judge_against_objective_and_warning_level(value: float, verdict: str) -> None:
    assert ev.judge(LAT, value, 50, 20)[0] == verdict


def test_judge_detail_says_what_was_measured_against_what() -> None:
    verdict, detail = ev.judge(LAT, 0.9, 50, 20)
    assert verdict == "fail"
    assert "900 ms" in detail and "< 500ms" in detail and "p95" in detail


def test_without_a_warning_level_a_met_objective_passes() -> None:
    plain = slo("lat", "latency", "< 500ms")
    assert ev.judge(plain, 0.499, 50, 20)[0] == "pass"


def test_higher_is_better_objective() -> None:
    rps = slo("rps", "throughput_rps", ">= 8 rps", "rate", warn=">= 10 rps")
    assert ev.judge(rps, 7.9, 50, 20)[0] == "fail"
    assert ev.judge(rps, 8.0, 50, 20)[0] == "warn"
    assert ev.judge(rps, 10.0, 50, 20)[0] == "pass"


def test_too_few_samples_is_inconclusive_whatever_the_value() -> None:
    for value in (0.1, 0.9):
        verdict, detail = ev.judge(LAT, value, 19, 20)
        assert verdict == "inconclusive"
        assert "19 samples" in detail and "20" in detail
    assert ev.judge(LAT, 0.1, 20, 20)[0] == "pass"  # exactly enough


def test_no_value_is_inconclusive_with_the_reason() -> None:
    assert ev.judge(LAT, None, 0, 20) == ("inconclusive", "no samples in the evaluation window")
    verdict, detail = ev.judge(LAT, None, 500, 20, "no Prometheus URL for this target")
    assert (verdict, detail) == ("inconclusive", "no Prometheus URL for this target")


# --- overall -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "inconclusive_fails", "expected"),
    [
        (["pass", "pass"], True, ("pass", 0)),
        (["pass", "warn"], True, ("warn", 0)),
        (["pass", "warn", "fail"], False, ("fail", 1)),
        (["inconclusive", "fail"], False, ("fail", 1)),
        (["pass", "inconclusive"], True, ("inconclusive", 1)),
        (["pass", "inconclusive", "warn"], False, ("inconclusive", 0)),
    ],
)
def test_overall(verdicts: list[str], inconclusive_fails: bool, expected: tuple) -> None:
    results = [result(f"s{i}", v) for i, v in enumerate(verdicts)]
    assert overall(results, inconclusive_fails) == expected


# --- compare_baseline ----------------------------------------------------------------


def compare(new: SloResult, old_value: float | None, relative: str | None = None) -> SloResult:
    old = result(new.name, "pass", old_value, sli=new.sli, objective=new.objective)
    extra = {"baseline": relative} if relative else {}
    spec = slo(new.name, new.sli, new.objective, CATALOGUE[new.sli].aggregations[0], **extra)
    (out,) = ev.compare_baseline([new], [old], [spec])
    return out


def test_slower_latency_is_a_positive_regression() -> None:
    out = compare(result("lat", "pass", 0.625), 0.5)
    assert out.baseline_value == 0.5
    assert out.regression == pytest.approx(0.25)
    assert out.verdict == "pass"  # no relative objective: reported, not judged


def test_faster_latency_is_a_negative_regression() -> None:
    assert compare(result("lat", "pass", 0.375), 0.5).regression == pytest.approx(-0.25)


def test_lower_throughput_is_a_positive_regression() -> None:
    tput = dict(sli="throughput_rps", objective=">= 8 rps")
    assert compare(result("rps", "pass", 8.0, **tput), 10.0).regression == pytest.approx(0.2)
    assert compare(result("rps", "pass", 12.5, **tput), 10.0).regression == pytest.approx(-0.25)


def test_relative_objective_fails_a_regression_beyond_it() -> None:
    out = compare(result("lat", "pass", 0.625, detail="p95 625 ms meets < 1s"), 0.5, "within 10%")
    assert out.verdict == "fail"
    assert out.detail.startswith("p95 625 ms meets < 1s; +25.0% vs baseline 500 ms")
    assert "within 10%" in out.detail


def test_relative_objective_lets_a_smaller_or_equal_regression_pass() -> None:
    assert compare(result("lat", "pass", 0.53125), 0.5, "within 10%").verdict == "pass"  # +6.25%
    assert compare(result("lat", "pass", 5.0), 4.0, "within 25%").verdict == "pass"  # exactly
    assert compare(result("lat", "pass", 0.25), 0.5, "within 10%").verdict == "pass"  # faster
    assert compare(result("lat", "warn", 0.5), 0.5, "within 0%").verdict == "warn"  # unchanged


def test_relative_objective_on_a_higher_is_better_sli() -> None:
    tput = dict(sli="throughput_rps", objective=">= 1 rps")
    assert compare(result("rps", "pass", 8.5, **tput), 10.0, "within 10%").verdict == "fail"
    assert compare(result("rps", "pass", 9.5, **tput), 10.0, "within 10%").verdict == "pass"
    assert compare(result("rps", "pass", 30.0, **tput), 10.0, "within 10%").verdict == "pass"


def test_relative_objective_leaves_an_inconclusive_result_inconclusive() -> None:
    out = compare(result("lat", "inconclusive", 2.0), 0.5, "within 10%")
    assert out.verdict == "inconclusive"
    assert out.regression == pytest.approx(3.0)


@pytest.mark.parametrize(("new", "old"), [(0.5, 0.0), (0.5, None), (None, 0.5)])
def test_zero_or_missing_values_are_not_compared(new: float | None, old: float | None) -> None:
    original = result("lat", "pass" if new is not None else "inconclusive", new)
    out = compare(original, old, "within 10%")
    assert out == original
    assert out.baseline_value is None and out.regression is None


def test_an_slo_the_baseline_lacks_is_left_alone() -> None:
    new = result("new-slo", "pass", 9.0)
    spec = slo("new-slo", "latency", "< 1s", baseline="within 1%")
    out = ev.compare_baseline([new], [result("other", "pass", 0.1)], [spec])
    assert out == [new]


# --- summarise / summarise_kinds ------------------------------------------------------


OK_LATENCIES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
OK_TTFTS = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, None, None]


def summary_rows() -> list[dict]:
    rows = [
        row(
            10 + i,
            lat,
            ttft=ttft,
            tokens_out=(i + 1) * 2 if ttft is not None else None,
            itl=[0.01 * (i + 1)] if ttft is not None else [],
        )
        for i, (lat, ttft) in enumerate(zip(OK_LATENCIES, OK_TTFTS, strict=True))
    ]
    rows += [row(20, 30.0, error="timeout"), row(21, 0.01, error="http_503")]
    rows += [row(22, 5.0, error="timeout", tokens_out=99)]
    return rows


def test_summarise_counts_and_percentiles() -> None:
    summary = ev.summarise(frame(summary_rows()), ev.EvalWindow(10.0, 14.0))
    assert summary.requests == 11
    assert summary.errors == 3
    assert summary.error_rate == pytest.approx(3 / 11)
    assert summary.throughput_rps == pytest.approx(8 / 4)
    assert summary.errors_by_class == {"timeout": 2, "http_503": 1}
    assert summary.latency_p50 == pytest.approx(0.45)
    assert summary.latency_p95 == pytest.approx(linear_quantile(OK_LATENCIES, 0.95))
    assert summary.latency_p99 == pytest.approx(linear_quantile(OK_LATENCIES, 0.99))
    ttfts = [t for t in OK_TTFTS if t is not None]
    assert summary.ttft_p50 == pytest.approx(0.035)
    assert summary.ttft_p95 == pytest.approx(linear_quantile(ttfts, 0.95))
    assert summary.ttft_p99 == pytest.approx(linear_quantile(ttfts, 0.99))
    # tpot of the streamed rows: (latency - ttft) / (tokens - 1), tokens = 2, 4, ..., 12
    tpots = [(0.1 * (i + 1) - 0.01 * (i + 1)) / ((i + 1) * 2 - 1) for i in range(6)]
    assert summary.tpot_p50 == pytest.approx(linear_quantile(tpots, 0.5))
    itls = [0.01 * (i + 1) for i in range(6)]
    assert summary.itl_p50 == pytest.approx(0.035)
    assert summary.itl_p99 == pytest.approx(linear_quantile(itls, 0.99))
    assert summary.output_tokens_per_s == pytest.approx((2 + 4 + 6 + 8 + 10 + 12) / 4)


def test_summarise_without_tokens_or_streaming() -> None:
    rows = [row(i, 0.2, kind="es_search") for i in range(4)]
    summary = ev.summarise(frame(rows), ev.EvalWindow(0.0, 2.0))
    assert (summary.requests, summary.errors, summary.error_rate) == (4, 0, 0.0)
    assert summary.throughput_rps == pytest.approx(2.0)
    assert summary.errors_by_class == {}
    assert summary.ttft_p95 is None and summary.tpot_p50 is None and summary.itl_p50 is None
    assert summary.output_tokens_per_s is None


def test_summarise_when_everything_failed() -> None:
    rows = [row(i, 1.0, error="connect") for i in range(3)]
    summary = ev.summarise(frame(rows), ev.EvalWindow(0.0, 3.0))
    assert (summary.requests, summary.errors, summary.error_rate) == (3, 3, 1.0)
    assert summary.throughput_rps == 0.0
    assert summary.latency_p50 is None
    assert summary.errors_by_class == {"connect": 3}


def test_summarise_kinds_splits_by_kind_within_the_window() -> None:
    rows = [
        row(1.0, 9.0, kind="chat"),  # warm-up: excluded
        row(5.0, 0.1, kind="chat"),
        row(6.0, 0.3, kind="chat"),
        row(7.0, 0.2, kind="chat", error="timeout"),
        row(8.0, 0.5, kind="rag"),
        row(9.0, 0.7, kind="rag"),
        row(11.0, 9.0, kind="rag"),  # after the end: excluded
    ]
    kinds = ev.summarise_kinds(frame(rows), ev.EvalWindow(5.0, 10.0))
    assert set(kinds) == {"all", "chat", "rag"}
    assert (kinds["all"].requests, kinds["all"].errors) == (5, 1)
    assert (kinds["chat"].requests, kinds["chat"].errors) == (3, 1)
    assert (kinds["rag"].requests, kinds["rag"].errors) == (2, 0)
    assert kinds["chat"].errors_by_class == {"timeout": 1}
    assert kinds["rag"].errors_by_class == {}
    assert kinds["chat"].latency_p50 == pytest.approx(0.2)
    assert kinds["rag"].latency_p50 == pytest.approx(0.6)
    assert kinds["all"].latency_p50 == pytest.approx(0.4)
    assert kinds["all"].throughput_rps == pytest.approx(4 / 5)
    assert kinds["rag"].throughput_rps == pytest.approx(2 / 5)


# --- timeseries ----------------------------------------------------------------------


def test_timeseries_buckets_by_completion_second() -> None:
    rows = [
        row(99.5, end=100.2, ttft=0.1, tokens_out=3),  # started in 99, completed in 100
        row(100.0, end=100.9, ttft=0.3, tokens_out=5),
        row(100.5, end=101.0, tokens_out=None),  # exactly on the second: bucket 101
        row(100.6, end=101.5, error="timeout", tokens_out=50),
        row(103.0, end=103.99, ttft=0.2, tokens_out=7),
    ]
    points = ev.timeseries(frame(rows))
    assert [p.t for p in points] == [100.0, 101.0, 103.0]  # no bucket without completions
    first, second, last = points
    assert (first.requests, first.errors, first.output_tokens) == (2, 0, 8)
    assert first.latency_p50 == pytest.approx((0.7 + 0.9) / 2)
    assert first.latency_p95 == pytest.approx(linear_quantile([0.7, 0.9], 0.95))
    assert first.ttft_p95 == pytest.approx(linear_quantile([0.1, 0.3], 0.95))
    assert (second.requests, second.errors, second.output_tokens) == (2, 1, 0)
    assert second.latency_p50 == pytest.approx(0.5)  # the failed request is not counted
    assert second.ttft_p95 is None
    assert (last.requests, last.errors, last.output_tokens) == (1, 0, 7)


def test_timeseries_of_no_samples_is_empty() -> None:
    assert ev.timeseries(frame([])) == []


def test_timeseries_bucket_of_only_failures_has_no_latency() -> None:
    (point,) = ev.timeseries(frame([row(5.0, 0.5, error="timeout")]))
    assert (point.t, point.requests, point.errors) == (5.0, 1, 1)
    assert point.latency_p50 is None and point.latency_p95 is None


# --- evaluate_slos -------------------------------------------------------------------


def scenario(slos: list[dict], min_samples: int = 3) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "unit",
            "workload": [{"kind": "chat"}, {"kind": "rag"}],
            "load": {"rate": {"rps": 10, "duration": "30s"}},
            "warmup": "5s",
            "slos": slos,
            "gate": {"min_samples": min_samples},
        }
    )


def test_evaluate_slos_judges_each_slo_on_its_scope_and_window() -> None:
    spec = scenario(
        [
            {"name": "lat", "sli": "latency", "aggregation": "max", "objective": "< 1s"},
            {
                "name": "rag-lat",
                "sli": "latency",
                "aggregation": "max",
                "objective": "< 500ms",
                "scope": "rag",
            },
            {"name": "err", "sli": "error_rate", "aggregation": "ratio", "objective": "< 30%"},
            {"name": "queue", "sli": "vllm_queue_length", "aggregation": "max", "objective": "< 5"},
        ]
    )
    rows = [
        row(1.0, 50.0, kind="chat"),  # warm-up: would break every objective
        row(6.0, 0.2, kind="chat"),
        row(7.0, 0.4, kind="chat"),
        row(8.0, 0.6, kind="chat"),
        row(9.0, 0.3, kind="rag"),
        row(10.0, 0.8, kind="rag"),
        row(11.0, 0.1, kind="rag"),
        row(12.0, 0.1, kind="rag", error="timeout"),
    ]
    results = {
        r.name: r
        for r in ev.evaluate_slos(spec, frame(rows), ev.EvalWindow(5.0, 35.0), prometheus=None)
    }
    assert (results["lat"].value, results["lat"].samples, results["lat"].verdict) == (
        pytest.approx(0.8),
        6,
        "pass",
    )
    assert results["lat"].per_kind == {"chat": pytest.approx(0.6), "rag": pytest.approx(0.8)}
    assert (results["rag-lat"].value, results["rag-lat"].samples) == (pytest.approx(0.8), 3)
    assert results["rag-lat"].verdict == "fail"
    assert results["rag-lat"].per_kind == {}  # scoped SLOs are not split further
    assert results["err"].value == pytest.approx(1 / 7)
    assert results["err"].verdict == "pass"
    assert results["queue"].verdict == "inconclusive"
    assert results["queue"].detail == "no Prometheus URL for this target"
