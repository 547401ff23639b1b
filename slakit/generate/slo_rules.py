"""SLO rules: each SLO's error ratio recorded over every burn-rate window and its budget
window, the metadata an error-budget panel reads (objective, budget, remaining budget,
info), and one page and one ticket alert per SLO, as the SRE workbook and Sloth write them.

An alert ORs its severity's window pairs: the budget burns `factor` times too fast over the
long window AND the short one (which makes the alert stop soon after the burn does). No
`for:`: the long window already filters blips, and a `for:` would only delay the alert
past the workbook's detection time (issue 11).
"""

from __future__ import annotations

import re

from slakit.catalogue import metrics as names
from slakit.errors import InputError
from slakit.generate.budget import EventSlo
from slakit.generate.checks import PER_INTERVAL, Case, Check, Clock, Series, num, pct
from slakit.generate.spec import Alerting, BurnRate
from slakit.units import prom_duration

SLO_ALERT = "SloBurn{slo}{severity}"  # SloBurnGatewayErrorsPage
SEVERITIES = ("page", "ticket")


def camel(slo_name: str) -> str:
    """`gateway-errors` -> `GatewayErrors`: an SLO's name as part of an alert name."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", slo_name))


def alert_name(slo_name: str, severity: str) -> str:
    return SLO_ALERT.format(slo=camel(slo_name), severity=severity.capitalize())


def windows(alerting: Alerting) -> list[float]:
    """Every long and short window of the burn rates and the budget window, shortest first."""
    pairs = {w for r in alerting.burn_rates for w in (r.long_window, r.short_window)}
    return sorted(pairs | {alerting.budget_window})


def ratio_record(window: float) -> str:
    return names.SLO_ERROR_RATIO.format(window=prom_duration(window))


def _of(record: str, plan: EventSlo) -> str:
    return f'{record}{{{names.SLO_LABEL}="{plan.slo.name}"}}'


def recording_rules(plan: EventSlo, alerting: Alerting, clock: Clock) -> list[dict]:
    """The SLO's error ratio over each window, recorded once for its alerts and panels to
    read, then its metadata (Sloth's set: objective, budget, period, burn rate over the
    period, budget remaining, info)."""
    slo = plan.slo
    labels = {names.SLO_LABEL: slo.name}
    period = ratio_record(alerting.budget_window)
    ratios = [
        {"record": ratio_record(w), "expr": plan.error_ratio(clock.text(w)), "labels": labels}
        for w in windows(alerting)
    ]
    info = {
        **labels,
        "sli": slo.sli,
        "aggregation": slo.aggregation,
        "objective": slo.objective,
        "target": num(1 - plan.budget),
        "window": prom_duration(alerting.budget_window),
    }
    meta = [
        (names.SLO_OBJECTIVE, f"vector({num(1 - plan.budget)})", labels),
        (names.SLO_ERROR_BUDGET, f"vector({num(plan.budget)})", labels),
        (names.SLO_PERIOD_DAYS, f"vector({num(alerting.budget_window / 86400)})", labels),
        (
            names.SLO_PERIOD_BURN_RATE,
            f"{_of(period, plan)} / {_of(names.SLO_ERROR_BUDGET, plan)}",
            labels,
        ),
        (names.SLO_BUDGET_REMAINING, f"1 - {_of(names.SLO_PERIOD_BURN_RATE, plan)}", labels),
        (names.SLO_INFO, "vector(1)", info),
    ]
    return ratios + [{"record": r, "expr": e, "labels": lab} for r, e, lab in meta]


def _pair(plan: EventSlo, rate: BurnRate) -> str:
    budget, factor = num(plan.budget), num(rate.factor)
    long_, short = ratio_record(rate.long_window), ratio_record(rate.short_window)
    return (
        f"(\n  {_of(long_, plan)} / {budget} > {factor}\n  and\n"
        f"  {_of(short, plan)} / {budget} > {factor}\n)"
    )


def _ratio_series(plan: EventSlo, bad_share: float) -> list[Series]:
    """Counters where `bad_share` of the requests are bad events for `plan`."""
    bad = PER_INTERVAL * bad_share
    if plan.bad:  # errors and successes; the total selector sums both
        ok = _series(plan.total, {"status": "200"})
        return [Series(_series(plan.bad), 0, bad), Series(ok, 0, PER_INTERVAL - bad)]
    metric, _, negative = _matchers(plan.good)
    if metric != _matchers(plan.total)[0]:  # a histogram's bucket and its count
        return [
            Series(_series(plan.total), 0, PER_INTERVAL),
            Series(_series(plan.good), 0, PER_INTERVAL - bad),
        ]
    if not negative:
        raise InputError(f"{plan.good}: no test series is total but not good")
    # One metric, good by a negative matcher (`code!~"5.."`): the bad series carries it.
    return [
        Series(_series(plan.good), 0, PER_INTERVAL - bad),
        Series(_series(plan.total, negative), 0, bad),
    ]


def _witness(selector: str, regex: str) -> str:
    """A value the regex matches: its first alternative, `.` read as `0` (`5..` -> `500`)."""
    value = re.sub(r"[()]", "", regex).split("|")[0].replace(".", "0")
    if not re.fullmatch(regex, value):
        raise InputError(f"{selector}: no test series for the regex {regex!r}")
    return value


def _matchers(selector: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The metric, a label set the selector's positive matchers accept, and one its
    negative matchers refuse."""
    metric, _, inner = selector.removesuffix("}").partition("{")
    positive: dict[str, str] = {}
    negative: dict[str, str] = {}
    for matcher in filter(None, (m.strip() for m in inner.split(","))):
        parts = re.fullmatch(r'(\w+)\s*(!=|!~|=~|=)\s*"(.*)"', matcher)
        if parts is None:
            raise InputError(f"{selector}: no test series for the matcher {matcher!r}")
        key, op, value = parts.groups()
        wanted = _witness(selector, value) if op.endswith("~") else value
        (negative if op.startswith("!") else positive)[key] = wanted
    return metric, positive, negative


