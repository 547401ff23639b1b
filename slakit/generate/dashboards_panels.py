"""Dashboard panels as plain data: title, unit, PromQL with legends, thresholds.

Grafana's dashboards are built from these definitions (`dashboards.py`), and the HTML
report can draw the same panels over a run's window with `bind`, so a panel is written
once. Metric names come from the modules that define them (vLLM's and the gateway's
metrics, `names.py` for the exporters, the SLI catalogue); queries use Grafana's variables
`$instance`, `$model`, `$__rate_interval` and `$__range`.
"""

from __future__ import annotations

from dataclasses import dataclass

from slakit.generate import budget, names
from slakit.generate.spec import Alerting, BurnRate, prom_duration
from slakit.scenario import Slo
from slakit.sli import CATALOGUE, PERCENTILES, Sli, render
from slakit.stack import vllm_metrics as vm
from slakit.gateway import metrics as gm
from slakit.units import Objective, parse_objective

SLO_LABEL = "slo"  # the label slakit's alert rules put on an SLO's alerts

VAR_DATASOURCE = "datasource"
VAR_INSTANCE = "instance"
VAR_MODEL = "model"
MODEL_LABEL = vm.LABELS[0]

# Grafana unit ids by SLI dimension.
UNITS = {"seconds": "s", "ratio": "percentunit", "per_second": "reqps", "number": "short"}
TOKENS_PER_SECOND = "suffix: tok/s"

GREEN, ORANGE, RED = "green", "orange", "red"
BURN_UNIT = "suffix:×"  # a burn rate is a multiple of the sustainable rate
BUDGET_STEPS = ((None, RED), (0.0, ORANGE), (0.25, GREEN))  # spent; under a quarter left


@dataclass(frozen=True)
class PanelDef:
    """One panel. `thresholds` are Grafana's steps: the first has value None (the base)."""

    title: str
    unit: str  # a Grafana unit id
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    thresholds: tuple[tuple[float | None, str], ...] = ()
    kind: str = "timeseries"  # timeseries | stat
    description: str = ""
    width: int = 12  # of Grafana's 24 columns


@dataclass(frozen=True)
class DashboardDef:
    uid: str
    title: str
    instance_query: str  # the series whose `instance` values the variable offers
    panels: tuple[PanelDef, ...]
    description: str = ""


def bind(
    promql: str, *, rate_interval: str, range_: str, instance: str = ".*", model: str = ".*"
) -> str:
    """Substitute the dashboard variables, for running a panel's query outside Grafana."""
    return (
        promql.replace("$__rate_interval", rate_interval)
        .replace("$__range", range_)
        .replace(f"${VAR_INSTANCE}", instance)
        .replace(f"${VAR_MODEL}", model)
    )


def _sel(*matchers: str) -> str:
    inner = ",".join(m for m in matchers if m)
    return "{" + inner + "}" if inner else ""


INSTANCE = f'instance=~"${VAR_INSTANCE}"'
VLLM = _sel(f'{MODEL_LABEL}=~"${VAR_MODEL}"', INSTANCE)
ANY = _sel(INSTANCE)


def _firing(*matchers: str) -> str:
    """Prometheus' own series of the alerts firing now."""
    return "ALERTS" + _sel('alertstate="firing"', *matchers)


def _rate(metric: str, selector: str = ANY, window: str = "$__rate_interval") -> str:
    return f"rate({metric}{selector}[{window}])"


def _quantiles(
    metric: str, selector: str, by: str = "", qs: tuple[str, ...] = ("p50", "p95", "p99")
) -> tuple[tuple[str, str], ...]:
    """histogram_quantile per percentile, one query each, legend `pXX` (prefixed by `by`)."""
    keys = ", ".join(filter(None, ("le", by)))
    prefix = f"{{{{{by}}}}} " if by else ""
    return tuple(
        (
            f"histogram_quantile({PERCENTILES[q]}, sum by ({keys}) "
            f"({_rate(metric + '_bucket', selector)}))",
            f"{prefix}{q}",
        )
        for q in qs
    )


# --- vLLM -----------------------------------------------------------------------------

