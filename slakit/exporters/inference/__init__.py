"""The inference exporter: a canary that asks an OpenAI-compatible server for tokens.

vLLM's own `/metrics` say how the engine saw the requests it got (Prometheus scrapes them
directly; nothing of them is re-exported here). They cannot say whether a client reaches
the server at all, nor what it waits for through every hop in between. So every
`interval_s` this exporter sends one short streamed chat completion (and, when a gateway
is configured, one RAG query) and records what a client saw: time to first token, the gaps
between tokens (tokens counted by `slakit.sse.token_piece`, the load generator's rule),
total latency, and why a probe failed.

Failure reasons are label-safe: `connection`, `timeout`, `http_<status>`, `bad_json`,
`no_tokens`, `incomplete_stream`, plus `stream_error` (the server reported an error inside
the stream), `no_model` (no model configured and /v1/models lists none) and `unexpected`
(a bug, logged). `families` holds the names, `parsers` reads the answers, `prober` probes.

    python -m slakit.exporters.inference --config inference-exporter.yaml
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

from slakit.exporters.entry import Exporter
from slakit.exporters.entry import main as run
from slakit.exporters.inference.families import (
    E2E_LATENCY,
    FIXED_REASONS,
    INTER_TOKEN_LATENCY,
    LAST_SUCCESS,
    LATENCY_BUCKETS,
    MODEL_INFO,
    PROBE_UP,
    PROBES_TOTAL,
    RAG_DOCUMENTS,
    RAG_EMPTY_TOTAL,
    RAG_GENERATE,
    RAG_LATENCY,
    RAG_PROBE_UP,
    RAG_PROBES_TOTAL,
    RAG_RETRIEVE,
    TIME_TO_FIRST_TOKEN,
    UP,
)
from slakit.exporters.inference.parsers import StreamResult, parse_models, parse_rag, parse_stream
from slakit.exporters.inference.prober import Prober
from slakit.exporters.inference.settings import (
    DEFAULT_PORT,
    InferenceExporterConfig,
    load_config,
)

__all__ = [
    "DEFAULT_PORT",
    "E2E_LATENCY",
    "FIXED_REASONS",
    "INTER_TOKEN_LATENCY",
    "LAST_SUCCESS",
    "LATENCY_BUCKETS",
    "MODEL_INFO",
    "PROBES_TOTAL",
    "PROBE_UP",
    "RAG_DOCUMENTS",
    "RAG_EMPTY_TOTAL",
    "RAG_GENERATE",
    "RAG_LATENCY",
    "RAG_PROBES_TOTAL",
    "RAG_PROBE_UP",
    "RAG_RETRIEVE",
    "TIME_TO_FIRST_TOKEN",
    "UP",
    "InferenceExporterConfig",
    "Prober",
    "StreamResult",
    "build",
    "load_config",
    "main",
    "parse_models",
    "parse_rag",
    "parse_stream",
]


def build(cfg: InferenceExporterConfig) -> tuple[CollectorRegistry, Prober]:
    """The registry a scrape reads and the prober that fills it (not started)."""
    registry = CollectorRegistry()
    return registry, Prober(cfg, registry)


def _started(cfg: InferenceExporterConfig) -> str:
    model = cfg.model or "from /v1/models"
    key = "set" if cfg.api_key else "not set"
    return (
        f"probing {cfg.openai_url} every {cfg.interval_s:g}s (timeout {cfg.timeout_s:g}s), "
        f"model {model}, RAG {cfg.gateway_url or 'off'}, API key {key}"
    )


EXPORTER = Exporter(
    module=__name__,
    about=__doc__.splitlines()[0],
    settings=InferenceExporterConfig,
    build=build,
    started=_started,
    # httpx logs one line per request at INFO
    setup=lambda: logging.getLogger("httpx").setLevel(logging.WARNING),
)


def main(argv: list[str] | None = None) -> int:
    """`python -m slakit.exporters.inference` and `slakit-inference-exporter`."""
    return run(EXPORTER, argv)
