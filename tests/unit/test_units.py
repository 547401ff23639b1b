"""Durations and objectives as scenario files write them: strict parsing, exact scaling,
and comparisons that behave exactly at the written threshold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slakit.units import Objective, parse_duration, parse_objective, stricter

# --- parse_duration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("1ms", 0.001),
        ("0ms", 0.0),
        ("30s", 30.0),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("0.5m", 30.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        (" 30 s ", 30.0),  # blanks around and between are tolerated
    ],
)
def test_parse_duration_scales_each_unit_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bare", [30, 0, 1.5, True, None])
def test_parse_duration_refuses_a_number_without_a_unit(bare: object) -> None:
    with pytest.raises(ValueError, match="unit"):
        parse_duration(bare)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "garbage",
    ["", "30", "s", "ms", "-5s", "5sec", "5 seconds", "1e3ms", "5d", "1.s", ".5s", "5s5"],
)
def test_parse_duration_refuses_garbage(garbage: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(garbage)


@given(st.integers(min_value=0, max_value=10**9))
def test_milliseconds_scale_exactly(n: int) -> None:
    """'700ms' is the float nearest 0.7, the same value a user would write as '0.7s'."""
    assert parse_duration(f"{n}ms") == n / 1000


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999))
def test_ms_and_s_spellings_of_one_duration_agree(whole: int, millis: int) -> None:
    assert parse_duration(f"{whole * 1000 + millis}ms") == parse_duration(f"{whole}.{millis:03d}s")


# --- parse_objective -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "threshold", "dimension"),
    [
        ("< 500ms", "<", 0.5, "seconds"),
        ("<= 2s", "<=", 2.0, "seconds"),
        ("< 2m", "<", 120.0, "seconds"),
        (">= 99.5%", ">=", 0.995, "ratio"),
        ("< 1%", "<", 0.01, "ratio"),
        ("<= 100%", "<=", 1.0, "ratio"),
        ("> 20 rps", ">", 20.0, "per_second"),
        ("> 5 req/s", ">", 5.0, "per_second"),
        (">= 150 tok/s", ">=", 150.0, "per_second"),
        ("> 3/s", ">", 3.0, "per_second"),
        ("< 4", "<", 4.0, "number"),
        ("<0.25", "<", 0.25, "number"),
    ],
)
def test_parse_objective(text: str, op: str, threshold: float, dimension: str) -> None:
    objective = parse_objective(text)
    assert (objective.op, objective.threshold, objective.dimension) == (op, threshold, dimension)
    assert objective.text == text


def test_parse_objective_ignores_case_and_outer_blanks_but_keeps_the_text() -> None:
    objective = parse_objective("  <= 250MS ")
    assert (objective.op, objective.threshold, objective.dimension) == ("<=", 0.25, "seconds")
    assert objective.text == "<= 250MS"


@given(st.integers(min_value=0, max_value=1000))
def test_percentages_in_tenths_scale_exactly(tenths: int) -> None:
    """'>= 99.9%' is the float nearest 0.999: a measured 999/1000 meets it."""
    objective = parse_objective(f">= {tenths // 10}.{tenths % 10}%")
    assert objective.threshold == tenths / 1000
    assert objective.holds(tenths / 1000)


@pytest.mark.parametrize("text", ["< 100.1%", "<= 101%", "> 250%"])
def test_a_percentage_over_100_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="cannot exceed 100%"):
        parse_objective(text)


@pytest.mark.parametrize("text", ["< 5 parsecs", "< 5kb", "> 5 rpm", "< 1h", "< 5 ms/s"])
def test_an_unknown_unit_is_refused_and_named(text: str) -> None:
    with pytest.raises(ValueError, match="unknown unit") as raised:
        parse_objective(text)
    assert "rps" in str(raised.value)  # the message lists what is accepted


@pytest.mark.parametrize(
    "text", ["500ms", "= 5", "== 5", "=< 5", "<< 5", "< -5ms", "< ms", "<", "", "< 5 5"]
)
def test_an_objective_without_a_comparison_and_a_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected an objective"):
        parse_objective(text)


@pytest.mark.parametrize("text", ["< 0ms", "< 0s", "< 0%", "< 0.0%", "> 100%", "< 0 rps", "< 0"])
def test_an_objective_no_measured_value_can_meet_is_refused(text: str) -> None:
    """SLI values are never below 0 and ratios never above 100%: the gate would always fail."""
    with pytest.raises(ValueError, match="no measured value can meet"):
        parse_objective(text)


@pytest.mark.parametrize("text", ["<= 0ms", "<= 0%", ">= 100%", "> 0 rps", "<= 100%", ">= 0%"])
def test_an_objective_at_the_edge_of_the_range_is_allowed(text: str) -> None:
    """Zero errors, all requests good, any throughput at all; and ones that always hold
    (they record a value without gating on it)."""
    parse_objective(text)


@pytest.mark.parametrize("text", ["< " + "9" * 400 + "ms", "1" + "0" * 400 + "s"])
def test_a_number_too_large_for_a_float_is_refused(text: str) -> None:
    parse = parse_objective if text.startswith("<") else parse_duration
    with pytest.raises(ValueError, match="too large"):
        parse(text)


@pytest.mark.parametrize(
    ("warn", "objective", "is_stricter"),
    [
        ("< 250ms", "< 500ms", True),
        ("< 800ms", "< 500ms", False),  # would warn only about values that already fail
        ("< 500ms", "< 500ms", False),  # would never warn
        ("< 500ms", "<= 500ms", True),  # the threshold itself passes but warns
        ("<= 500ms", "< 500ms", False),
        (">= 99.9%", ">= 99%", True),
        (">= 98%", ">= 99%", False),
        ("> 20 rps", ">= 20 rps", True),
        ("> 1s", "< 2s", False),  # points the other way
    ],
)
def test_a_warning_level_must_trip_before_its_objective(
    warn: str, objective: str, is_stricter: bool
) -> None:
    assert stricter(parse_objective(warn), parse_objective(objective)) is is_stricter


@pytest.mark.parametrize("value", [5, 0.5, None])
def test_parse_objective_refuses_non_text(value: object) -> None:
    with pytest.raises(ValueError, match="expected an objective"):
        parse_objective(value)  # type: ignore[arg-type]


# --- Objective.holds and higher_is_better ---------------------------------------------

T = 0.5
BELOW, ABOVE = math.nextafter(T, -math.inf), math.nextafter(T, math.inf)


@pytest.mark.parametrize(
    ("op", "below", "at", "above"),
    [
        ("<", True, False, False),
        ("<=", True, True, False),
        (">", False, False, True),
        (">=", False, True, True),
    ],
)
def test_holds_at_and_either_side_of_the_threshold(
    op: str, below: bool, at: bool, above: bool
) -> None:
    objective = Objective(op, T, "seconds", f"{op} 500ms")
    assert objective.holds(BELOW) is below
    assert objective.holds(T) is at
    assert objective.holds(ABOVE) is above
    assert objective.holds(-1.0) is below
    assert objective.holds(1e9) is above


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("< 500ms", 0.5, False),
        ("<= 500ms", 0.5, True),
        ("< 700ms", 0.7, False),  # exactly at a threshold that is inexact in binary
        ("<= 700ms", 0.7, True),
        (">= 95%", 95 / 100, True),  # 95 of 100 requests good meets ">= 95%"
        (">= 99.9%", 999 / 1000, True),
        (">= 99.9%", 998 / 1000, False),
        ("< 1%", 1 / 100, False),
        ("> 20 rps", 20.0, False),
        ("> 20 rps", 20.01, True),
    ],
)
def test_parsed_objectives_compare_as_written(text: str, value: float, holds: bool) -> None:
    assert parse_objective(text).holds(value) is holds


def test_nan_never_holds() -> None:
    for op in ("<", "<=", ">", ">="):
        assert not Objective(op, T, "seconds", "").holds(math.nan)


@pytest.mark.parametrize(
    ("text", "higher"),
    [("> 20 rps", True), (">= 99.5%", True), ("< 500ms", False), ("<= 1%", False)],
)
def test_higher_is_better_follows_the_comparison(text: str, higher: bool) -> None:
    assert parse_objective(text).higher_is_better is higher
