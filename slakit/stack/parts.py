"""The stack's parts in start order, each built from StackConfig into a PartSpec."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from slakit.gateway.settings import ES_ENV_PREFIX
from slakit.stack import (
    balancer,
    elasticsearch,
    es_security,
    jaeger,
    log_streams,
    monitoring,
    placement,
    shipper,
    vllm,
)
from slakit.stack.config import ExporterConfig, StackConfig
from slakit.stack.process import PartSpec


def gateway_spec(cfg: StackConfig) -> PartSpec:
    url = cfg.url(cfg.gateway.port)
    return PartSpec(
        name="gateway",
        argv=[
            sys.executable,
            "-m",
            "slakit.gateway",
            "--host",
            cfg.host,
            "--port",
            str(cfg.gateway.port),
            "--engine-url",
            cfg.engine_url,
            "--es-url",
            cfg.es_url,
            "--index",
            cfg.corpus.index,
            "--model",
            cfg.vllm.served_model_name,
            "--top-k",
            str(cfg.gateway.top_k),
            "--max-tokens",
            str(cfg.gateway.max_tokens),
            "--priority",
            placement.GATEWAY_PRIORITY,
        ],
        url=url,
        log=cfg.state_dir / "logs" / "gateway.log",
        health_url=f"{url}/ready",
        timeout_s=cfg.gateway.start_timeout_s,
        env={
            **jaeger.exporter_env(cfg),  # its spans go to Jaeger
            **_es_credential(cfg, "gateway", ES_ENV_PREFIX),
        },
    )


def _es_credential(cfg: StackConfig, part: str, prefix: str) -> dict[str, str]:
    """Part `part`'s Elasticsearch user and the stack's CA, as its settings' variables
    (`prefix`), when security is on; never on its command line."""
    return es_security.environment(cfg, part, prefix) if cfg.elasticsearch.secure else {}


def webhook_spec(cfg: StackConfig) -> PartSpec:
    url = cfg.url(cfg.webhook.port)
    return PartSpec(
        name="webhook",
        argv=[
            sys.executable,
            "-m",
            "slakit.stack.webhook",
            "--host",
            cfg.host,
            "--port",
            str(cfg.webhook.port),
            "--out",
            str(alerts_file(cfg)),
        ],
        url=url,
        log=cfg.state_dir / "logs" / "webhook.log",
        health_url=f"{url}/health",
        timeout_s=cfg.webhook.start_timeout_s,
    )


def _exporter_spec(
    cfg: StackConfig, name: str, module: str, part: ExporterConfig, env: dict[str, str]
) -> PartSpec:
    url = cfg.url(part.port)
    return PartSpec(
        name=f"{name}-exporter",
        argv=[sys.executable, "-m", module, "--host", cfg.host, "--port", str(part.port)],
        url=url,
        log=cfg.state_dir / "logs" / f"{name}-exporter.log",
        health_url=f"{url}/health",
        timeout_s=part.start_timeout_s,
        env=env,
    )


def gpu_exporter_spec(cfg: StackConfig) -> PartSpec:
    """NVML exporter; on a machine without a GPU it serves `slakit_gpu_nvml_up 0`."""
    return _exporter_spec(cfg, "gpu", "slakit.exporters.gpu", cfg.exporters.gpu, {})


def es_exporter_spec(cfg: StackConfig) -> PartSpec:
    return _exporter_spec(
        cfg,
        "es",
        "slakit.exporters.elasticsearch",
        cfg.exporters.elasticsearch,
        {
            "SLAKIT_ES_EXPORTER_URL": cfg.es_url,
            "SLAKIT_ES_EXPORTER_CANARY_INDEX": cfg.corpus.index,
            "SLAKIT_ES_EXPORTER_FRESHNESS_INDEX": cfg.corpus.index,
            "SLAKIT_ES_EXPORTER_COUNT_QUERIES": json.dumps(
                [log_streams.LOG_LINES.model_dump(mode="json")]
            ),
            **_es_credential(cfg, "es-exporter", "SLAKIT_ES_EXPORTER_"),
        },
    )


def inference_exporter_spec(cfg: StackConfig) -> PartSpec:
    gateway = cfg.url(cfg.gateway.port)
    return _exporter_spec(
        cfg,
        "inference",
        "slakit.exporters.inference",
        cfg.exporters.inference,
        {
            "SLAKIT_INFERENCE_EXPORTER_OPENAI_URL": gateway,
            "SLAKIT_INFERENCE_EXPORTER_GATEWAY_URL": gateway,
            "SLAKIT_INFERENCE_EXPORTER_MODEL": cfg.vllm.served_model_name,
            "SLAKIT_INFERENCE_EXPORTER_INTERVAL_S": str(cfg.exporters.probe_interval_s),
        },
    )


def alerts_file(cfg: StackConfig) -> Path:
    """Where the webhook receiver appends every alert notification."""
    return cfg.state_dir / "alerts.jsonl"


Part = tuple[str, Callable[[StackConfig], PartSpec], tuple[str, ...]]

# Start order. Each entry: (part name, spec builder, names it must wait for first).
PARTS: list[Part] = [
    ("elasticsearch", elasticsearch.spec, ()),
    ("jaeger", jaeger.spec, ()),
    ("engine", vllm.engine_spec, ()),
    ("webhook", webhook_spec, ()),
    ("shipper", shipper.spec, ("elasticsearch",)),
    ("alertmanager", monitoring.alertmanager_spec, ("webhook",)),
    ("gateway", gateway_spec, ("elasticsearch", "engine")),
    ("gpu-exporter", gpu_exporter_spec, ()),
    ("es-exporter", es_exporter_spec, ("elasticsearch",)),
    ("inference-exporter", inference_exporter_spec, ("gateway",)),
    (
        "prometheus",
        monitoring.prometheus_spec,
        ("gateway", "alertmanager", "gpu-exporter", "es-exporter", "inference-exporter"),
    ),
]


def replica_key(replica: int) -> str:
    """The part key of engine replica `replica` (from 1) in `parts_for`."""
    return f"engine-{replica}"


def parts_for(cfg: StackConfig) -> list[Part]:
    """PARTS for this config: with `replicas` > 1 the engine is that many replicas
    (`engine-1`, ...) and the balancer in front of them, which whoever waited for the
    engine now waits for."""
    if cfg.replicas == 1:
        return PARTS
    replicas = [
        (replica_key(i), partial(vllm.engine_spec, replica=i), ())
        for i in range(1, cfg.replicas + 1)
    ]
    out: list[Part] = []
    for key, build, deps in PARTS:
        if key == "engine":
            out += [*replicas, ("balancer", balancer.spec, tuple(k for k, _, _ in replicas))]
        else:
            out.append((key, build, tuple("balancer" if d == "engine" else d for d in deps)))
    return out


def ports(cfg: StackConfig) -> dict[str, tuple[int, str]]:
    """Every loopback port the stack will listen on: owner -> (port, variable to move it)."""
    fields = {
        "elasticsearch": ("elasticsearch", "port"),
        "elasticsearch transport": ("elasticsearch", "transport_port"),
        cfg.engine: (cfg.engine, "port"),
        "webhook": ("webhook", "port"),
        "alertmanager": ("alertmanager", "port"),
        "gateway": ("gateway", "port"),
        "prometheus": ("prometheus", "port"),
        "gpu-exporter": ("exporters.gpu", "port"),
        "es-exporter": ("exporters.elasticsearch", "port"),
        "inference-exporter": ("exporters.inference", "port"),
        "jaeger": ("jaeger", "port"),
        "jaeger query grpc": ("jaeger", "grpc_port"),
        "jaeger otlp grpc": ("jaeger", "otlp_grpc_port"),
        "jaeger otlp http": ("jaeger", "otlp_http_port"),
    }
    if cfg.replicas > 1:
        fields |= {"balancer": ("balancer", "port"), "balancer stats": ("balancer", "stats_port")}
    out = {}
    for owner, (path, field) in fields.items():
        part = cfg
        for name in path.split("."):
            part = getattr(part, name)
        env = "SLAKIT_STACK_" + "__".join([*path.upper().split("."), field.upper()])
        out[owner] = (getattr(part, field), env)
    if cfg.replicas > 1:
        port, env = out.pop(cfg.engine)
        for i in range(1, cfg.replicas + 1):
            out[f"{cfg.engine}-{i}"] = (cfg.replica_ports[i - 1], env)  # replica 1's, +1 each
    return out
