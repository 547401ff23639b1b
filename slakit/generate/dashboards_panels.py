"""The SLO overview dashboard as data: each SLO against its objective, its burn rate,
error budget and firing alerts, counted as the alert rules count them.

The component dashboards (vLLM, gateway, Elasticsearch, GPU) are catalogue data
(`slakit/catalogue/panels.py`); `dashboards.py` turns both into Grafana's models.
"""

from __future__ import annotations

from slakit.catalogue import metrics as m
from slakit.catalogue.panels import (
    COMPONENTS,
    GREEN,
    ORANGE,
    RED,
    TOKENS_PER_SECOND,
    DashboardDef,
    PanelDef,
    rate,
    sel,
)
from slakit.generate import budget
from slakit.generate.spec import Alerting, BurnRate, prom_duration
from slakit.scenario import Slo
from slakit.sli import CATALOGUE, PERCENTILES, Sli, render
from slakit.units import Objective, parse_objective

SLO_LABEL = m.SLO_LABEL  # the label slakit's alert rules put on an SLO's alerts

# Grafana unit ids by SLI dimension.
UNITS = {"seconds": "s", "ratio": "percentunit", "per_second": "reqps", "number": "short"}
BURN_UNIT = "suffix:×"  # a burn rate is a multiple of the sustainable rate
BUDGET_STEPS = ((None, RED), (0.0, ORANGE), (0.25, GREEN))  # spent; under a quarter left


def _firing(*matchers: str) -> str:
    """Prometheus' own series of the alerts firing now."""
    return "ALERTS" + sel('alertstate="firing"', *matchers)


# --- SLO overview ---------------------------------------------------------------------

# Client-side SLIs, drawn from the nearest server-side measurement of the same requests:
# the gateway sees what the client sees minus the network; TPOT is approximated by vLLM's
# inter-token latency. The report judges them from the load generator's samples.
_CLIENT_HISTOGRAMS = {
    "latency": (m.GATEWAY_STAGE_LATENCY, sel('stage="total"')),
    "ttft": (m.GATEWAY_TIME_TO_FIRST_TOKEN, ""),
    "itl": (m.VLLM_INTER_TOKEN_LATENCY, ""),
    "tpot": (m.VLLM_INTER_TOKEN_LATENCY, ""),
}
_OK = sel('status=~"2.."')
_OUT = sel('direction="out"')
_CLIENT_RATES = {
    "throughput_rps": f"sum({rate(m.GATEWAY_REQUESTS_TOTAL, _OK)})",
    "output_tokens_per_s": f"sum({rate(m.GATEWAY_TOKENS_TOTAL, _OUT)})",
}


def event_plan(slo: Slo, max_factor: float) -> tuple[budget.EventSlo | None, str]:
    """The SLO's events and error budget exactly as the alert rules count them, or None and
    why it has none (client-only, scoped, a gauge, a mean)."""
    try:
        return budget.plan(slo, max_factor), ""
    except budget.Unalertable as exc:
        return None, str(exc)


def bad_share(plan: budget.EventSlo, window: str) -> str:
    """The alert rules' error ratio, shown as 0 while no event is bad (the rules' own
    expression has no series then, which a dashboard would draw as "no data")."""
    return f"({plan.error_ratio(window)}) or (0 * sum(rate({plan.total}[{window}])))"


def sli_promql(slo: Slo, plan: budget.EventSlo | None) -> str | None:
    """PromQL for the SLO's SLI as a dashboard draws it; None when only the client can
    measure it (goodput is judged per request against every objective at once)."""
    sli = CATALOGUE[slo.sli]
    if sli.side == "server":
        if sli.histogram:
            return render(sli.promql, PERCENTILES[slo.aggregation], "$__rate_interval")
        queries = (sli.promql, *sli.alternatives)
        if sli.counted:
            queries = tuple(render(q, window="$__rate_interval") for q in queries)
        return " or ".join(queries)
    if plan is not None:  # error_rate: counted at the gateway, as its alert does
        return bad_share(plan, "$__rate_interval")
    if slo.sli in _CLIENT_HISTOGRAMS:
        metric, selector = _CLIENT_HISTOGRAMS[slo.sli]
        if slo.aggregation == "mean":
            return (
                f"sum({rate(metric + '_sum', selector)}) / sum({rate(metric + '_count', selector)})"
            )
        q = PERCENTILES.get(slo.aggregation, 1.0)  # max: the top bucket's edge
        return f"histogram_quantile({q}, sum by (le) ({rate(metric + '_bucket', selector)}))"
    return _CLIENT_RATES.get(slo.sli)