VLLM_DASHBOARD = DashboardDef(
    uid="slakit-vllm",
    title="LLM serving (vLLM)",
    instance_query=vm.NUM_REQUESTS_RUNNING,
    description="vLLM's own metrics (names as exposed by vLLM 0.32; KV cache also under the "
    "pre-V1 name).",
    panels=(
        PanelDef(
            "Finished requests",
            "reqps",
            (
                (
                    f"sum by ({vm.FINISHED_REASON_LABEL}) "
                    f"({_rate(vm.REQUEST_SUCCESS_TOTAL, VLLM)})",
                    f"{{{{{vm.FINISHED_REASON_LABEL}}}}}",
                ),
            ),
        ),
        PanelDef("Time to first token", "s", _quantiles(vm.TIME_TO_FIRST_TOKEN, VLLM)),
        PanelDef("Inter-token latency", "s", _quantiles(vm.INTER_TOKEN_LATENCY, VLLM)),
        PanelDef("End-to-end request latency", "s", _quantiles(vm.E2E_REQUEST_LATENCY, VLLM)),
        PanelDef("Time in queue", "s", _quantiles(vm.REQUEST_QUEUE_TIME, VLLM)),
        PanelDef(
            "Running and waiting requests",
            "short",
            (
                (f"sum({vm.NUM_REQUESTS_RUNNING}{VLLM})", "running"),
                (f"sum({vm.NUM_REQUESTS_WAITING}{VLLM})", "waiting"),
            ),
        ),
        PanelDef(
            "KV-cache usage",
            "percentunit",
            (
                (
                    f"max by (instance) ({vm.KV_CACHE_USAGE_PERC}{VLLM} "
                    f"or {vm.GPU_CACHE_USAGE_PERC}{VLLM})",
                    "{{instance}}",
                ),
            ),
            thresholds=((None, GREEN), (0.8, ORANGE), (0.95, RED)),
        ),
        PanelDef(
            "Tokens per second",
            TOKENS_PER_SECOND,
            (
                (f"sum({_rate(vm.PROMPT_TOKENS_TOTAL, VLLM)})", "prompt"),
                (f"sum({_rate(vm.GENERATION_TOKENS_TOTAL, VLLM)})", "generation"),
            ),
        ),
        PanelDef(
            "Preemptions",
            "ops",
            ((f"sum({_rate(vm.NUM_PREEMPTIONS_TOTAL, VLLM)})", "preemptions"),),
            description="Requests evicted from the batch for lack of KV-cache blocks.",
        ),
    ),
)

# --- RAG gateway ----------------------------------------------------------------------

_OK = 'status=~"2.."'
_ERRORS = f'status=~"{budget.SERVER_ERROR_STATUS}"'  # as the alerts count (502: broken stream)
_OUT = 'direction="out"'


# Share of gateway requests answered 5xx by route, present (as 0) while nothing fails:
# every series of the denominator is in the numerator, at 0 if it had no error.
_TOTAL = _rate(gm.REQUESTS_TOTAL)
ERRORS_BY_ROUTE = (
    f"sum by (route) ({_rate(gm.REQUESTS_TOTAL, _sel(INSTANCE, _ERRORS))} or {_TOTAL} * 0)"
    f" / sum by (route) ({_TOTAL})"
)


GATEWAY_DASHBOARD = DashboardDef(
    uid="slakit-gateway",
    title="RAG gateway",
    instance_query=gm.IN_FLIGHT,
    description="slakit's OpenAI-compatible gateway: per-route traffic and per-stage latency.",
    panels=(
        PanelDef(
            "Requests by route and status",
            "reqps",
            (
                (
                    f"sum by (route, status) ({_rate(gm.REQUESTS_TOTAL)})",
                    "{{route}} {{status}}",
                ),
            ),
        ),
        PanelDef(
            "Error ratio by route",
            "percentunit",
            ((ERRORS_BY_ROUTE, "{{route}}"),),
            thresholds=((None, GREEN), (0.01, RED)),
            description="Answers 5xx, streams that broke after 200 included (as 502).",
        ),
        PanelDef("Stage latency", "s", _quantiles(gm.STAGE_LATENCY, ANY, "stage", ("p50", "p95"))),
        PanelDef(
            "Time to first token by route",
            "s",
            _quantiles(gm.TIME_TO_FIRST_TOKEN, ANY, "route", ("p50", "p95")),
        ),
        PanelDef(
            "Tokens per second",
            TOKENS_PER_SECOND,
            ((f"sum by (direction) ({_rate(gm.TOKENS_TOTAL)})", "{{direction}}"),),
        ),
        PanelDef(
            "In-flight requests",
            "short",
            ((f"sum by (route) ({gm.IN_FLIGHT}{ANY})", "{{route}}"),),
        ),
        PanelDef(
            "Retrieval",
            "short",
            (
                (
                    f"sum({_rate(gm.RETRIEVED_DOCUMENTS + '_sum')}) / "
                    f"sum({_rate(gm.RETRIEVED_DOCUMENTS + '_count')})",
                    "documents per query",
                ),
                (f"sum({_rate(gm.EMPTY_RETRIEVALS_TOTAL)})", "empty retrievals/s"),
            ),
        ),
    ),
)

