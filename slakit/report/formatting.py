"""How a value reads in every report format, decided once.

Report values are in base units (seconds, ratio 0..1, per second); readers want
`812 ms`, `1.25 s`, `0.4%`, `12.5/s`. JUnit, Markdown, HTML and the plots' axes all call
these, so a number never reads one way in the PR comment and another in the HTML.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from slakit.units import Objective, parse_objective

MISSING = "—"  # shown where there is no value (no samples, no data)


def fmt_number(value: float) -> str:
    """Few significant digits, no exponent, no trailing zeros: `1,234`, `12.3`, `0.456`."""
    size = abs(value)
    if size == 0 or not math.isfinite(value):
        return f"{value:g}"
    if size < 0.001:
        return f"{value:.2g}"
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_value(value: float | None, dimension: str) -> str:
    """`value` (base unit of `dimension`) as a reader wants it; MISSING for None."""
    if value is None:
        return MISSING
    if dimension == "seconds":
        if abs(value) < 1:
            return f"{fmt_number(value * 1000)} ms"
        return f"{fmt_number(value)} s"
    if dimension == "ratio":
        return f"{fmt_number(value * 100)}%"
    if dimension == "per_second":
        return f"{fmt_number(value)}/s"
    return fmt_number(value)


def fmt_change(regression: float | None) -> str:
    """Relative change against the baseline, signed: `+12.5%` (worse) or `-3%` (better)."""
    if regression is None:
        return MISSING
    return f"{'+' if regression > 0 else ''}{fmt_number(regression * 100)}%"


def fmt_time(epoch: float) -> str:
    """Epoch seconds as UTC wall time: reports are read far from where they were made."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def verdict_word(verdict: str) -> str:
    """PASS / WARN / FAIL / INCONCLUSIVE: plain words survive every log and CI viewer."""
    return verdict.upper()


def objective_of(text: str) -> Objective | None:
    """The parsed objective, or None if a hand-edited report.json holds one we can't read."""
    try:
        return parse_objective(text)
    except ValueError:
        return None
