"""What one gateway process needs to know: flags > environment (SLAKIT_GATEWAY_<FIELD>) >
a YAML file (`--config`) > defaults, by the one mechanism slakit's settings use
(`slakit.settings.ServiceSettings`). API keys have no flag: they come from the
environment or the file, so they never show in a process list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from slakit.es_auth import EsAuth
from slakit.settings import ServiceSettings
from slakit.stack.config import CorpusConfig, GatewayConfig

ENV_PREFIX = "SLAKIT_GATEWAY_"
API_KEYS_ENV = f"{ENV_PREFIX}API_KEYS"
RATE_LIMIT_ENV = f"{ENV_PREFIX}RATE_LIMIT_RPS"
TRUSTED_PROXIES_ENV = f"{ENV_PREFIX}TRUSTED_PROXIES"
ES_ENV_PREFIX = f"{ENV_PREFIX}ES__"  # + USERNAME, PASSWORD, API_KEY, CA_FILE, VERIFY_TLS


def _default(model: type, name: str):
    # Defaults live in slakit.stack.config; read them rather than repeat them.
    return model.model_fields[name].default


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    engine_url: str  # OpenAI-compatible base URL, e.g. http://127.0.0.1:18000
    es_url: str
    # Elasticsearch credential and TLS trust: environment (SLAKIT_GATEWAY_ES__PASSWORD, ...)
    # or the file's `es:` mapping, never a flag.
    es: EsAuth = Field(default_factory=EsAuth)
    model: str  # served model name sent to the engine
    index: str = _default(CorpusConfig, "index")
    top_k: int = Field(_default(GatewayConfig, "top_k"), ge=1)
    max_tokens: int = Field(_default(GatewayConfig, "max_tokens"), ge=1)
    # Each passage is cut to this many words in the prompt, which keeps its prefill (and
    # so RAG's time to first token) small; the context (VllmConfig.max_model_len) would
    # hold whole passages.
    passage_words: int = Field(60, ge=1)
    spans_file: Path | None = None
    # Comma-separated in the environment; never printed.
    api_keys: Annotated[frozenset[str], NoDecode] = Field(frozenset(), repr=False)
    rate_limit_rps: float | None = Field(None, gt=0)  # per key (shared when auth is off)
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses); none: only
    # the connection's own address counts.
    trusted_proxies: str | None = None
    engine_timeout_s: float = Field(300.0, gt=0)  # longest silence tolerated from the engine
    es_timeout_s: float = Field(10.0, gt=0)
    ready_timeout_s: float = Field(2.0, gt=0)  # per dependency probe in /ready

    @field_validator("api_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(k.strip() for k in value.split(",") if k.strip())
        return value
