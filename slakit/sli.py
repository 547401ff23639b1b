"""The SLI catalogue: every indicator slakit can judge, defined once.

Each SLI says what it measures (dimension), which aggregations make sense, and how it is
computed: client-side from per-request samples, or server-side as PromQL over the run
window. The evaluator, the alert generator and the dashboards read these same objects;
the metric names come from the catalogue (`slakit/catalogue/metrics.py`), the only thing
this module imports from slakit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from slakit.catalogue import metrics as m
from slakit.catalogue.aggregations import AGGREGATIONS, DISTRIBUTION, PERCENTILES

__all__ = ["AGGREGATIONS", "CATALOGUE", "DISTRIBUTION", "PERCENTILES", "Sli", "render"]


PerRequest = Callable[[pd.DataFrame], pd.Series]
"""Samples -> one value per request, aligned to the frame's index, NaN where undefined."""


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
    # Window SLIs: one value over the whole run window (`{window}` its span, no `{q}`),
    # queried at its end; `counted` (PromQL, `{window}` too) is the samples behind it.
    counted: str = ""
    # Client-side distributions: one value per request (goodput judges each request by
    # these), or, for inter-token latency, the gaps of every request flattened.
    per_request: PerRequest | None = None
    per_token: bool = False


def _latency(frame: pd.DataFrame) -> pd.Series:
    return frame["latency_s"].astype(float)


def _ttft(frame: pd.DataFrame) -> pd.Series:
    # A run without any first token reads ttft_s as None objects: cast, so they are NaN.
    return frame["ttft_s"].astype(float)


def _tpot(frame: pd.DataFrame) -> pd.Series:
    tokens = frame["tokens_out"].astype(float)
    return ((_latency(frame) - _ttft(frame)) / (tokens - 1)).where(tokens > 1)


def _prefix_cache_hit_rate(hits: str, queries: str) -> str:
    return f"sum(increase({hits}[{{window}}])) / sum(increase({queries}[{{window}}]))"


def _from_due(measure: PerRequest) -> PerRequest:
    """`measure` timed from when the open-loop schedule said the request was due, not from
    when it went out: a generator (or a target) that falls behind adds its lateness, as
    wrk2 and k6's arrival-rate executors correct for coordinated omission."""
    return lambda frame: measure(frame) + frame["late_s"].astype(float)


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
    Sli("latency", "End-to-end latency", "seconds", "client", DISTRIBUTION, per_request=_latency),
    Sli("ttft", "Time to first token", "seconds", "client", DISTRIBUTION, per_request=_ttft),
    Sli("itl", "Inter-token latency", "seconds", "client", DISTRIBUTION, per_token=True),
    Sli("tpot", "Time per output token", "seconds", "client", DISTRIBUTION, per_request=_tpot),
    Sli(
        "latency_from_due",
        "End-to-end latency from the scheduled start",
        "seconds",
        "client",
        DISTRIBUTION,
        per_request=_from_due(_latency),
    ),
    Sli(
        "ttft_from_due",
        "Time to first token from the scheduled start",
        "seconds",
        "client",
        DISTRIBUTION,
        per_request=_from_due(_ttft),
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
        promql=f"sum({m.VLLM_NUM_REQUESTS_WAITING})",
    ),
    Sli(
        "vllm_running",
        "vLLM running requests",
        "number",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"sum({m.VLLM_NUM_REQUESTS_RUNNING})",
    ),
    Sli(
        "vllm_kv_cache_usage",
        "vLLM KV-cache usage",
        "ratio",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"max({m.VLLM_KV_CACHE_USAGE_PERC})",
        alternatives=(f"max({m.VLLM_GPU_CACHE_USAGE_PERC})",),
    ),
    Sli(
        "vllm_prefix_cache_hit_rate",
        "vLLM prefix-cache hit rate (prompt tokens found cached)",
        "ratio",
        "server",
        ("ratio",),
        promql=_prefix_cache_hit_rate(*m.VLLM_PREFIX_CACHE_COUNTERS[0]),
        alternatives=(
            *(_prefix_cache_hit_rate(*names) for names in m.VLLM_PREFIX_CACHE_COUNTERS[1:]),
            f"max(avg_over_time({m.VLLM_GPU_PREFIX_CACHE_HIT_RATE}[{{window}}]))",
        ),
        counted=f"sum(increase({m.VLLM_REQUEST_SUCCESS_TOTAL}[{{window}}]))",
    ),
    _hist("vllm_ttft", "vLLM time to first token", m.VLLM_TIME_TO_FIRST_TOKEN),
    _hist("vllm_itl", "vLLM inter-token latency", m.VLLM_INTER_TOKEN_LATENCY),
    _hist("vllm_e2e", "vLLM end-to-end request latency", m.VLLM_E2E_REQUEST_LATENCY),
    _hist("vllm_queue_time", "vLLM time in queue", m.VLLM_REQUEST_QUEUE_TIME),
    *[
        _hist(
            f"gateway_{stage}_latency",
            f"Gateway {stage} stage latency",
            m.GATEWAY_STAGE_LATENCY,
            f'stage="{stage}"',
        )
        for stage in m.GATEWAY_STAGES
    ],
    Sli(
        "es_search_latency",
        "Elasticsearch mean search latency (exporter)",
        "seconds",
        "server",
        ("mean", "max", *PERCENTILES),
        promql=f"sum(rate({m.ES_SEARCH_SECONDS}[1m])) / sum(rate({m.ES_SEARCH_TOTAL}[1m]))",
    ),
    Sli(
        "gpu_memory_utilisation",
        "GPU framebuffer used (exporter)",
        "ratio",
        "server",
        ("max", "mean", *PERCENTILES),
        promql=f"max({m.GPU_FB_USED} / ({m.GPU_FB_USED} + {m.GPU_FB_FREE}))",
    ),
]


def render(promql: str, q: float | str = "…", window: str = "…") -> str:
    """Fill a histogram SLI's `{q}` and `{window}` (PromQL's own braces stay as they are)."""
    return promql.replace("{q}", str(q)).replace("{window}", window)


CATALOGUE: dict[str, Sli] = {s.name: s for s in (*_CLIENT, *_SERVER)}