# --- Elasticsearch --------------------------------------------------------------------

POOLS = _sel(INSTANCE, 'type=~"search|write"')
HEAP = _sel(INSTANCE, 'area="heap"')

ELASTICSEARCH_DASHBOARD = DashboardDef(
    uid="slakit-elasticsearch",
    title="Elasticsearch",
    instance_query=names.ES_HEALTH_STATUS,
    description="Names of prometheus-community's elasticsearch_exporter, plus slakit's canary.",
    panels=(
        PanelDef(
            "Cluster health",
            "short",
            ((f"max by (color) ({names.ES_HEALTH_STATUS}{ANY})", "{{color}}"),),
            description="1 for the cluster's current colour.",
        ),
        PanelDef(
            "JVM heap",
            "bytes",
            (
                (
                    f"sum by (name) ({names.ES_JVM_MEMORY_USED}{HEAP})",
                    "{{name}} used",
                ),
                (
                    f"sum by (name) ({names.ES_JVM_MEMORY_MAX}{HEAP})",
                    "{{name}} max",
                ),
            ),
        ),
        PanelDef(
            "GC time share",
            "percentunit",
            ((f"sum by (gc) ({_rate(names.ES_GC_SECONDS + '_sum')})", "{{gc}}"),),
            description="Fraction of wall-clock time spent in garbage collection.",
        ),
        PanelDef(
            "GC collections",
            "ops",
            ((f"sum by (gc) ({_rate(names.ES_GC_SECONDS + '_count')})", "{{gc}}"),),
        ),
        PanelDef(
            "Thread pools (search, write)",
            "short",
            (
                (
                    f"sum by (type) ({names.ES_THREAD_POOL_ACTIVE}{POOLS})",
                    "{{type}} active",
                ),
                (
                    f"sum by (type) ({names.ES_THREAD_POOL_QUEUE}{POOLS})",
                    "{{type}} queued",
                ),
            ),
        ),
        PanelDef(
            "Thread pool rejections",
            "ops",
            (
                (
                    f"sum by (type) ({_rate(names.ES_THREAD_POOL_REJECTED, POOLS)})",
                    "{{type}}",
                ),
            ),
            thresholds=((None, GREEN), (0.01, RED)),
        ),
        PanelDef(
            "Search and index rate",
            "ops",
            (
                (f"sum({_rate(names.ES_SEARCH_TOTAL)})", "search"),
                (f"sum({_rate(names.ES_INDEXING_TOTAL)})", "index"),
            ),
        ),
        PanelDef(
            "Search and index latency (mean)",
            "s",
            (
                (
                    f"sum({_rate(names.ES_SEARCH_SECONDS)}) / sum({_rate(names.ES_SEARCH_TOTAL)})",
                    "search",
                ),
                (
                    f"sum({_rate(names.ES_INDEXING_TIME)}) / sum({_rate(names.ES_INDEXING_TOTAL)})",
                    "index",
                ),
            ),
            description="Empty (NaN) while no search or indexing happens.",
        ),
        PanelDef(
            "Canary search",
            "s",
            _quantiles(names.ES_CANARY_SECONDS, ANY, "index", ("p50", "p95")),
            description="The search a RAG retriever would run, timed by slakit's exporter "
            "on its own schedule.",
        ),
    ),
)

