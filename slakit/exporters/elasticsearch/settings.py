"""The Elasticsearch exporter's settings (flags > `SLAKIT_ES_EXPORTER_<FIELD>` > `--config` >
defaults). Credentials and TLS trust are `slakit.es_auth.EsAuth`'s fields (username,
password, api_key, ca_file, verify_tls): SecretStr, sent only in the Authorization header,
never logged."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from slakit.catalogue import defaults
from slakit.es_auth import EsAuth
from slakit.settings import ServiceSettings
from slakit.units import parse_duration

DEFAULT_PORT = defaults.PORTS["es_exporter"]  # the embedded stack's


class CountQuery(BaseModel):
    """One count: `query` (Lucene query string, or a query DSL object) on `index` (a
    pattern) over the last `window` of `time_field`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", description="the `query` label")
    index: str = Field(min_length=1)
    query: str | dict[str, Any] = "*"
    window: Annotated[
        float,
        BeforeValidator(parse_duration),
        PlainSerializer(lambda seconds: f"{seconds:g}s", return_type=str),
        Field(gt=0),
    ]
    group_by: str | None = None
    time_field: str = "@timestamp"


class EsExporterConfig(ServiceSettings, EsAuth):
    """Which node to read and how, where to listen, what the canary and freshness ask."""

    model_config = SettingsConfigDict(env_prefix="SLAKIT_ES_EXPORTER_", extra="forbid")

    url: str = defaults.url("elasticsearch")
    timeout_s: float = Field(5.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    canary_index: str = defaults.INDEX
    canary_query: str = "parse json document"
    canary_interval_s: float = Field(10, gt=0)
    freshness_index: str | None = None
    freshness_field: str = "indexed_at"
    clusterinfo_interval_s: float = Field(300, gt=0)  # the community exporter's default
    count_queries: list[CountQuery] = Field(
        default_factory=list, description="counts served as gauges (`count_queries`)"
    )

    @field_validator("url")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL of an Elasticsearch node")
        if parts.username or parts.password:
            # The URL is the `target` label and appears in logs: no secrets in it.
            raise ValueError("put credentials in username/password or api_key, not in the URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _unique_count_names(self) -> EsExporterConfig:
        named = [q.name for q in self.count_queries]
        if len(set(named)) < len(named):
            raise ValueError("two count_queries share a name")
        return self


load_config = EsExporterConfig.load
