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

# Ports for the test session's stack: the defaults + 10000, away from a running demo.
# Tests that need a second stack shift these by 1000 or 2000 (no overlap with these).
TEST_PORTS = {
    "elasticsearch": {"port": 29200, "transport_port": 29300},
    "vllm": {"port": 28000},
    "sim": {"port": 28000},
    "gateway": {"port": 28080},
    "prometheus": {"port": 29090},
    "alertmanager": {"port": 29093},
    "webhook": {"port": 29095},
}


def stack_config(state_dir: Path, engine: str = "vllm", shift: int = 0, **extra) -> StackConfig:
    """A StackConfig on the test ports (moved by `shift`) in `state_dir`."""
    parts = {name: {k: v + shift for k, v in fields.items()} for name, fields in TEST_PORTS.items()}
    return StackConfig(state_dir=state_dir, engine=engine, **{**parts, **extra})


def stack_env(cfg: StackConfig) -> dict[str, str]:
    """Environment that points `slakit` (and an `embedded` scenario target) at `cfg`'s stack."""
    env = {"SLAKIT_STACK_STATE_DIR": str(cfg.state_dir), "SLAKIT_STACK_ENGINE": cfg.engine}
    for part in TEST_PORTS:
        for field, value in getattr(cfg, part).model_dump().items():
            if field.endswith("port"):
                env[f"SLAKIT_STACK_{part.upper()}__{field.upper()}"] = str(value)
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
