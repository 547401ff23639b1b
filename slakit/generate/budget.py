"""How an SLO becomes good/bad events and an error budget that Prometheus can count.

A burn-rate alert needs a ratio of events, so:

- a latency SLO on a histogram, `vllm_ttft p95 < 500ms`, means "95% of requests take under
  500 ms": bad events are requests above the bucket edge, the budget is 5%. When 500 ms is
  not an edge, the nearest edge BELOW it is used: requests between that edge and the
  threshold count as bad, so the alert may fire a little early but never late. The edge is
  stated in the alert's annotations.
- an error-ratio SLO, `error_rate ratio < 1%`, has a budget of 1% of requests. slakit's
  error-rate SLI is measured by the load generator; in production the same requests pass
  the gateway, so its alert counts the gateway's 5xx answers (streams that broke after
  `200` are counted as 502 there).

Gauges (queue length, KV-cache use) have no events to budget: alert on them with the
`resources` thresholds instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from slakit.catalogue import metrics as names
from slakit.scenario import Slo
from slakit.sli import CATALOGUE, PERCENTILES
from slakit.units import parse_objective


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.6g}%"


class Unalertable(ValueError):
    """An SLO that cannot be turned into burn-rate alerts; `field` is the Slo field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Skipped:
    """An SLO of a scenario file that gets no alert, and why (in an SLO spec: an error)."""

    slo: Slo
    reason: str


@dataclass(frozen=True)
class EventSlo:
    """An SLO as counters: the share of `bad` (or not `good`) among `total` events.

    Selectors are counter series without `rate()`; `error_ratio` wraps them for a window.
    """

    slo: Slo
    budget: float  # allowed share of bad events, 0..1
    total: str
    good: str = ""
    bad: str = ""
    meaning: str = ""  # the objective in words, for annotations
    bucket_le: str = ""  # latency SLOs: the bucket edge judged (as the `le` label writes it)

    def error_ratio(self, window: str) -> str:
        total = f"sum(rate({self.total}[{window}]))"
        if self.bad:
            return f"sum(rate({self.bad}[{window}])) / {total}"
        return f"1 - sum(rate({self.good}[{window}])) / {total}"


def plan(slo: Slo, max_factor: float) -> EventSlo:
    """Map `slo` to events; Unalertable if it has none, or if its budget burnt `max_factor`
    times (the largest burn-rate factor) would be every request: that alert could not fire."""
    sli = CATALOGUE[slo.sli]
    if slo.scope is not None:
        raise Unalertable("scope", "scoped to a request kind; server metrics are not per kind")
    if slo.turn is not None:
        raise Unalertable("turn", "scoped to turns; server metrics are not per turn")
    if slo.sli == "error_rate":
        events = _error_ratio(slo)
    elif sli.side == "client":
        alertable = sorted(n for n, s in CATALOGUE.items() if s.histogram) + ["error_rate"]
        raise Unalertable(
            "sli",
            f"sli {slo.sli!r} is measured by the load generator, not Prometheus; "
            f"alerts can use {', '.join(alertable)}",
        )
    elif sli.counted:
        raise Unalertable(
            "sli",
            f"sli {slo.sli!r} is a share of tokens over a run window, with no failing "
            "requests to spend a budget on; judge it in a scenario",
        )
    elif not sli.histogram:
        raise Unalertable(
            "sli",
            f"sli {slo.sli!r} is a gauge, with no events to spend a budget on; "
            "alert on it with a `resources` threshold",
        )
    else:
        events = _latency(slo)
    if max_factor * events.budget >= 1:
        raise Unalertable(
            "aggregation",
            f"a budget of {_pct(events.budget)} burnt {max_factor:g}x is every request: that "
            "alert could never fire; use a higher percentile or smaller burn-rate factors",
        )
    return events


def _error_ratio(slo: Slo) -> EventSlo:
    objective = parse_objective(slo.objective)
    if objective.higher_is_better:
        raise Unalertable("objective", "an error-ratio objective reads '< 1%'")
    total = names.GATEWAY_REQUESTS_TOTAL
    return EventSlo(
        slo,
        budget=objective.threshold,
        total=total,
        bad=f'{total}{{status=~"{names.SERVER_ERROR_STATUS}"}}',
        meaning=f"under {_pct(objective.threshold)} of gateway requests answer 5xx",
    )


def _latency(slo: Slo) -> EventSlo:
    if slo.aggregation not in PERCENTILES:
        raise Unalertable(
            "aggregation",
            f"a {slo.aggregation!r} has no share of requests to budget; "
            f"use a percentile ({', '.join(PERCENTILES)})",
        )
    objective = parse_objective(slo.objective)
    if objective.higher_is_better:
        raise Unalertable("objective", "a latency objective reads '< 500ms'")
    count = CATALOGUE[slo.sli].histogram  # e.g. `name_count{stage="total"}`
    metric, _, selector = count.removesuffix("}").partition("{")
    metric = metric.removesuffix("_count")
    edges = [e for e in names.HISTOGRAM_BUCKETS[metric] if e <= objective.threshold]
    if not edges:
        raise Unalertable(
            "objective",
            f"{slo.objective!r} is below the smallest bucket of {metric} "
            f"({names.HISTOGRAM_BUCKETS[metric][0]:g} s)",
        )
    le = floatToGoString(edges[-1])
    share = PERCENTILES[slo.aggregation]
    bucket_selector = ", ".join(filter(None, [selector, f'le="{le}"']))
    return EventSlo(
        slo,
        budget=round(1 - share, 6),
        total=count,
        good=f"{metric}_bucket{{{bucket_selector}}}",
        meaning=f"{_pct(share)} of requests take at most {edges[-1]:g} s"
        + (
            "" if edges[-1] == objective.threshold else f" (the bucket edge below {objective.text})"
        ),
        bucket_le=le,
    )
