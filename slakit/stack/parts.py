"""The stack's parts in start order, each built from StackConfig into a PartSpec."""

from __future__ import annotations

import sys
from collections.abc import Callable

from slakit.stack import elasticsearch, monitoring, vllm
from slakit.stack.config import StackConfig
from slakit.stack.process import PartSpec


def gateway_spec(cfg: StackConfig) -> PartSpec:
    url = cfg.url(cfg.gateway.port)
    return PartSpec(
        name="gateway",
        argv=[
            sys.executable,
            "-m",
            "slakit.stack.gateway",
            "--host",
            cfg.host,
            "--port",
            str(cfg.gateway.port),
            "--engine-url",
            cfg.url(cfg.engine_port),
            "--es-url",
            cfg.url(cfg.elasticsearch.port),
            "--index",
            cfg.corpus.index,
            "--model",
            cfg.vllm.served_model_name,
            "--top-k",
            str(cfg.gateway.top_k),
            "--max-tokens",
            str(cfg.gateway.max_tokens),
            "--spans-file",
            str(cfg.state_dir / "gateway" / "spans.jsonl"),
        ],
        url=url,
        log=cfg.state_dir / "logs" / "gateway.log",
        health_url=f"{url}/ready",
        timeout_s=cfg.gateway.start_timeout_s,
    )


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


def alerts_file(cfg: StackConfig):
    """Where the webhook receiver appends every alert notification."""
    return cfg.state_dir / "alerts.jsonl"


# Start order. Each entry: (part name, spec builder, names it must wait for first).
PARTS: list[tuple[str, Callable[[StackConfig], PartSpec], tuple[str, ...]]] = [
    ("elasticsearch", elasticsearch.spec, ()),
    ("engine", vllm.engine_spec, ()),
    ("webhook", webhook_spec, ()),
    ("alertmanager", monitoring.alertmanager_spec, ("webhook",)),
    ("gateway", gateway_spec, ("elasticsearch", "engine")),
    ("prometheus", monitoring.prometheus_spec, ("gateway", "alertmanager")),
]


def ports(cfg: StackConfig) -> dict[str, int]:
    """Every loopback port the stack will listen on, by owner."""
    return {
        "elasticsearch": cfg.elasticsearch.port,
        "elasticsearch transport": cfg.elasticsearch.transport_port,
        cfg.engine: cfg.engine_port,
        "webhook": cfg.webhook.port,
        "alertmanager": cfg.alertmanager.port,
        "gateway": cfg.gateway.port,
        "prometheus": cfg.prometheus.port,
    }
