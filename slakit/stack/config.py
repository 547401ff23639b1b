"""Every knob of the embedded stack, with its default, in one place.

Versions, heap sizes and timeouts are defined here and nowhere else; ports, the model, the
index and the corpus size come from `slakit/catalogue/defaults.py`, which the exporters
and scenarios read too. Values come
from (highest first) command-line flags, environment variables `SLAKIT_STACK_<FIELD>`
(nested with `__`, e.g. `SLAKIT_STACK_GATEWAY__PORT=18081`), a YAML file (`--config`),
then defaults.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict

from slakit.catalogue.defaults import CORPUS_DOCS, INDEX, MAX_MODEL_LEN, MODEL, PORTS
from slakit.paths import cache_dir
from slakit.settings import ServiceSettings

Port = int  # validated by `_port` below


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: Port

    @field_validator(
        "port", "stats_port", "grpc_port", "otlp_grpc_port", "otlp_http_port", check_fields=False
    )
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1024 <= value <= 65535:
            raise ValueError("expected a port between 1024 and 65535")
        return value


class ElasticsearchConfig(_Part):
    port: Port = PORTS["elasticsearch"]
    transport_port: Port = PORTS["elasticsearch_transport"]
    version: str = "8.19.7"  # integ-test-zip from Maven Central; runs on Java 17
    heap: str = Field("512m", pattern=r"^\d+[mg]$")
    user: str = "slakit"  # Elasticsearch refuses root: run as this user when we are root
    secure: bool = Field(
        False, description="security on: HTTPS with a generated CA, one user per part"
    )
    start_timeout_s: float = 180


class VllmConfig(_Part):
    port: Port = PORTS["engine"]
    served_model_name: str = MODEL
    max_model_len: int = MAX_MODEL_LEN
    kv_cache_gib: int = 1
    start_timeout_s: float = 300


class SimConfig(_Part):
    """The simulated engine: same API and vLLM-named metrics, delays and faults on demand."""

    port: Port = PORTS["engine"]
    ttft_ms: float = Field(20.0, ge=0)
    token_delay_ms: float = Field(2.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    stall_rate: float = Field(0.0, ge=0, le=1)
    stall_s: float = Field(5.0, ge=0)
    start_timeout_s: float = 30


MAX_REPLICAS = 8
"""Engine replicas `stack up --replicas` starts at most: their ports are the engine's + 0..7."""


class BalancerConfig(_Part):
    """HAProxy in front of the engine replicas when there are several (`slakit.stack.balancer`):
    least connections, active checks of `/health`, and a circuit breaker on responses."""

    port: Port = PORTS["balancer"]
    stats_port: Port = PORTS["balancer_stats"]
    check_interval_s: float = Field(
        2.0, gt=0, description="active /health check period of a replica in the pool"
    )
    probe_interval_s: float = Field(
        1.0, gt=0, description="check period of one out or changing state: the half-open probe"
    )
    rise: int = Field(2, ge=1, description="passed checks that bring an instance back")
    fall: int = Field(2, ge=1, description="failed checks that take an instance out")
    error_limit: int = Field(
        5, ge=1, description="consecutive failed responses that open the breaker (seed 004)"
    )
    retries: int = Field(2, ge=0, description="tries on another instance before any answer")
    connect_timeout_s: float = Field(
        0.2, gt=0, description="connect limit; HAProxy also waits min(this, 1 s) to retry"
    )
    timeout_s: float = Field(300, gt=0, description="idle limit of a request or a stream")
    start_timeout_s: float = 15


class GatewayConfig(_Part):
    port: Port = PORTS["gateway"]
    top_k: int = Field(3, ge=1, le=20)
    max_tokens: int = Field(48, ge=1)
    start_timeout_s: float = 30


class PrometheusConfig(_Part):
    port: Port = PORTS["prometheus"]
    scrape_interval: str = Field("5s", pattern=r"^\d+(ms|s|m)$")
    start_timeout_s: float = 30


class AlertmanagerConfig(_Part):
    port: Port = PORTS["alertmanager"]
    start_timeout_s: float = 30


class WebhookConfig(_Part):
    """slakit's own alert receiver: appends every notification to alerts.jsonl."""

    port: Port = PORTS["webhook"]
    start_timeout_s: float = 15


class ShipperConfig(BaseModel):
    """rsyslog shipping the parts' ECS logs into Elasticsearch (`slakit.stack.shipper`), and
    the data streams' lifecycle (seed 000: rollover by size and age, then warm)."""

    model_config = ConfigDict(extra="forbid")

    rollover_max_size: str = Field("50gb", pattern=r"^\d+(b|kb|mb|gb|tb)$")
    rollover_max_age: str = Field("30d", pattern=r"^\d+(s|m|h|d)$")
    warm_after: str = Field("30d", pattern=r"^\d+(s|m|h|d)$")
    replicas: int = Field(0, ge=0, description="of each backing index (0: one node)")
    start_timeout_s: float = 15


