"""The component dashboards as data: each panel's title, unit, PromQL with legends, thresholds.

Grafana's dashboards are built from these (`slakit/generate/dashboards.py`, which adds the
SLO overview) and the HTML report draws the same panels over a run's window (`bind`), so a
panel is written once. Queries use Grafana's variables `$instance`, `$model`,
`$__rate_interval` and `$__range`; thresholds come from `thresholds`, so a panel turns red
where the alert fires.
"""

from __future__ import annotations

from dataclasses import dataclass

from slakit.catalogue import metrics as m
from slakit.catalogue import thresholds as t
from slakit.catalogue.aggregations import PERCENTILES

VAR_DATASOURCE = "datasource"
VAR_INSTANCE = "instance"
VAR_MODEL = "model"
MODEL_LABEL = m.VLLM_MODEL_LABEL
TOKENS_PER_SECOND = "suffix: tok/s"
GREEN, ORANGE, RED = "green", "orange", "red"


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


def sel(*matchers: str) -> str:
    """A PromQL selector of the non-empty matchers (empty when none)."""
    inner = ",".join(x for x in matchers if x)
    return "{" + inner + "}" if inner else ""


INSTANCE = f'instance=~"${VAR_INSTANCE}"'
VLLM = sel(f'{MODEL_LABEL}=~"${VAR_MODEL}"', INSTANCE)
ANY = sel(INSTANCE)


def rate(metric: str, selector: str = ANY, window: str = "$__rate_interval") -> str:
    """rate() of `metric` over Grafana's rate interval, of the chosen instances by default."""
    return f"rate({metric}{selector}[{window}])"


def quantiles(
    metric: str, selector: str, by: str = "", qs: tuple[str, ...] = ("p50", "p95", "p99")
) -> tuple[tuple[str, str], ...]:
    """histogram_quantile per percentile, one query each, legend `pXX` (prefixed by `by`)."""
    keys = ", ".join(filter(None, ("le", by)))
    prefix = f"{{{{{by}}}}} " if by else ""
    return tuple(
        (
            f"histogram_quantile({PERCENTILES[q]}, sum by ({keys}) "
            f"({rate(metric + '_bucket', selector)}))",
            f"{prefix}{q}",
        )
        for q in qs
    )


# --- vLLM -----------------------------------------------------------------------------

# Engine replicas: each scraped under its own `replica` label, and HAProxy's view of them
# (job `balancer`, not an engine: the `$instance` choice does not apply to it).
BY_REPLICA = f"replica {{{{{m.REPLICA_LABEL}}}}}"
POOL = f'proxy="{m.HAPROXY_BACKEND}"'
BY_SERVER = f"{{{{{m.HAPROXY_SERVER_LABEL}}}}}"


def per_replica(metric: str) -> str:
    """A gauge of the chosen engines, one series per replica."""
    return f"sum by ({m.REPLICA_LABEL}) ({metric}{VLLM})"


def per_server(metric: str, *matchers: str) -> str:
    """An HAProxy server series of the engines' pool, one series per replica."""
    return f"sum by ({m.HAPROXY_SERVER_LABEL}) ({metric}{sel(POOL, *matchers)})"


ENGINE_REPLICA_PANELS = (
    PanelDef(
        "Requests per replica",
        "reqps",
        (
            (
                f"sum by ({m.REPLICA_LABEL}) ({rate(m.VLLM_REQUEST_SUCCESS_TOTAL, VLLM)})",
                BY_REPLICA,
            ),
        ),
        description="Requests each engine replica finished per second: least connections "
        "keeps them level; one at 0 is out of the pool.",
    ),
    PanelDef(
        "Running and waiting requests per replica",
        "short",
        (
            (per_replica(m.VLLM_NUM_REQUESTS_RUNNING), f"{BY_REPLICA} running"),
            (per_replica(m.VLLM_NUM_REQUESTS_WAITING), f"{BY_REPLICA} waiting"),
        ),
    ),
)
"""Load per engine instance, from the engines' own series."""

