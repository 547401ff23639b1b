"""GPU exporter: NVML readings under dcgm-exporter's metric names and labels.

Dashboards and alerts written for NVIDIA's dcgm-exporter work unchanged, without running
DCGM's host engine. `families` holds the names and how NVML reads each, `source` the
collection (per-device error isolation, `slakit_gpu_nvml_up 0` without a driver).

    python -m slakit.exporters.gpu --config gpu-exporter.yaml
"""

from __future__ import annotations

from typing import Any

import pynvml
from prometheus_client import CollectorRegistry

from slakit.exporters.common import BoundedCollector
from slakit.exporters.entry import Exporter
from slakit.exporters.entry import main as run
from slakit.exporters.gpu.families import (
    DEVICE_LABELS,
    FIELDS,
    PREFIX,
    THROTTLE_FIELD,
    THROTTLE_REASONS,
)
from slakit.exporters.gpu.settings import DEFAULT_PORT, GpuExporterConfig, load_config
from slakit.exporters.gpu.source import GpuSource

__all__ = [
    "DEFAULT_PORT",
    "DEVICE_LABELS",
    "FIELDS",
    "THROTTLE_FIELD",
    "THROTTLE_REASONS",
    "GpuExporterConfig",
    "GpuSource",
    "build_registry",
    "load_config",
    "main",
]


def build_registry(cfg: GpuExporterConfig, nvml: Any = pynvml) -> CollectorRegistry:
    """A registry holding the GPU source behind BoundedCollector."""
    registry = CollectorRegistry()
    source = GpuSource(nvml, hostname=cfg.hostname)
    registry.register(BoundedCollector(PREFIX, source, timeout_s=cfg.timeout_s))
    return registry


EXPORTER = Exporter(
    module=__name__,
    about="Serve NVML GPU metrics under dcgm-exporter's names on /metrics.",
    settings=GpuExporterConfig,
    build=lambda cfg: (build_registry(cfg), None),
    started=lambda cfg: f"reading every GPU through NVML (Hostname label {cfg.hostname!r})",
)


def main(argv: list[str] | None = None) -> int:
    """`python -m slakit.exporters.gpu` and `slakit-gpu-exporter`."""
    return run(EXPORTER, argv)
