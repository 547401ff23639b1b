"""The Elasticsearch exporter's settings (flags > `SLAKIT_ES_EXPORTER_<FIELD>` > `--config` >
defaults). Credentials are SecretStr: sent only in the Authorization header, never logged."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from slakit.catalogue import defaults
from slakit.settings import ServiceSettings

DEFAULT_PORT = defaults.PORTS["es_exporter"]  # the embedded stack's


class EsExporterConfig(ServiceSettings):
    """Which node to read and how, where to listen, what the canary and freshness ask."""

    model_config = SettingsConfigDict(env_prefix="SLAKIT_ES_EXPORTER_", extra="forbid")

    url: str = defaults.url("elasticsearch")
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_file: FilePath | None = None
    verify_tls: bool = True
    timeout_s: float = Field(5.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    canary_index: str = defaults.INDEX
    canary_query: str = "parse json document"
    canary_interval_s: float = Field(10, gt=0)
    freshness_index: str | None = None
    freshness_field: str = "indexed_at"
    clusterinfo_interval_s: float = Field(300, gt=0)  # the community exporter's default

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
    def _one_credential(self) -> EsExporterConfig:
        if self.api_key is not None and (self.username or self.password is not None):
            raise ValueError("set either api_key or username/password, not both")
        if self.password is not None and not self.username:
            raise ValueError("password is set but username is not")
        return self


load_config = EsExporterConfig.load