def _series(selector: str, extra: dict[str, str] | None = None) -> str:
    """A selector as a concrete series (negative matchers: the label left out)."""
    metric, labels, _ = _matchers(selector)
    labels.update(extra or {})
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{body}}}" if body else metric


def _windows_text(rates: list[BurnRate], clock: Clock) -> str:
    return ", or ".join(
        f"above {num(r.factor)}x over both {clock.text(r.long_window)} and "
        f"{clock.text(r.short_window)}"
        for r in rates
    )


def slo_checks(plan: EventSlo, alerting: Alerting, clock: Clock) -> list[Check]:
    """One alert per severity the burn rates use (page, then ticket). `$value` is the long
    window's burn rate of the first pair that holds. Tests: 25% above the severity's
    smallest factor (at most every request bad) fires, 20% below stays silent; the first
    check also checks every recorded ratio and the metadata."""
    checks = []
    for severity in SEVERITIES:
        rates = [r for r in alerting.burn_rates if r.severity == severity]
        if rates:
            first = not checks
            checks.append(_check(plan, severity, rates, alerting, clock, with_samples=first))
    return checks


def _check(
    plan: EventSlo,
    severity: str,
    rates: list[BurnRate],
    alerting: Alerting,
    clock: Clock,
    *,
    with_samples: bool,
) -> Check:
    slo = plan.slo
    lowest = min(r.factor for r in rates)
    fastest = max(rates, key=lambda r: r.factor)
    annotations = {
        "objective": f"{slo.sli} {slo.aggregation} {slo.objective}: {plan.meaning}",
        "burn_rate": "{{ $value | humanize }}",
    }
    if plan.bucket_le:
        annotations["bucket_le"] = plan.bucket_le
    share = min(1.0, lowest * plan.budget * 1.25)
    samples = []
    if with_samples:
        samples = [(_of(ratio_record(w), plan), share) for w in windows(alerting)] + [
            (_of(names.SLO_OBJECTIVE, plan), 1 - plan.budget),
            (_of(names.SLO_ERROR_BUDGET, plan), plan.budget),
            (_of(names.SLO_PERIOD_BURN_RATE, plan), share / plan.budget),
            (_of(names.SLO_BUDGET_REMAINING, plan), 1 - share / plan.budget),
        ]
    gone = clock.text(alerting.budget_window / fastest.factor)
    return Check(
        alert=alert_name(slo.name, severity),
        expr="\nor\n".join(_pair(plan, r) for r in rates),
        for_s=0,
        severity=severity,
        summary=f"SLO {slo.name} is burning its error budget too fast ({severity})",
        description=(
            f"Objective: {plan.meaning}. Bad requests are {{{{ $value | humanize }}}}x the "
            f"budget of {pct(plan.budget)} (alerts {_windows_text(rates, clock)}). At "
            f"{num(fastest.factor)}x the {clock.text(alerting.budget_window)} budget is gone "
            f"in {gone}."
        ),
        runbook=(
            f"The error budget burns too fast (alerts {_windows_text(rates, Clock())}). The `slo` "
            "label names the SLO and `objective` says what it promises; look at the SLI's "
            "panel on the dashboard and at what changed when the burn began (deploys, load, "
            "the engine's queue and KV cache, Elasticsearch)."
        ),
        ranged=True,
        fires=[Case(_ratio_series(plan, share), value=share / plan.budget, samples=samples)],
        healthy=[_ratio_series(plan, lowest * plan.budget * 0.8)],
        labels={names.SLO_LABEL: slo.name},
        annotations=annotations,
    )
