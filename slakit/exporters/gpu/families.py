"""The GPU exporter's families as data: dcgm-exporter's names and help, how NVML reads each.

Dashboards and alerts written for NVIDIA's dcgm-exporter read these names unchanged (those
slakit's own rules and dashboards read are the catalogue's, `slakit/catalogue/metrics.py`); the
mapping from NVML calls to names and units is in `exporters/README.md` (repository root).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from slakit.catalogue import metrics as m

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


@dataclass(frozen=True)
class Field:
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
    Field(
        m.GPU_UTIL,
        "GPU utilization (in %).",
        lambda nvml, h: nvml.nvmlDeviceGetUtilizationRates(h).gpu,
    ),
    Field(
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "Memory utilization (in %).",
        lambda nvml, h: nvml.nvmlDeviceGetUtilizationRates(h).memory,
    ),
    Field(
        m.GPU_FB_USED,
        "Framebuffer memory used (in MiB).",
        lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).used // MIB,
    ),
    Field(
        m.GPU_FB_FREE,
        "Framebuffer memory free (in MiB).",
        lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).free // MIB,
    ),
    Field(
        "DCGM_FI_DEV_FB_TOTAL",
        "Framebuffer memory total (in MiB).",
        lambda nvml, h: nvml.nvmlDeviceGetMemoryInfo(h).total // MIB,
    ),
    Field(
        m.GPU_TEMP,
        "GPU temperature (in C).",
        lambda nvml, h: nvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
    ),
    Field(
        m.GPU_POWER,
        "Power draw (in W).",
        lambda nvml, h: nvml.nvmlDeviceGetPowerUsage(h) / 1000,
    ),
    Field(
        m.GPU_POWER_LIMIT,
        "Power management limit (in W).",
        lambda nvml, h: nvml.nvmlDeviceGetPowerManagementLimit(h) / 1000,
    ),
    Field(
        "DCGM_FI_DEV_SM_CLOCK",
        "SM clock frequency (in MHz).",
        lambda nvml, h: nvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
    ),
    Field(
        "DCGM_FI_DEV_MEM_CLOCK",
        "Memory clock frequency (in MHz).",
        lambda nvml, h: nvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM),
    ),
    Field(
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        "PCIe transmit rate (in bytes/s; NVML's 20 ms KB/s sample x 1024).",
        lambda nvml, h: nvml.nvmlDeviceGetPcieThroughput(h, pynvml.NVML_PCIE_UTIL_TX_BYTES) * KIB,
    ),
    Field(
        "DCGM_FI_PROF_PCIE_RX_BYTES",
        "PCIe receive rate (in bytes/s; NVML's 20 ms KB/s sample x 1024).",
        lambda nvml, h: nvml.nvmlDeviceGetPcieThroughput(h, pynvml.NVML_PCIE_UTIL_RX_BYTES) * KIB,
    ),
    Field(
        "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
        "Total number of single-bit volatile ECC errors.",
        _ecc(_SBE, _VOL),
    ),
    Field(
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "Total number of double-bit volatile ECC errors.",
        _ecc(_DBE, _VOL),
    ),
    Field(
        "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
        "Total number of single-bit persistent ECC errors.",
        _ecc(_SBE, _AGG),
    ),
    Field(
        "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
        "Total number of double-bit persistent ECC errors.",
        _ecc(_DBE, _AGG),
    ),
)
THROTTLE_FIELD = "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
THROTTLE_HELP = "Current clock throttle reasons (bitmask of NVML's reasons)."
PROCESS_FIELD = "processes"  # the `field` label of a failed process listing

# slakit's own families: (name, help)
THROTTLE_REASON = (
    f"{PREFIX}_throttle_reason",
    "1 if the GPU's clocks are held down for this reason now, else 0.",
)
PROCESS_MEMORY = (
    m.GPU_PROCESS_MEMORY,
    "GPU memory used by a process (compute or graphics), in bytes.",
)
PROCESS_LABELS = ["gpu", "UUID", "pid", "process_name"]
NVML_UP = (m.GPU_NVML_UP, "1 if NVML answered and sees at least one GPU, else 0.")
NVML_INFO = (f"{PREFIX}_nvml", "Why NVML is down (reason), or ok; the driver version.")
NVML_ERRORS = (
    f"{PREFIX}_nvml_errors",
    "NVML calls that failed, by GPU index (empty: not per GPU), field and reason.",
)
NVML_ERROR_LABELS = ["gpu", "field", "reason"]
