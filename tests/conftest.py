"""Shared fixtures. Integration tests run against the real embedded stack: it comes up
once per session on its own ports and state dir (so a developer's own stack on the
default ports is left alone) and goes down at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from slakit.stack import supervisor
from slakit.stack.config import StackConfig
from slakit.stack.parts import ports


def _shift_ports(node: dict, by: int) -> dict:
    """Every `*port` field of a StackConfig dump, moved by `by`."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out[key] = _shift_ports(value, by)
        elif key.endswith("port"):
            out[key] = value + by
    return out


# The test session's stack listens on the default ports + 10000, away from a running demo;
# tests that need a second stack shift further by 1000 or 2000 (no overlap).
_DEFAULTS = StackConfig().model_dump(
    include={
        "elasticsearch",
        "vllm",
        "sim",
        "gateway",
        "prometheus",
        "alertmanager",
        "webhook",
        "exporters",
        "balancer",
        "jaeger",
    }
)


def stack_config(state_dir: Path, engine: str = "vllm", shift: int = 0, **extra) -> StackConfig:
    """A StackConfig on the test ports (moved by `shift`) in `state_dir`."""
    return StackConfig(
        state_dir=state_dir, engine=engine, **{**_shift_ports(_DEFAULTS, 10000 + shift), **extra}
    )


def stack_env(cfg: StackConfig) -> dict[str, str]:
    """Environment that points `slakit` (and an `embedded` scenario target) at `cfg`'s stack."""
    env = {"SLAKIT_STACK_STATE_DIR": str(cfg.state_dir), "SLAKIT_STACK_ENGINE": cfg.engine}
    env["SLAKIT_STACK_REPLICAS"] = str(cfg.replicas)
    if cfg.elasticsearch.secure:
        env["SLAKIT_STACK_ELASTICSEARCH__SECURE"] = "true"
    for port, variable in ports(cfg).values():
        env.setdefault(variable, str(port))  # replicas share the engine's: replica 1's port
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run `python -m slakit ARGS` as a user would; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "slakit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """The real stack (Elasticsearch, vLLM, gateway, Prometheus, Alertmanager, webhook)."""
    cfg = stack_config(
        Path(os.environ.get("SLAKIT_TEST_STATE_DIR") or tmp_path_factory.mktemp("stack"))
    )
    supervisor.up(cfg)
    yield cfg
    supervisor.down(cfg, purge=True)