class ExporterConfig(_Part):
    """One of slakit's exporters, run as a part of the stack and scraped by Prometheus."""

    start_timeout_s: float = 30


class ExportersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gpu: ExporterConfig = ExporterConfig(port=PORTS["gpu_exporter"])  # no GPU: nvml_up 0
    elasticsearch: ExporterConfig = ExporterConfig(port=PORTS["es_exporter"])
    inference: ExporterConfig = ExporterConfig(port=PORTS["inference_exporter"])
    probe_interval_s: float = Field(5.0, gt=0, description="inference canary period")


JAEGER_VERSION = "v1.75.0"
"""The Jaeger release scripts/bootstrap.sh builds (it reads this line): the newest one this
machine's Go proxy approves; v1.76.0 and later are served but not approved releases."""


class JaegerConfig(_Part):
    """Jaeger v2 (an OpenTelemetry Collector with Jaeger's storage and query), built by
    scripts/bootstrap.sh: the gateway's and the engine's spans in over OTLP, kept in
    memory, read back by the run report (`slakit.traces`) from the query API on `port`."""

    port: Port = PORTS["jaeger_query"]  # query HTTP API and UI
    grpc_port: Port = PORTS["jaeger_query_grpc"]  # query gRPC API (the extension serves both)
    otlp_grpc_port: Port = PORTS["jaeger_otlp_grpc"]
    otlp_http_port: Port = PORTS["jaeger_otlp_http"]
    version: str = JAEGER_VERSION
    max_traces: int = Field(
        100_000, ge=1000, description="traces kept in memory; the oldest go first"
    )
    start_timeout_s: float = 30


class CorpusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: str = INDEX
    max_docs: int = Field(CORPUS_DOCS, ge=10)


class StackConfig(ServiceSettings):
    """The embedded stack. `slakit stack up --config FILE` reads the same fields from YAML,
    by the settings mechanism of every service part (`slakit.settings`)."""

    model_config = SettingsConfigDict(
        env_prefix="SLAKIT_STACK_", env_nested_delimiter="__", extra="forbid"
    )

    state_dir: Path = Path(".slakit/stack")
    cache_dir: Path = Field(default_factory=cache_dir)
    host: str = "127.0.0.1"
    engine: Literal["vllm", "sim"] = "vllm"
    replicas: int = Field(
        1, ge=1, le=MAX_REPLICAS, description="engine instances; more than one: behind HAProxy"
    )
    elasticsearch: ElasticsearchConfig = ElasticsearchConfig()
    vllm: VllmConfig = VllmConfig()
    sim: SimConfig = SimConfig()
    balancer: BalancerConfig = BalancerConfig()
    gateway: GatewayConfig = GatewayConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    webhook: WebhookConfig = WebhookConfig()
    exporters: ExportersConfig = ExportersConfig()
    jaeger: JaegerConfig = JaegerConfig()
    corpus: CorpusConfig = CorpusConfig()
    shipper: ShipperConfig = ShipperConfig()

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        try:
            loopback = ipaddress.ip_address(value).is_loopback
        except ValueError:
            loopback = value == "localhost"
        if not loopback:
            raise ValueError("the embedded stack listens on loopback only (127.0.0.1 or ::1)")
        return value

    @property
    def engine_port(self) -> int:
        """The engine's port; replica i (from 1) listens on this + i - 1."""
        return self.vllm.port if self.engine == "vllm" else self.sim.port

    @property
    def replica_ports(self) -> list[int]:
        return [self.engine_port + i for i in range(self.replicas)]

    @property
    def engine_url(self) -> str:
        """Where generation goes: the one engine, or the balancer in front of several."""
        return self.url(self.balancer.port if self.replicas > 1 else self.engine_port)

    def address(self, port: int) -> str:
        """host:port as URLs and config files write it (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{port}"

    def url(self, port: int) -> str:
        return f"http://{self.address(port)}"

    @property
    def es_url(self) -> str:
        """Elasticsearch's URL: https:// when it runs with security (`stack up --secure`)."""
        scheme = "https" if self.elasticsearch.secure else "http"
        return f"{scheme}://{self.address(self.elasticsearch.port)}"


def load_stack_config(path: Path | None = None, **overrides: object) -> StackConfig:
    """Defaults < YAML file < environment (`SLAKIT_STACK_*`) < explicit overrides (CLI flags;
    a nested part's given fields merge into it). Constructing `StackConfig(...)` directly
    gives its arguments the last word too, so a test's or a caller's explicit values are
    never changed by the ambient environment. InputError with file:line on problems."""
    return StackConfig.load(path, **overrides)
