"""What one gateway process needs to know, from command-line arguments and environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from slakit.stack.config import CorpusConfig, GatewayConfig

API_KEYS_ENV = "SLAKIT_GATEWAY_API_KEYS"
RATE_LIMIT_ENV = "SLAKIT_GATEWAY_RATE_LIMIT_RPS"
TRUSTED_PROXIES_ENV = "SLAKIT_GATEWAY_TRUSTED_PROXIES"


def _default(model: type, name: str):
    # Defaults live in slakit.stack.config; read them rather than repeat them.
    return model.model_fields[name].default


@dataclass(frozen=True)
class GatewaySettings:
    engine_url: str  # OpenAI-compatible base URL, e.g. http://127.0.0.1:18000
    es_url: str
    model: str  # served model name sent to the engine
    index: str = _default(CorpusConfig, "index")
    top_k: int = _default(GatewayConfig, "top_k")
    max_tokens: int = _default(GatewayConfig, "max_tokens")
    # Each passage is cut to this many words in the prompt: three full passages (up to
    # 120 words each) overflow the tiny model's 512-token context.
    passage_words: int = 60
    spans_file: Path | None = None
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)  # never printed
    rate_limit_rps: float | None = None  # per key (one shared bucket when auth is off)
    engine_timeout_s: float = 300.0  # longest silence tolerated while reading the engine
    es_timeout_s: float = 10.0
    ready_timeout_s: float = 2.0  # per dependency probe in /ready

    def __post_init__(self) -> None:
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            raise ValueError(f"{RATE_LIMIT_ENV} must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **fields) -> GatewaySettings:
        """`fields` plus API keys and rate limit from the environment (unset = off)."""
        keys = frozenset(k.strip() for k in environ.get(API_KEYS_ENV, "").split(",") if k.strip())
        rate = environ.get(RATE_LIMIT_ENV, "").strip()
        return cls(**fields, api_keys=keys, rate_limit_rps=float(rate) if rate else None)
