"""The inference exporter's settings (flags > `SLAKIT_INFERENCE_EXPORTER_<FIELD>` > `--config`
> defaults). The API key is never logged or exported."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from slakit.catalogue import defaults
from slakit.settings import ServiceSettings

DEFAULT_PORT = defaults.PORTS["inference_exporter"]  # the embedded stack's


class InferenceExporterConfig(ServiceSettings):
    """What to probe and how often. The API key is never logged or exported."""

    model_config = SettingsConfigDict(env_prefix="SLAKIT_INFERENCE_EXPORTER_", extra="forbid")

    openai_url: str = defaults.url("gateway")  # vLLM itself or the gateway; no /v1
    model: str | None = None  # default: the first model /v1/models lists
    gateway_url: str | None = None  # set to probe the gateway's /rag/query too
    api_key: SecretStr | None = None  # sent as `Authorization: Bearer` to both URLs
    interval_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    prompt: str = Field("Say hello in one short sentence.", min_length=1)
    max_tokens: int = Field(16, ge=1)
    rag_query: str = Field("how to parse json", min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)

    @field_validator("openai_url", "gateway_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("put credentials in api_key, not in the URL (URLs are logged)")
        # OpenAI clients' base URLs end in /v1; the probe adds /v1/... itself.
        return value.rstrip("/").removesuffix("/v1")


load_config = InferenceExporterConfig.load
