"""When the burn-rate alerts first fire, checked by the real promtool against the SRE
workbook's detection time.

A constant burn rate `b` (bad events `b` times the budget's share) that starts at minute t0
after steady healthy traffic makes a window `w` read a burn rate of b * (minutes of the
incident inside the window) / w. A window pair (long L, short S) at factor f holds when
both read more than f, which a sustained burn first does f * L / b minutes in: the
workbook's detection time (its table: 1000x with 1h/14.4x detects in 0.864 min). Evaluated
every minute, the alert must first fire at the first whole minute past it, and once: one
page and one ticket alert per SLO, whichever of their pairs holds.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from slakit.catalogue import metrics as names
from slakit.generate.alerts import generate_alerts
from slakit.generate.spec import DEFAULT_BURN_RATES
from tests.promtool_cases import alerts_of, at, counter, firing, first_fires_at, run

BUDGET = 0.01  # the SLO: under 1% of gateway requests answer 5xx
PER_MINUTE = 1000  # requests a minute, always
WEEK = 7 * 1440
SPEC = f"""\
name: t
slos:
  - {{name: errors, sli: error_rate, aggregation: ratio, objective: "< {BUDGET:.0%}"}}
"""
PAGE, TICKET = "SloBurnErrorsPage", "SloBurnErrorsTicket"


@dataclass(frozen=True)
class Incident:
    burn: float  # times the budget
    start: int  # minute t0: errors from the next sample on
    minutes: int | None = None  # how long it lasts; None: to the end of the test

    def burn_over(self, t: int, window: int) -> float:
        """The burn rate a window of `window` minutes reads at minute t."""
        end = math.inf if self.minutes is None else self.start + self.minutes
        inside = max(0.0, min(t, end) - max(t - window, self.start))
        return self.burn * inside / window


def _pairs(severity: str) -> list[tuple[float, int, int]]:
    return [
        (r.factor, round(r.long_window / 60), round(r.short_window / 60))
        for r in DEFAULT_BURN_RATES
        if r.severity == severity
    ]


def holding(incident: Incident, t: int, severity: str) -> tuple[float, int] | None:
    """(factor, long window) of the first pair (in rule order) that holds at t, if any."""
    for factor, long_, short in _pairs(severity):
        if incident.burn_over(t, long_) > factor and incident.burn_over(t, short) > factor:
            return factor, long_
    return None


def first_firing(incident: Incident, severity: str, horizon: int) -> int | None:
    return next((t for t in range(horizon) if holding(incident, t, severity)), None)


def workbook_detection(burn: float, severity: str) -> float | None:
    """Minutes to detect a sustained burn: f * L / b of the quickest pair it exceeds."""
    times = [f * long_ / burn for f, long_, _ in _pairs(severity) if burn > f]
    return min(times, default=None)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("timing")
    spec = out / "spec.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    generate_alerts(spec, out)
    return out / "slo.rules.yml"


def series(incident: Incident, until: int) -> list[dict]:
    """Gateway requests: PER_MINUTE a minute, of which burn * BUDGET fail in the incident.
    Large starting values, so every window extrapolates its two counters alike."""
    bad = incident.burn * BUDGET * PER_MINUTE
    lasts = until - incident.start if incident.minutes is None else incident.minutes
    after = until - incident.start - lasts
    request = names.GATEWAY_REQUESTS_TOTAL
    return [
        {
            "series": f'{request}{{route="/v1/chat/completions", status="500"}}',
            "values": counter(1e6, (incident.start, 0), (lasts, bad), (after, 0)),
        },
        {
            "series": f'{request}{{route="/v1/chat/completions", status="200"}}',
            "values": counter(
                1e8,
                (incident.start, PER_MINUTE),
                (lasts, PER_MINUTE - bad),
                (after, PER_MINUTE),
            ),
        },
    ]


def expected(rules: Path, alert: str, incident: Incident, t: int, severity: str) -> dict:
    factor_long = holding(incident, t, severity)
    assert factor_long, f"{alert} is not expected to fire at minute {t}"
    _, long_ = factor_long
    rule = alerts_of(rules)[alert]
    return firing(rule, {"slo": "errors"}, incident.burn_over(t, long_))


def check(rules: Path, tmp: Path, name: str, until: int, incident: Incident, tests: list) -> None:
    problems = run(rules, [{"name": name, "input_series": series(incident, until),
                            "alert_rule_test": tests}], tmp)  # fmt: skip
    assert problems == [], "\n".join(problems)


def _clear_of_the_minute(incident: Incident, t: int, severity: str) -> None:
    """The model's margin at t is not a rounding error away from the threshold."""
    for factor, long_, short in _pairs(severity):
        for window in (long_, short):
            assert abs(incident.burn_over(t, window) - factor) > 1e-6


# burn rate -> the first minute the page fires after the burn began: the workbook's time
# rounded up to the next whole minute (each case avoids a whole-minute detection time).
PAGE_BURNS = [100, 20, 11, 7]
TICKET_BURNS = [3.5, 2.2]


