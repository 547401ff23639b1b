"""The SLI catalogue: every indicator slakit can judge, defined once.

Each SLI says what it measures (dimension), which aggregations make sense, and how it is
computed: client-side from per-request samples, or server-side as PromQL over the run
window. The evaluator, the alert generator and the dashboards read these same objects,
so a metric name is written here (or in the module that exports it) and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slakit.generate import names
from slakit.stack import vllm_metrics as vm
from slakit.stack.gateway import metrics as gm

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
AGGREGATIONS = (*PERCENTILES, "mean", "max", "rate", "ratio")
DISTRIBUTION = (*PERCENTILES, "mean", "max")


@dataclass(frozen=True)
class Sli:
    """One indicator. `side` is where it is measured: the load generator or Prometheus."""

    name: str
    title: str
    dimension: str  # seconds | ratio | per_second | number
    side: str  # client | server
    aggregations: tuple[str, ...]
    # Server-side: PromQL. Histogram SLIs use `{q}` (quantile) and `{window}`; gauge SLIs
    # are range-queried and aggregated over the window. `alternatives` are tried in order
    # when the first has no data (older vLLM names).
    promql: str = ""
    histogram: str = ""  # histogram SLIs: the `_count` series, to know the samples behind
    alternatives: tuple[str, ...] = field(default_factory=tuple)
    # Client-side: which sample column holds the per-request value ("" for whole-run SLIs).
    column: str = ""
    per_request: bool = False  # can be judged per request (goodput counts these)
    streaming_only: bool = False


def _hist(name: str, title: str, metric: str, selector: str = "") -> Sli:
    """A server-side SLI read from a Prometheus histogram: quantiles over the run window."""
    inner = f"{{{selector}}}" if selector else ""
    promql = f"histogram_quantile({{q}}, sum by (le) (rate({metric}_bucket{inner}[{{window}}])))"
    return Sli(
        name,
        title,
        "seconds",
        "server",
        tuple(PERCENTILES),
        promql=promql,
        histogram=f"{metric}_count{inner}",
    )


_CLIENT = [
    Sli(
        "latency",
        "End-to-end latency",
        "seconds",
        "client",
        DISTRIBUTION,
        column="latency_s",
        per_request=True,
    ),
    Sli(
        "ttft",
        "Time to first token",
        "seconds",
        "client",
        DISTRIBUTION,
        column="ttft_s",
        per_request=True,
        streaming_only=True,
    ),
    Sli(
        "itl",
        "Inter-token latency",
        "seconds",
        "client",
        DISTRIBUTION,
        column="itl_s",
        streaming_only=True,
    ),
    Sli(
        "tpot",
        "Time per output token",
        "seconds",
        "client",
        DISTRIBUTION,
        column="tpot_s",
        per_request=True,
        streaming_only=True,
    ),
    Sli("error_rate", "Error rate", "ratio", "client", ("ratio",)),
    Sli("throughput_rps", "Completed requests per second", "per_second", "client", ("rate",)),
    Sli("output_tokens_per_s", "Output tokens per second", "per_second", "client", ("rate",)),
    Sli(
        "goodput",
        "Share of requests meeting every per-request objective",
        "ratio",
        "client",
        ("ratio",),
    ),
]

_SERVER = [
    Sli(
        "vllm_queue_length",
        "vLLM waiting requests",
        "number",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"sum({vm.NUM_REQUESTS_WAITING})",
    ),
    Sli(
        "vllm_running",
        "vLLM running requests",
        "number",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"sum({vm.NUM_REQUESTS_RUNNING})",
    ),
    Sli(
        "vllm_kv_cache_usage",
        "vLLM KV-cache usage",
        "ratio",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"max({vm.KV_CACHE_USAGE_PERC})",
        alternatives=(f"max({vm.GPU_CACHE_USAGE_PERC})",),
    ),
    _hist("vllm_ttft", "vLLM time to first token", vm.TIME_TO_FIRST_TOKEN),
    _hist("vllm_itl", "vLLM inter-token latency", vm.INTER_TOKEN_LATENCY),
    _hist("vllm_e2e", "vLLM end-to-end request latency", vm.E2E_REQUEST_LATENCY),
    _hist("vllm_queue_time", "vLLM time in queue", vm.REQUEST_QUEUE_TIME),
    *[
        _hist(
            f"gateway_{stage}_latency",
            f"Gateway {stage} stage latency",
            gm.STAGE_LATENCY,
            f'stage="{stage}"',
        )
        for stage in ("retrieve", "generate", "total")
    ],
    Sli(
        "es_search_latency",
        "Elasticsearch mean search latency (exporter)",
        "seconds",
        "server",
        ("mean", "max", *PERCENTILES),
        promql=f"sum(rate({names.ES_SEARCH_SECONDS}[1m])) / sum(rate({names.ES_SEARCH_TOTAL}[1m]))",
    ),
    Sli(
        "gpu_memory_utilisation",
        "GPU framebuffer used (exporter)",
        "ratio",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"max({names.GPU_FB_USED} / ({names.GPU_FB_USED} + {names.GPU_FB_FREE}))",
    ),
]


def render(promql: str, q: float | str = "…", window: str = "…") -> str:
    """Fill a histogram SLI's `{q}` and `{window}` (PromQL's own braces stay as they are)."""
    return promql.replace("{q}", str(q)).replace("{window}", window)


CATALOGUE: dict[str, Sli] = {s.name: s for s in (*_CLIENT, *_SERVER)}