BALANCER_PANELS = (
    PanelDef(
        "Balancer sessions per replica",
        "short",
        ((per_server(m.HAPROXY_SERVER_CURRENT_SESSIONS), BY_SERVER),),
        description="Connections HAProxy holds open to each replica (a stream counts until "
        "it ends). Empty with one engine: there is no balancer then.",
    ),
    PanelDef(
        "Replicas in the balancer's pool",
        "short",
        ((per_server(m.HAPROXY_SERVER_STATUS, f'{m.HAPROXY_STATE_LABEL}="UP"'), BY_SERVER),),
        thresholds=((None, RED), (1.0, GREEN)),
        description="1 while HAProxy sends the replica requests; 0 once its health checks "
        "or its circuit breaker took it out (EngineReplicaDown) or it was drained.",
    ),
)
"""HAProxy's view of the engines' pool: empty with one engine, where there is no balancer."""

REPLICA_PANELS = (*ENGINE_REPLICA_PANELS, *BALANCER_PANELS)
"""Load per engine instance, in the vLLM dashboard and so in the report."""

VLLM_DASHBOARD = DashboardDef(
    uid="slakit-vllm",
    title="LLM serving (vLLM)",
    instance_query=m.VLLM_NUM_REQUESTS_RUNNING,
    description="vLLM's own metrics (names as exposed by vLLM 0.32; KV cache and prefix cache "
    "also under the older names).",
    panels=(
        PanelDef(
            "Finished requests",
            "reqps",
            (
                (
                    f"sum by ({m.VLLM_FINISHED_REASON_LABEL}) "
                    f"({rate(m.VLLM_REQUEST_SUCCESS_TOTAL, VLLM)})",
                    f"{{{{{m.VLLM_FINISHED_REASON_LABEL}}}}}",
                ),
            ),
        ),
        PanelDef("Time to first token", "s", quantiles(m.VLLM_TIME_TO_FIRST_TOKEN, VLLM)),
        PanelDef("Inter-token latency", "s", quantiles(m.VLLM_INTER_TOKEN_LATENCY, VLLM)),
        PanelDef("End-to-end request latency", "s", quantiles(m.VLLM_E2E_REQUEST_LATENCY, VLLM)),
        PanelDef("Time in queue", "s", quantiles(m.VLLM_REQUEST_QUEUE_TIME, VLLM)),
        PanelDef(
            "Running and waiting requests",
            "short",
            (
                (f"sum({m.VLLM_NUM_REQUESTS_RUNNING}{VLLM})", "running"),
                (f"sum({m.VLLM_NUM_REQUESTS_WAITING}{VLLM})", "waiting"),
            ),
        ),
        PanelDef(
            "KV-cache usage",
            "percentunit",
            (
                (
                    f"max by (instance) ({m.VLLM_KV_CACHE_USAGE_PERC}{VLLM} "
                    f"or {m.VLLM_GPU_CACHE_USAGE_PERC}{VLLM})",
                    "{{instance}}",
                ),
            ),
            thresholds=((None, GREEN), (t.KV_CACHE_HIGH, ORANGE), (t.KV_CACHE_FULL, RED)),
        ),
        PanelDef(
            "Prefix-cache hit rate",
            "percentunit",
            (
                (
                    " or ".join(
                        f"sum by (instance) ({rate(hits, VLLM)}) / "
                        f"sum by (instance) ({rate(queries, VLLM)})"
                        for hits, queries in m.VLLM_PREFIX_CACHE_COUNTERS
                    )
                    + f" or max by (instance) ({m.VLLM_GPU_PREFIX_CACHE_HIT_RATE}{VLLM})",
                    "{{instance}}",
                ),
            ),
            description="Share of prompt tokens found in the prefix cache: repeated system "
            "prompts and conversation history hit it, unique prompts do not.",
        ),
        PanelDef(
            "Tokens per second",
            TOKENS_PER_SECOND,
            (
                (f"sum({rate(m.VLLM_PROMPT_TOKENS_TOTAL, VLLM)})", "prompt"),
                (f"sum({rate(m.VLLM_GENERATION_TOKENS_TOTAL, VLLM)})", "generation"),
            ),
        ),
        PanelDef(
            "Preemptions",
            "ops",
            ((f"sum({rate(m.VLLM_NUM_PREEMPTIONS_TOTAL, VLLM)})", "preemptions"),),
            description="Requests evicted from the batch for lack of KV-cache blocks.",
        ),
        *REPLICA_PANELS,
    ),
)