# --- GPU ------------------------------------------------------------------------------

_BY_GPU = "{{Hostname}} gpu {{gpu}}"

GPU_DASHBOARD = DashboardDef(
    uid="slakit-gpu",
    title="GPU",
    instance_query=names.GPU_FB_USED,
    description="NVML readings under dcgm-exporter's names (slakit's GPU exporter or DCGM).",
    panels=(
        PanelDef(
            "GPU utilisation",
            "percent",
            ((f"{names.GPU_UTIL}{ANY}", _BY_GPU),),
        ),
        PanelDef(
            "Framebuffer memory",
            "mbytes",
            (
                (f"{names.GPU_FB_USED}{ANY}", f"{_BY_GPU} used"),
                (f"{names.GPU_FB_FREE}{ANY}", f"{_BY_GPU} free"),
            ),
        ),
        PanelDef(
            "Temperature",
            "celsius",
            ((f"{names.GPU_TEMP}{ANY}", _BY_GPU),),
            thresholds=((None, GREEN), (80.0, ORANGE), (90.0, RED)),
        ),
        PanelDef(
            "Power",
            "watt",
            (
                (f"{names.GPU_POWER}{ANY}", f"{_BY_GPU} draw"),
                (f"{names.GPU_POWER_LIMIT}{ANY}", f"{_BY_GPU} limit"),
            ),
        ),
        PanelDef(
            "GPU memory by process",
            "bytes",
            (
                (
                    f"sum by (gpu, pid, process_name) ({names.GPU_PROCESS_MEMORY}{ANY})",
                    "gpu {{gpu}} {{process_name}} ({{pid}})",
                ),
            ),
        ),
        PanelDef(
            "NVML up",
            "short",
            ((f"min({names.GPU_NVML_UP}{ANY})", "nvml up"),),
            kind="stat",
            thresholds=((None, RED), (1.0, GREEN)),
            description="0 when NVML is missing or sees no GPU: the other panels are empty then.",
        ),
    ),
)

# --- SLO overview ---------------------------------------------------------------------

# Client-side SLIs, drawn from the nearest server-side measurement of the same requests:
# the gateway sees what the client sees minus the network; TPOT is approximated by vLLM's
# inter-token latency. The report judges them from the load generator's samples.
_CLIENT_HISTOGRAMS = {
    "latency": (gm.STAGE_LATENCY, _sel('stage="total"')),
    "ttft": (gm.TIME_TO_FIRST_TOKEN, ""),
    "itl": (vm.INTER_TOKEN_LATENCY, ""),
    "tpot": (vm.INTER_TOKEN_LATENCY, ""),
}
_CLIENT_RATES = {
    "throughput_rps": f"sum({_rate(gm.REQUESTS_TOTAL, _sel(_OK))})",
    "output_tokens_per_s": f"sum({_rate(gm.TOKENS_TOTAL, _sel(_OUT))})",
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
        return " or ".join((sli.promql, *sli.alternatives))
    if plan is not None:  # error_rate: counted at the gateway, as its alert does
        return bad_share(plan, "$__rate_interval")
    if slo.sli in _CLIENT_HISTOGRAMS:
        metric, selector = _CLIENT_HISTOGRAMS[slo.sli]
        if slo.aggregation == "mean":
            return (
                f"sum({_rate(metric + '_sum', selector)}) / "
                f"sum({_rate(metric + '_count', selector)})"
            )
        q = PERCENTILES.get(slo.aggregation, 1.0)  # max: the top bucket's edge
        return f"histogram_quantile({q}, sum by (le) ({_rate(metric + '_bucket', selector)}))"
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


COMPONENTS = (VLLM_DASHBOARD, ELASTICSEARCH_DASHBOARD, GPU_DASHBOARD, GATEWAY_DASHBOARD)


def dashboards(slos: list[Slo], alerting: Alerting | None = None) -> list[DashboardDef]:
    """Every dashboard: the components', then the SLO overview of `slos` (burn rates as
    `alerting` defines them, the spec's defaults if None)."""
    return [*COMPONENTS, slo_overview(slos, alerting or Alerting())]
