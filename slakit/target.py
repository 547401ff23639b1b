"""Where a scenario's load goes: the embedded stack or explicit URLs, checked before load.

An unreachable target is bad input (exit 2) and is reported per URL before any load is
offered. Credentials are read from the environment variable the scenario names.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import httpx

from slakit.errors import InputError
from slakit.scenario import EmbeddedTarget, ExplicitTarget, Scenario
from slakit.stack.config import StackConfig


@dataclass
class ResolvedTarget:
    """Base URLs the load and the metric queries use. `None` where the target has none."""

    openai: str | None
    gateway: str | None
    elasticsearch: str | None
    prometheus: str | None
    model: str
    engine: str  # vllm | sim | external
    api_key_env: str | None = None

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def public(self) -> dict:
        """For reports: URLs and names, never the key itself."""
        return asdict(self)


def from_stack(cfg: StackConfig) -> ResolvedTarget:
    return ResolvedTarget(
        openai=cfg.url(cfg.gateway.port),
        gateway=cfg.url(cfg.gateway.port),
        elasticsearch=cfg.url(cfg.elasticsearch.port),
        prometheus=cfg.url(cfg.prometheus.port),
        model=cfg.vllm.served_model_name,
        engine=cfg.engine,
    )


def from_explicit(t: ExplicitTarget) -> ResolvedTarget:
    return ResolvedTarget(
        openai=t.openai or t.gateway,
        gateway=t.gateway,
        elasticsearch=t.elasticsearch,
        prometheus=t.prometheus,
        model=t.model,
        engine="external",
        api_key_env=t.api_key_env,
    )


# What each request kind needs from the target, and how to see that it answers.
NEEDS = {
    "chat": ("openai", "/v1/models"),
    "completions": ("openai", "/v1/models"),
    "rag": ("gateway", "/health"),
    "es_search": ("elasticsearch", "/_cluster/health"),
    "es_bulk": ("elasticsearch", "/_cluster/health"),
}


def check_reachable(scenario: Scenario, target: ResolvedTarget) -> None:
    """One line per missing or unreachable URL the workload needs; InputError if any."""
    problems = []
    needed = {NEEDS[k.kind] for k in scenario.workload}
    if target.api_key_env and not target.api_key:
        problems.append(f"target.api_key_env: environment variable {target.api_key_env} is not set")
    for attr, path in sorted(needed):
        base = getattr(target, attr)
        if not base:
            problems.append(f"target.{attr}: the workload needs it, but no URL is given")
            continue
        headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        try:
            httpx.get(base + path, headers=headers, timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            problems.append(f"target unreachable: {attr} {base}{path}: {type(exc).__name__}: {exc}")
    if problems:
        raise InputError(*problems)


def is_embedded(scenario: Scenario) -> bool:
    return isinstance(scenario.target, EmbeddedTarget)