def objective_steps(objective: Objective, warn: Objective | None) -> tuple:
    """Grafana threshold steps: red beyond the objective, orange between warn and objective."""
    if objective.higher_is_better:
        steps = [(None, RED), (objective.threshold, ORANGE if warn else GREEN)]
        return tuple(steps + ([(warn.threshold, GREEN)] if warn else []))
    steps = [(None, GREEN)] + ([(warn.threshold, ORANGE)] if warn else [])
    return tuple(steps + [(objective.threshold, RED)])


def _unit(sli: Sli) -> str:
    return TOKENS_PER_SECOND if sli.name == "output_tokens_per_s" else UNITS[sli.dimension]


def fastest_burn(alerting: Alerting) -> BurnRate:
    """The burn rate the burn-rate panels draw: the alerts' highest factor (the fast page)."""
    return max(alerting.burn_rates, key=lambda rate: rate.factor)


def slo_panels(slo: Slo, burn: BurnRate, max_factor: float) -> tuple[PanelDef, ...]:
    """The SLI against its objective; for an SLO with an error budget (and so alerts) also
    the burn rate over `burn`'s two windows (red at its factor), the budget left and the
    SLO's firing alerts."""
    plan, no_budget = event_plan(slo, max_factor)
    promql = sli_promql(slo, plan)
    if promql is None:
        return ()
    sli = CATALOGUE[slo.sli]
    warn = parse_objective(slo.warn) if slo.warn else None
    notes = [f"SLO {slo.name}: {slo.sli} {slo.aggregation} {slo.objective}."]
    if sli.side == "client":
        notes.append("Server-side view of a client-side SLI.")
    if plan is None:
        notes.append(f"No error budget or burn-rate alert: {no_budget}.")
    shown = "" if slo.aggregation in ("ratio", "rate") else f" {slo.aggregation}"
    sli_panel = PanelDef(
        f"{slo.name}: {sli.title}{shown} (objective {slo.objective})",
        _unit(sli),
        ((promql, slo.aggregation),),
        thresholds=objective_steps(parse_objective(slo.objective), warn),
        description=" ".join(notes),
        width=24 if plan is None else 10,
    )
    if plan is None:
        return (sli_panel,)
    windows = [prom_duration(w) for w in (burn.short_window, burn.long_window)]
    alerts = _firing(f'{SLO_LABEL}="{slo.name}"')
    return (
        sli_panel,
        PanelDef(
            f"{slo.name}: burn rate",
            BURN_UNIT,
            tuple((f"({bad_share(plan, w)}) / {plan.budget:g}", w) for w in windows),
            thresholds=((None, GREEN), (1.0, ORANGE), (burn.factor, RED)),
            description=f"Bad events over the error budget ({plan.budget:g}): 1 spends it "
            f"exactly over the SLO period; the {burn.severity} alert fires when both windows "
            f"exceed {burn.factor:g}. Objective: {plan.meaning}.",
            width=8,
        ),
        PanelDef(
            f"{slo.name}: error budget left",
            "percentunit",
            ((f"1 - ({bad_share(plan, '$__range')}) / {plan.budget:g}", "left"),),
            thresholds=BUDGET_STEPS,
            kind="stat",
            description=f"Over the dashboard's time range. Objective: {plan.meaning}.",
            width=3,
        ),
        PanelDef(
            f"{slo.name}: firing alerts",
            "short",
            ((f"count({alerts}) or vector(0)", "firing"),),
            thresholds=((None, GREEN), (1.0, RED)),
            kind="stat",
            width=3,
        ),
    )


def slo_overview(slos: list[Slo], alerting: Alerting) -> DashboardDef:
    """The spec's SLOs; those only the load generator can judge are listed, not drawn."""
    burn = fastest_burn(alerting)
    max_factor = max((r.factor for r in alerting.burn_rates), default=1.0)
    panels = {slo.name: slo_panels(slo, burn, max_factor) for slo in slos}
    skipped = ", ".join(name for name, drawn in panels.items() if not drawn)
    return DashboardDef(
        uid="slakit-slo",
        title="SLO overview",
        instance_query="up",
        description="Each SLO of the spec against its objective, with the error budget and "
        "burn rate its alerts use."
        + (f" Judged by the load generator only, not drawn: {skipped}." if skipped else ""),
        panels=(
            PanelDef(
                "Firing alerts",
                "short",
                ((f"count({_firing()}) or vector(0)", "firing"),),
                thresholds=((None, GREEN), (1.0, RED)),
                kind="stat",
                width=24,
            ),
            *(panel for drawn in panels.values() for panel in drawn),
        ),
    )


def dashboards(slos: list[Slo], alerting: Alerting | None = None) -> list[DashboardDef]:
    """Every dashboard: the components', then the SLO overview of `slos` (burn rates as
    `alerting` defines them, the spec's defaults if None)."""
    return [*COMPONENTS, slo_overview(slos, alerting or Alerting())]