# --- RAG gateway ----------------------------------------------------------------------

_ERRORS = f'status=~"{m.SERVER_ERROR_STATUS}"'  # as the alerts count (502: broken stream)


# Share of gateway requests answered 5xx by route, present (as 0) while nothing fails:
# every series of the denominator is in the numerator, at 0 if it had no error.
_TOTAL = rate(m.GATEWAY_REQUESTS_TOTAL)
ERRORS_BY_ROUTE = (
    f"sum by (route) ({rate(m.GATEWAY_REQUESTS_TOTAL, sel(INSTANCE, _ERRORS))} or {_TOTAL} * 0)"
    f" / sum by (route) ({_TOTAL})"
)


GATEWAY_DASHBOARD = DashboardDef(
    uid="slakit-gateway",
    title="RAG gateway",
    instance_query=m.GATEWAY_IN_FLIGHT,
    description="slakit's OpenAI-compatible gateway: per-route traffic and per-stage latency.",
    panels=(
        PanelDef(
            "Requests by route and status",
            "reqps",
            (
                (
                    f"sum by (route, status) ({rate(m.GATEWAY_REQUESTS_TOTAL)})",
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
        PanelDef(
            "Stage latency", "s", quantiles(m.GATEWAY_STAGE_LATENCY, ANY, "stage", ("p50", "p95"))
        ),
        PanelDef(
            "Time to first token by route",
            "s",
            quantiles(m.GATEWAY_TIME_TO_FIRST_TOKEN, ANY, "route", ("p50", "p95")),
        ),
        PanelDef(
            "Tokens per second",
            TOKENS_PER_SECOND,
            ((f"sum by (direction) ({rate(m.GATEWAY_TOKENS_TOTAL)})", "{{direction}}"),),
        ),
        PanelDef(
            "In-flight requests",
            "short",
            ((f"sum by (route) ({m.GATEWAY_IN_FLIGHT}{ANY})", "{{route}}"),),
        ),
        PanelDef(
            "Retrieval",
            "short",
            (
                (
                    f"sum({rate(m.GATEWAY_RETRIEVED_DOCUMENTS + '_sum')}) / "
                    f"sum({rate(m.GATEWAY_RETRIEVED_DOCUMENTS + '_count')})",
                    "documents per query",
                ),
                (f"sum({rate(m.GATEWAY_EMPTY_RETRIEVALS_TOTAL)})", "empty retrievals/s"),
            ),
        ),
    ),
)

# --- Elasticsearch --------------------------------------------------------------------

POOLS = sel(INSTANCE, 'type=~"search|write"')
HEAP = sel(INSTANCE, 'area="heap"')

ELASTICSEARCH_DASHBOARD = DashboardDef(
    uid="slakit-elasticsearch",
    title="Elasticsearch",
    instance_query=m.ES_HEALTH_STATUS,
    description="Names of prometheus-community's elasticsearch_exporter, plus slakit's canary.",
    panels=(
        PanelDef(
            "Cluster health",
            "short",
            ((f"max by (color) ({m.ES_HEALTH_STATUS}{ANY})", "{{color}}"),),
            description="1 for the cluster's current colour.",
        ),
        PanelDef(
            "JVM heap",
            "bytes",
            (
                (
                    f"sum by (name) ({m.ES_JVM_MEMORY_USED}{HEAP})",
                    "{{name}} used",
                ),
                (
                    f"sum by (name) ({m.ES_JVM_MEMORY_MAX}{HEAP})",
                    "{{name}} max",
                ),
            ),
        ),
        PanelDef(
            "GC time share",
            "percentunit",
            ((f"sum by (gc) ({rate(m.ES_GC_SECONDS + '_sum')})", "{{gc}}"),),
            description="Fraction of wall-clock time spent in garbage collection.",
        ),
        PanelDef(
            "GC collections",
            "ops",
            ((f"sum by (gc) ({rate(m.ES_GC_SECONDS + '_count')})", "{{gc}}"),),
        ),
        PanelDef(
            "Thread pools (search, write)",
            "short",
            (
                (
                    f"sum by (type) ({m.ES_THREAD_POOL_ACTIVE}{POOLS})",
                    "{{type}} active",
                ),
                (
                    f"sum by (type) ({m.ES_THREAD_POOL_QUEUE}{POOLS})",
                    "{{type}} queued",
                ),
            ),
        ),
        PanelDef(
            "Thread pool rejections",
            "ops",
            (
                (
                    f"sum by (type) ({rate(m.ES_THREAD_POOL_REJECTED, POOLS)})",
                    "{{type}}",
                ),
            ),
            thresholds=((None, GREEN), (0.01, RED)),
        ),
        PanelDef(
            "Search and index rate",
            "ops",
            (
                (f"sum({rate(m.ES_SEARCH_TOTAL)})", "search"),
                (f"sum({rate(m.ES_INDEXING_TOTAL)})", "index"),
            ),
        ),
        PanelDef(
            "Search and index latency (mean)",
            "s",
            (
                (
                    f"sum({rate(m.ES_SEARCH_SECONDS)}) / sum({rate(m.ES_SEARCH_TOTAL)})",
                    "search",
                ),
                (
                    f"sum({rate(m.ES_INDEXING_TIME)}) / sum({rate(m.ES_INDEXING_TOTAL)})",
                    "index",
                ),
            ),
            description="Empty (NaN) while no search or indexing happens.",
        ),
        PanelDef(
            "Canary search",
            "s",
            quantiles(m.ES_CANARY_SECONDS, ANY, "index", ("p50", "p95")),
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
    instance_query=m.GPU_FB_USED,
    description="NVML readings under dcgm-exporter's names (slakit's GPU exporter or DCGM).",
    panels=(
        PanelDef(
            "GPU utilisation",
            "percent",
            ((f"{m.GPU_UTIL}{ANY}", _BY_GPU),),
        ),
        PanelDef(
            "Framebuffer memory",
            "mbytes",
            (
                (f"{m.GPU_FB_USED}{ANY}", f"{_BY_GPU} used"),
                (f"{m.GPU_FB_FREE}{ANY}", f"{_BY_GPU} free"),
            ),
        ),
        PanelDef(
            "Temperature",
            "celsius",
            ((f"{m.GPU_TEMP}{ANY}", _BY_GPU),),
            thresholds=(
                (None, GREEN),
                (t.GPU_TEMPERATURE_WARM_C, ORANGE),
                (t.GPU_TEMPERATURE_C, RED),
            ),
            description="Red where the temperature alert fires (its default threshold).",
        ),
        PanelDef(
            "Power",
            "watt",
            (
                (f"{m.GPU_POWER}{ANY}", f"{_BY_GPU} draw"),
                (f"{m.GPU_POWER_LIMIT}{ANY}", f"{_BY_GPU} limit"),
            ),
        ),
        PanelDef(
            "GPU memory by process",
            "bytes",
            (
                (
                    f"sum by (gpu, pid, process_name) ({m.GPU_PROCESS_MEMORY}{ANY})",
                    "gpu {{gpu}} {{process_name}} ({{pid}})",
                ),
            ),
        ),
        PanelDef(
            "NVML up",
            "short",
            ((f"min({m.GPU_NVML_UP}{ANY})", "nvml up"),),
            kind="stat",
            thresholds=((None, RED), (1.0, GREEN)),
            description="0 when NVML is missing or sees no GPU: the other panels are empty then.",
        ),
    ),
)


COMPONENTS = (VLLM_DASHBOARD, ELASTICSEARCH_DASHBOARD, GPU_DASHBOARD, GATEWAY_DASHBOARD)
"""Every component dashboard, in the order `slakit gen dashboards` writes them."""
