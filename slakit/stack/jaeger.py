"""Jaeger v2, the stack's trace backend: OTLP in (gRPC and HTTP), traces in memory, the
query API (and UI) out, with a config generated from StackConfig like Prometheus's.

Memory storage, not Elasticsearch: a run's traces are read back by its report minutes
after they were written, and spans written into the Elasticsearch that serves the RAG
retrievals would load the very part whose latency the run measures. `max_traces` bounds
the memory; the oldest traces go first.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from slakit.errors import StackError
from slakit.stack.config import StackConfig
from slakit.stack.process import PartSpec

STORE = "slakit_traces"
"""The name of the one trace storage backend in the generated config."""
HEALTH_PATH = "/api/services"
"""Answers 200 once the query API serves the storage."""
EXPORT_DELAY_MS = 1000
"""How long the gateway's and the engine's batch span processors hold spans before sending
(OTEL_BSP_SCHEDULE_DELAY; the SDK's default is 5000): a run's report reads its traces back
seconds after its last request."""


def binary(cfg: StackConfig) -> Path:
    """The Jaeger built by scripts/bootstrap.sh into the cache."""
    path = cfg.cache_dir / "bin" / f"jaeger-{cfg.jaeger.version}"
    if not path.is_file():
        raise StackError(f"jaeger: {path} is not built (run scripts/bootstrap.sh)")
    return path


def otlp_grpc_url(cfg: StackConfig) -> str:
    return cfg.url(cfg.jaeger.otlp_grpc_port)


def otlp_http_url(cfg: StackConfig) -> str:
    """The OTLP/HTTP base URL (the exporter adds `/v1/traces`)."""
    return cfg.url(cfg.jaeger.otlp_http_port)


def exporter_env(cfg: StackConfig) -> dict[str, str]:
    """The standard OTEL_* variables that send a part's spans here over OTLP/HTTP."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http_url(cfg),
        "OTEL_BSP_SCHEDULE_DELAY": str(EXPORT_DELAY_MS),
    }


def engine_exporter_env(name: str) -> dict[str, str]:
    """What vLLM's exporter (endpoint given by its flag) needs besides: the service name
    its spans carry (a replica's part name, `vllm-2`, tells replicas apart) and the delay."""
    return {"OTEL_SERVICE_NAME": name, "OTEL_BSP_SCHEDULE_DELAY": str(EXPORT_DELAY_MS)}


def query_url(cfg: StackConfig) -> str:
    return cfg.url(cfg.jaeger.port)


def jaeger_config(cfg: StackConfig) -> dict:
    j = cfg.jaeger
    return {
        "extensions": {
            "jaeger_storage": {"backends": {STORE: {"memory": {"max_traces": j.max_traces}}}},
            "jaeger_query": {
                "storage": {"traces": STORE},
                "http": {"endpoint": cfg.address(j.port)},
                "grpc": {"endpoint": cfg.address(j.grpc_port)},
            },
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": cfg.address(j.otlp_grpc_port)},
                    "http": {"endpoint": cfg.address(j.otlp_http_port)},
                }
            }
        },
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["jaeger_storage_exporter"]}
            },
            # No telemetry server of its own (the collector's default is port 8888).
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
        },
    }


def spec(cfg: StackConfig) -> PartSpec:
    base = cfg.state_dir / "jaeger"
    base.mkdir(parents=True, exist_ok=True)
    config = base / "jaeger.yaml"
    config.write_text(yaml.safe_dump(jaeger_config(cfg), sort_keys=False))
    url = query_url(cfg)
    return PartSpec(
        name="jaeger",
        argv=[str(binary(cfg)), f"--config={config}"],
        url=url,
        log=cfg.state_dir / "logs" / "jaeger.log",
        health_url=url + HEALTH_PATH,
        timeout_s=cfg.jaeger.start_timeout_s,
    )
