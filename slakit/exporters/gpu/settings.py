"""The GPU exporter's settings (flags > `SLAKIT_GPU_EXPORTER_<FIELD>` > `--config` > defaults)."""

from __future__ import annotations

import socket

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from slakit.catalogue.defaults import PORTS
from slakit.settings import ServiceSettings

DEFAULT_PORT = PORTS["gpu_exporter"]  # the embedded stack's


class GpuExporterConfig(ServiceSettings):
    """Where to listen, how long a collection may take, and the `Hostname` label."""

    model_config = SettingsConfigDict(env_prefix="SLAKIT_GPU_EXPORTER_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    timeout_s: float = Field(5.0, gt=0)
    hostname: str = Field(default_factory=socket.gethostname)  # the `Hostname` label


load_config = GpuExporterConfig.load
