"""GPU exporter: NVML readings under dcgm-exporter's metric names and labels.

Dashboards and alerts written for NVIDIA's dcgm-exporter work unchanged, without running
DCGM's host engine. A node without NVML or without a GPU still serves: it reports
`slakit_gpu_nvml_up 0` with the reason and retries `nvmlInit` on every scrape, so it
recovers once a driver appears. An NVML error on one device or one field drops only that
reading and is counted; the other devices are still reported. The mapping from NVML calls
to metric names and units is in `exporters/README.md` (repository root).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pynvml
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from slakit.errors import InputError
from slakit.exporters.common import BoundedCollector, serve
from slakit.exporters.settings import ExporterSettings

log = logging.getLogger("slakit.exporters.gpu")

DEFAULT_PORT = 19400
PREFIX = "slakit_gpu"
MIB = 1024 * 1024
KIB = 1024  # NVML's PCIe throughput is in KB/s; KB taken as 1024 bytes

# The labels dcgm-exporter puts on every per-GPU series (its `pci_bus_id` and
# `DCGM_FI_DRIVER_VERSION` labels are left out; the driver version is on slakit_gpu_nvml_info).
DEVICE_LABELS = ["gpu", "UUID", "device", "modelName", "Hostname"]

# NVML's clock event ("throttle") reason bits, by the name used in `slakit_gpu_throttle_reason`.
THROTTLE_REASONS = {
    "gpu_idle": pynvml.nvmlClocksEventReasonGpuIdle,
    "applications_clocks_setting": pynvml.nvmlClocksEventReasonApplicationsClocksSetting,
    "sw_power_cap": pynvml.nvmlClocksEventReasonSwPowerCap,
    "hw_slowdown": pynvml.nvmlClocksEventReasonHwSlowdown,
    "sync_boost": pynvml.nvmlClocksEventReasonSyncBoost,
    "sw_thermal_slowdown": pynvml.nvmlClocksEventReasonSwThermalSlowdown,
    "hw_thermal_slowdown": pynvml.nvmlClocksEventReasonHwThermalSlowdown,
    "hw_power_brake_slowdown": pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown,
    "display_clock_setting": pynvml.nvmlClocksEventReasonDisplayClockSetting,
}

# NVML error code -> label-safe reason, e.g. 12 -> "library_not_found", 15 -> "gpu_is_lost".
_ERROR_REASONS = {
    value: name.removeprefix("NVML_ERROR_").lower()
    for name, value in vars(pynvml).items()
    if name.startswith("NVML_ERROR_") and isinstance(value, int)
}


def error_reason(exc: Exception) -> str:
    """A short, label-safe reason for an NVML failure."""
    if isinstance(exc, pynvml.NVMLLibraryMismatchError):
        return "library_mismatch"
    code = getattr(exc, "value", None)
    return _ERROR_REASONS.get(code, f"nvml_error_{code}")


class GpuExporterConfig(ExporterSettings):
    """The GPU exporter's settings. Command-line flags win over `SLAKIT_GPU_EXPORTER_<FIELD>`
    environment variables, which win over the YAML file (`--config`), then defaults."""

    model_config = SettingsConfigDict(
        env_prefix="SLAKIT_GPU_EXPORTER_", extra="forbid", validate_assignment=True
    )

    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    timeout_s: float = Field(5.0, gt=0)
    hostname: str = Field(default_factory=socket.gethostname)  # the `Hostname` label


load_config = GpuExporterConfig.load


@dataclass(frozen=True)
class _Field:
    """One dcgm-named per-GPU gauge: how to read it from NVML, in the exported unit."""

    name: str
    help: str
    read: Callable[[Any, Any], float]  # (nvml, handle) -> value


def _ecc(error_type: int, counter_type: int) -> Callable[[Any, Any], float]:
    return lambda nvml, h: nvml.nvmlDeviceGetTotalEccErrors(h, error_type, counter_type)


_SBE, _DBE = pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
_VOL, _AGG = pynvml.NVML_VOLATILE_ECC, pynvml.NVML_AGGREGATE_ECC

# dcgm-exporter declares the ECC totals as counters, but prometheus_client renders a counter
# family as `<name>_total`, which would break the names; they are gauges holding NVML's
# monotonic counts (rate()/increase() work the same).
FIELDS = (
    _Field(
        "DCGM_FI_DEV_GPU_UTIL",
        "GPU utilization (in %).",
        lambda nvml, h: nvml.nvmlDeviceGetUtilizationRates(h).gpu,
    ),
    _Field(
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "Memory utilization (in %).",
        lambda nvml, h: nvml.nvmlDeviceGetUtilizationRates(h).memory,
    ),
    _Field(
        "DCGM_FI_DEV_FB_USED",
        "Framebuffer memory used (in MiB).",
        lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).used // MIB,
    ),
    _Field(
        "DCGM_FI_DEV_FB_FREE",
        "Framebuffer memory free (in MiB).",
        lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).free // MIB,
    ),
    _Field(
        "DCGM_FI_DEV_FB_TOTAL",
        "Framebuffer memory total (in MiB).",
        lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).total // MIB,
    ),
    _Field(
        "DCGM_FI_DEV_GPU_TEMP",
        "GPU temperature (in C).",
        lambda nvml, h: nvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
    ),
    _Field(
        "DCGM_FI_DEV_POWER_USAGE",
        "Power draw (in W).",
        lambda nvml, h: nvml.nvmlDeviceGetPowerUsage(h) / 1000,
    ),
    _Field(
        "DCGM_FI_DEV_POWER_MGMT_LIMIT",
        "Power management limit (in W).",
        lambda nvml, h: nvml.nvmlDeviceGetPowerManagementLimit(h) / 1000,
    ),
    _Field(
        "DCGM_FI_DEV_SM_CLOCK",
        "SM clock frequency (in MHz).",
        lambda nvml, h: nvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
    ),
    _Field(
        "DCGM_FI_DEV_MEM_CLOCK",
        "Memory clock frequency (in MHz).",
        lambda nvml, h: nvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM),
    ),
    _Field(
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        "PCIe transmit rate (in bytes/s; NVML's 20 ms KB/s sample x 1024).",
        lambda nvml, h: nvml.nvmlDeviceGetPcieThroughput(h, pynvml.NVML_PCIE_UTIL_TX_BYTES) * KIB,
    ),
    _Field(
        "DCGM_FI_PROF_PCIE_RX_BYTES",
        "PCIe receive rate (in bytes/s; NVML's 20 ms KB/s sample x 1024).",
        lambda nvml, h: nvml.nvmlDeviceGetPcieThroughput(h, pynvml.NVML_PCIE_UTIL_RX_BYTES) * KIB,
    ),
    _Field(
        "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
        "Total number of single-bit volatile ECC errors.",
        _ecc(_SBE, _VOL),
    ),
    _Field(
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "Total number of double-bit volatile ECC errors.",
        _ecc(_DBE, _VOL),
    ),
    _Field(
        "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
        "Total number of single-bit persistent ECC errors.",
        _ecc(_SBE, _AGG),
    ),
    _Field(
        "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
        "Total number of double-bit persistent ECC errors.",
        _ecc(_DBE, _AGG),
    ),
)
THROTTLE_FIELD = "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
PROCESS_FIELD = "processes"


class _Scrape:
    """The families of one collection, filled device by device."""

    def __init__(self) -> None:
        self.fields = {
            f.name: GaugeMetricFamily(f.name, f.help, labels=DEVICE_LABELS) for f in FIELDS
        }
        self.throttle_mask = GaugeMetricFamily(
            THROTTLE_FIELD,
            "Current clock throttle reasons (bitmask of NVML's reasons).",
            labels=DEVICE_LABELS,
        )
        self.throttle = GaugeMetricFamily(
            f"{PREFIX}_throttle_reason",
            "1 if the GPU's clocks are held down for this reason now, else 0.",
            labels=[*DEVICE_LABELS, "reason"],
        )
        self.processes = GaugeMetricFamily(
            f"{PREFIX}_process_memory_used_bytes",
            "GPU memory used by a process (compute or graphics), in bytes.",
            labels=["gpu", "UUID", "pid", "process_name"],
        )

    def families(self) -> list[Metric]:
        every = [*self.fields.values(), self.throttle_mask, self.throttle, self.processes]
        return [family for family in every if family.samples]


class GpuSource:
    """Reads every GPU through `nvml`: the real `pynvml` by default, or any object with the
    same `nvml*` functions (the tests' stand-in). Constants and error classes always come from
    the real `pynvml`, which imports without a driver."""

    target = "nvml"

    def __init__(self, nvml: Any = pynvml, hostname: str | None = None) -> None:
        self.nvml = nvml
        self.hostname = hostname or socket.gethostname()
        self.errors: Counter[tuple[str, str, str]] = Counter()  # (gpu, field, reason)
        self._initialized = False
        self._state = ""  # last logged NVML state, so changes are logged once
        self._lock = threading.Lock()  # a timed-out collection may still run in the pool

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            return self._collect()

    def _collect(self) -> list[Metric]:
        scrape = _Scrape()
        reason, count, driver = self._init(), 0, ""
        if reason is None:
            try:
                count = self.nvml.nvmlDeviceGetCount()
                driver = self.nvml.nvmlSystemGetDriverVersion()
            except pynvml.NVMLError as exc:
                reason = self._lost(exc)
            else:
                reason = None if count else "no_gpu"
        for index in range(count if reason is None else 0):
            self._device(index, scrape)
        self._log_state(reason, count)
        return [*scrape.families(), *self._health(reason, driver)]

    def _init(self) -> str | None:
        """nvmlInit unless already done; the reason if it failed."""
        if not self._initialized:
            try:
                self.nvml.nvmlInit()
            except pynvml.NVMLError as exc:
                return self._count("", "init", exc)
            self._initialized = True
        return None

    def _lost(self, exc: pynvml.NVMLError) -> str:
        """NVML stopped answering (driver unloaded, reset): start over on the next scrape."""
        reason = self._count("", "system", exc)
        try:
            self.nvml.nvmlShutdown()
        except pynvml.NVMLError:
            log.debug("nvmlShutdown failed after %s", reason)
        self._initialized = False
        return reason

    def _device(self, index: int, scrape: _Scrape) -> None:
        nvml, gpu = self.nvml, str(index)
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = nvml.nvmlDeviceGetUUID(handle)
            labels = [gpu, uuid, f"nvidia{index}", nvml.nvmlDeviceGetName(handle), self.hostname]
        except pynvml.NVMLError as exc:
            self._count(gpu, "device", exc)
            return
        for field in FIELDS:
            value = self._read(gpu, field.name, lambda f=field: f.read(nvml, handle))
            if value is not None:
                scrape.fields[field.name].add_metric(labels, value)
        mask = self._read(gpu, THROTTLE_FIELD, lambda: self._throttle_reasons(handle))
        if mask is not None:
            scrape.throttle_mask.add_metric(labels, mask)
            for name, bit in THROTTLE_REASONS.items():
                scrape.throttle.add_metric([*labels, name], 1.0 if mask & bit else 0.0)
        procs = self._read(gpu, PROCESS_FIELD, lambda: self._process_memory(handle))
        for pid, used in sorted((procs or {}).items()):
            scrape.processes.add_metric([gpu, uuid, str(pid), self._process_name(pid)], used)

    def _read(self, gpu: str, field: str, read: Callable[[], Any]) -> Any:
        """`read()`, or None if NVML failed (counted) or the GPU lacks the feature (not)."""
        try:
            return read()
        except pynvml.NVMLError_NotSupported:
            return None  # e.g. ECC on consumer boards: absent, as in dcgm-exporter
        except (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError) as exc:
            self._count(gpu, field, exc)
            return None

    def _throttle_reasons(self, handle: Any) -> int:
        # The "clocks event" call replaced the deprecated "throttle" one in driver R535.
        try:
            return self.nvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
        except pynvml.NVMLError_FunctionNotFound:
            return self.nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)

    def _process_memory(self, handle: Any) -> dict[int, int]:
        """pid -> bytes over compute and graphics processes (a process may be in both)."""
        used: dict[int, int] = {}
        for listing in (
            self.nvml.nvmlDeviceGetComputeRunningProcesses,
            self.nvml.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            for proc in listing(handle):
                if proc.usedGpuMemory is not None:  # None: not visible (e.g. no permission)
                    used[proc.pid] = max(used.get(proc.pid, 0), proc.usedGpuMemory)
        return used

    def _process_name(self, pid: int) -> str:
        try:
            return self.nvml.nvmlSystemGetProcessName(pid)
        except pynvml.NVMLError:
            return ""  # exited since the listing, or outside this PID namespace

    def _count(self, gpu: str, field: str, exc: Exception) -> str:
        reason = error_reason(exc)
        key = (gpu, field, reason)
        # A device's failure is warned about once; NVML-wide ones are logged by _log_state.
        level = logging.WARNING if gpu and key not in self.errors else logging.DEBUG
        log.log(level, "nvml: gpu %r %s failed: %s (%s)", gpu, field, reason, exc)
        self.errors[key] += 1
        return reason

    def _log_state(self, reason: str | None, count: int) -> None:
        state = reason or f"{count} GPU(s)"
        if state != self._state:
            if reason:
                log.warning(
                    "NVML unavailable (%s): serving %s_nvml_up 0, retrying on every scrape",
                    reason,
                    PREFIX,
                )
            else:
                log.info("NVML up: %s", state)
            self._state = state

    def _health(self, reason: str | None, driver: str) -> list[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_nvml_up", "1 if NVML answered and sees at least one GPU, else 0."
        )
        up.add_metric([], 0.0 if reason else 1.0)
        info = InfoMetricFamily(
            f"{PREFIX}_nvml", "Why NVML is down (reason), or ok; the driver version."
        )
        info.add_metric([], {"reason": reason or "ok", "driver_version": driver})
        errors = CounterMetricFamily(
            f"{PREFIX}_nvml_errors",
            "NVML calls that failed, by GPU index (empty: not per GPU), field and reason.",
            labels=["gpu", "field", "reason"],
        )
        for (gpu, field, why), n in sorted(self.errors.items()):
            errors.add_metric([gpu, field, why], n)
        return [up, info, errors]


def build_registry(cfg: GpuExporterConfig, nvml: Any = pynvml) -> CollectorRegistry:
    """A registry holding the GPU source behind BoundedCollector."""
    registry = CollectorRegistry()
    source = GpuSource(nvml, hostname=cfg.hostname)
    registry.register(BoundedCollector(PREFIX, source, timeout_s=cfg.timeout_s))
    return registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m slakit.exporters.gpu",
        description="Serve NVML GPU metrics under dcgm-exporter's names on /metrics.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--config", type=Path, help="YAML file with the same fields")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    flags = {name: getattr(args, name) for name in ("host", "port")}
    try:
        cfg = load_config(args.config, **{k: v for k, v in flags.items() if v is not None})
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_code
    try:
        serve(build_registry(cfg), cfg.host, cfg.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", cfg.host, cfg.port, exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
