"""Defaults shared by the embedded stack, scenarios and the exporters, each defined once:
the served model, the corpus index and size, the model's context, and every part's port
(`slakit/stack/config.py` builds the stack from this table; the exporters listen on and
point at the same ports, so a default exporter finds the default stack)."""

from __future__ import annotations

MODEL = "slakit-tiny"
"""The embedded stack's served model name (vLLM `--served-model-name`, scenarios' default)."""
MAX_MODEL_LEN = 2048
"""The tiny model's full context in tokens; RAG prompts need about 1k of it."""
INDEX = "slakit-corpus"
"""The Elasticsearch index the corpus is loaded into, searched by RAG and es_search."""
CORPUS_DOCS = 3000
"""Passages indexed from the docstring corpus (and the words prompts are drawn from)."""

HOST = "127.0.0.1"
PORTS = {
    "elasticsearch": 19200,
    "elasticsearch_transport": 19300,
    "engine": 18000,  # vLLM or the simulated engine: one at a time; replica i at 18000 + i - 1
    "balancer": 18070,  # HAProxy in front of the engine replicas (`stack up --replicas N`)
    "balancer_stats": 18071,  # HAProxy's Prometheus exporter, stats page and health
    "gateway": 18080,
    "prometheus": 19090,
    "alertmanager": 19093,
    "webhook": 19095,
    "gpu_exporter": 19400,
    "es_exporter": 19114,
    "inference_exporter": 19500,
    "jaeger_query": 19686,  # Jaeger's query API and UI (its default 16686, moved by 3000)
    "jaeger_query_grpc": 19685,
    "jaeger_otlp_grpc": 19317,  # OTLP receivers (4317/4318 by default: the same digits)
    "jaeger_otlp_http": 19318,
}
"""Every part's default port, below Linux's default ephemeral range (32768-60999)."""


LOG_DATASETS = {"gateway": "slakit.gateway", "engine": "slakit.engine"}
"""The ECS `data_stream.dataset` of each part's shipped log (`slakit.stack.shipper`)."""
LOG_NAMESPACE = "default"
LOG_INDEX_PATTERN = "logs-slakit.*-*"
"""Every data stream slakit's logs are shipped into."""
LOG_LINES_QUERY = "log_lines"
"""The embedded stack's ES-exporter count query of log lines by `log.level` (last minute),
which the ERROR-rate alert reads."""
LOG_ERROR_LEVEL = "error"
"""`log.level` of an ERROR line as ecs-logging writes it (lower case)."""


def log_stream(part: str) -> str:
    """The data stream a part's log lines go into: `logs-<dataset>-<namespace>`."""
    return f"logs-{LOG_DATASETS[part]}-{LOG_NAMESPACE}"


def url(part: str) -> str:
    """The default base URL of a part of the embedded stack on this machine."""
    return f"http://{HOST}:{PORTS[part]}"


KEEPALIVE_S = 5.0
"""How long the embedded stack's HTTP servers keep an idle connection open: uvicorn's
default, which the gateway sets and vLLM (`VLLM_HTTP_TIMEOUT_KEEP_ALIVE`) and the
simulated engine keep."""
KEEPALIVE_MARGIN_S = 1.0
"""How long such a server may stall past its keep-alive deadline without a client of it
sending on the connection it is closing."""
KEEPALIVE_REUSE_S = KEEPALIVE_S - KEEPALIVE_MARGIN_S
"""The longest a client of these servers (the load, the gateway) reuses an idle connection."""
