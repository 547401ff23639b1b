"""vLLM's metrics as prometheus_client objects, for engines that stand in for vLLM.

The simulated engine (and tests) export what vLLM 0.32.0 exports, with its names, labels
and buckets from the catalogue (`slakit/catalogue/metrics.py`); the token histograms'
buckets follow vLLM's `build_1_2_5_buckets` (`vllm/v1/metrics/buckets.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from slakit.catalogue import metrics as m


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
        return Gauge(name, doc, m.VLLM_LABELS, registry=registry).labels(*labels)

    def counter(name: str, doc: str) -> Counter:
        return Counter(_base(name), doc, m.VLLM_LABELS, registry=registry).labels(*labels)

    def histogram(name: str, doc: str, buckets: tuple[float, ...] | list[float]) -> Histogram:
        return Histogram(name, doc, m.VLLM_LABELS, registry=registry, buckets=buckets).labels(
            *labels
        )

    tokens = request_tokens_buckets(max_model_len)
    success = Counter(
        _base(m.VLLM_REQUEST_SUCCESS_TOTAL),
        "Count of successfully processed requests.",
        (*m.VLLM_LABELS, m.VLLM_FINISHED_REASON_LABEL),
        registry=registry,
    )
    return VllmMetrics(
        running=gauge(
            m.VLLM_NUM_REQUESTS_RUNNING, "Number of requests in model execution batches."
        ),
        waiting=gauge(m.VLLM_NUM_REQUESTS_WAITING, "Number of requests waiting to be processed."),
        kv_cache_usage=gauge(
            m.VLLM_KV_CACHE_USAGE_PERC, "KV-cache usage. 1 means 100 percent usage."
        ),
        time_to_first_token=histogram(
            m.VLLM_TIME_TO_FIRST_TOKEN,
            "Histogram of time to first token in seconds.",
            m.VLLM_TIME_TO_FIRST_TOKEN_BUCKETS,
        ),
        inter_token_latency=histogram(
            m.VLLM_INTER_TOKEN_LATENCY,
            "Histogram of inter-token latency in seconds.",
            m.VLLM_INTER_TOKEN_LATENCY_BUCKETS,
        ),
        e2e_request_latency=histogram(
            m.VLLM_E2E_REQUEST_LATENCY,
            "Histogram of e2e request latency in seconds.",
            m.VLLM_REQUEST_LATENCY_BUCKETS,
        ),
        request_queue_time=histogram(
            m.VLLM_REQUEST_QUEUE_TIME,
            "Histogram of time spent in WAITING phase for request.",
            m.VLLM_REQUEST_LATENCY_BUCKETS,
        ),
        request_prompt_tokens=histogram(
            m.VLLM_REQUEST_PROMPT_TOKENS, "Number of prefill tokens processed.", tokens
        ),
        request_generation_tokens=histogram(
            m.VLLM_REQUEST_GENERATION_TOKENS, "Number of generation tokens processed.", tokens
        ),
        prompt_tokens=counter(m.VLLM_PROMPT_TOKENS_TOTAL, "Number of prefill tokens processed."),
        generation_tokens=counter(
            m.VLLM_GENERATION_TOKENS_TOTAL, "Number of generation tokens processed."
        ),
        num_preemptions=counter(
            m.VLLM_NUM_PREEMPTIONS_TOTAL, "Cumulative number of preemption from the engine."
        ),
        request_success={r: success.labels(*labels, r) for r in m.VLLM_FINISHED_REASONS},
    )