@pytest.mark.parametrize("burn", PAGE_BURNS)
def test_a_sustained_burn_pages_at_the_workbook_detection_time_and_once(
    rules: Path, tmp_path: Path, burn: float
) -> None:
    start = 6 * 60  # six healthy hours first, so the longest page window is full
    incident = Incident(burn, start)
    detect = workbook_detection(burn, "page")
    assert detect is not None and detect != int(detect)
    minute = start + math.floor(detect) + 1
    assert first_firing(incident, "page", 10 * WEEK) == minute
    _clear_of_the_minute(incident, minute - 1, "page")
    _clear_of_the_minute(incident, minute, "page")
    # Later, when both pairs hold (6x over 6h needs 6 * 360 / b minutes), still one page.
    both = start + math.floor(6 * 360 / burn) + 2
    until = max(minute, both) + 1
    tests = [
        *first_fires_at(minute, PAGE, expected(rules, PAGE, incident, minute, "page")),
        at(both, PAGE, [expected(rules, PAGE, incident, both, "page")]),
    ]
    check(rules, tmp_path, f"{burn}x pages at minute {minute - start}", until, incident, tests)


@pytest.mark.parametrize("burn", TICKET_BURNS)
def test_a_slow_burn_opens_one_ticket_at_the_workbook_detection_time_and_no_page(
    rules: Path, tmp_path: Path, burn: float
) -> None:
    start = 3 * 1440  # three healthy days: the longest ticket window is full
    incident = Incident(burn, start)
    detect = workbook_detection(burn, "ticket")
    assert detect is not None and detect != int(detect)
    minute = start + math.floor(detect) + 1
    assert first_firing(incident, "ticket", 10 * WEEK) == minute
    assert first_firing(incident, "page", minute + 1) is None
    _clear_of_the_minute(incident, minute - 1, "ticket")
    _clear_of_the_minute(incident, minute, "ticket")
    tests = [
        *first_fires_at(minute, TICKET, expected(rules, TICKET, incident, minute, "ticket")),
        at(minute, PAGE, []),
    ]
    check(rules, tmp_path, f"{burn}x tickets", minute, incident, tests)


def test_a_short_sharp_burn_pages_then_stops_with_the_short_window(
    rules: Path, tmp_path: Path
) -> None:
    """100x for 15 minutes: pages at 14.4 * 60 / 100 = 8.64 -> minute 9; the 5m window
    falls under 14.4x 14.4 * 5 / 100 = 0.72 minutes before it has slid 5 minutes past the
    end (minute 20), so the page resolves then, not an hour later."""
    start = 6 * 60
    incident = Incident(100, start, minutes=15)
    minute = first_firing(incident, "page", start + 120)
    assert minute == start + 9
    resolved = next(t for t in range(minute, start + 120) if not holding(incident, t, "page"))
    assert resolved == start + 20
    _clear_of_the_minute(incident, resolved - 1, "page")
    _clear_of_the_minute(incident, resolved, "page")
    tests = [
        *first_fires_at(minute, PAGE, expected(rules, PAGE, incident, minute, "page")),
        at(resolved - 1, PAGE, [expected(rules, PAGE, incident, resolved - 1, "page")]),
        at(resolved, PAGE, []),
    ]
    check(rules, tmp_path, "100x for 15 minutes", resolved + 1, incident, tests)


@pytest.mark.parametrize(("burn", "minutes"), [(50, 10), (20, 40), (10, 120)])
def test_a_burn_too_short_to_spend_its_share_of_budget_pages_no_one(
    rules: Path, tmp_path: Path, burn: float, minutes: int
) -> None:
    """50x for 10 minutes, 20x for 40, 10x for 2 hours: none reaches 14.4x over an hour or
    6x over six hours (2%, 5% of a 30-day budget), so no page."""
    start = 6 * 60
    incident = Incident(burn, start, minutes=minutes)
    horizon = start + 7 * 60
    assert first_firing(incident, "page", horizon) is None
    checkpoints = range(start, horizon + 1, 5)
    tests = [at(t, PAGE, []) for t in checkpoints]
    check(rules, tmp_path, f"{burn}x for {minutes}m", horizon, incident, tests)


def test_the_budget_recordings_read_what_was_spent(rules: Path, tmp_path: Path) -> None:
    """After 2 hours at 20x following 6 healthy hours, the 30-day ratio holds every
    request so far: 20 * 1% * 120 of 480 minutes bad; the budget remaining is 1 minus that
    over the budget."""
    start, minutes = 6 * 60, 120
    incident = Incident(20, start, minutes=minutes)
    t = start + minutes
    spent = incident.burn * BUDGET * minutes / t  # the 30d window covers all t minutes
    slo = '{slo="errors"}'
    close = [
        (names.SLO_ERROR_RATIO.format(window="30d"), spent),
        (names.SLO_PERIOD_BURN_RATE, spent / BUDGET),
        (names.SLO_BUDGET_REMAINING, 1 - spent / BUDGET),
        (names.SLO_ERROR_BUDGET, BUDGET),
        (names.SLO_OBJECTIVE, 1 - BUDGET),
        (names.SLO_PERIOD_DAYS, 30),
    ]
    group = {
        "name": "budget recordings",
        "input_series": series(incident, t),
        "promql_expr_test": [
            {
                "expr": f"abs({record}{slo} - {value:.12g}) < bool 1e-9",
                "eval_time": f"{t}m",
                "exp_samples": [{"labels": slo, "value": 1}],
            }
            for record, value in close
        ]
        + [
            {
                "expr": names.SLO_INFO,
                "eval_time": f"{t}m",
                "exp_samples": [
                    {
                        "labels": f'{names.SLO_INFO}{{slo="errors", sli="error_rate", '
                        'aggregation="ratio", objective="< 1%", target="0.99", window="30d"}',
                        "value": 1,
                    }
                ],
            }
        ],
    }
    problems = run(rules, [group], tmp_path)
    assert problems == [], "\n".join(problems)
