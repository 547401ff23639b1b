"""A stand-in for NVML, used only because this machine has no GPU (and no NVIDIA driver).

It replaces the `nvml*` functions of `pynvml` that the GPU exporter calls, and nothing
else: return shapes follow pynvml (objects with `.gpu`/`.memory`, `.total`/`.free`/`.used`,
`.pid`/`.usedGpuMemory`; raw NVML units: bytes, milliwatts, KB/s), and failures are raised
as the real `pynvml.NVMLError_*` classes. On a machine with a GPU the exporter runs on the
real `pynvml`; the tests that start the exporter as a process use the real one here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

GIB = 1024**3


@dataclass
class FakeProcess:
    pid: int
    used_bytes: int | None  # None: NVML cannot see it (as pynvml reports for no permission)
    name: str | None  # None: name lookup fails (exited, or another PID namespace)


@dataclass
class FakeGpu:
    """One device's readings in NVML's raw units, and the calls that fail on it."""

    uuid: str
    name: str = "NVIDIA A100-SXM4-80GB"
    memory_total: int = 80 * GIB
    memory_used: int = 20 * GIB
    util_gpu: int = 87
    util_memory: int = 41
    temperature_c: int = 64
    power_mw: int = 312_500
    power_limit_mw: int = 400_000
    sm_clock_mhz: int = 1410
    mem_clock_mhz: int = 1593
    pcie_tx_kbps: int = 2_000
    pcie_rx_kbps: int = 15_000
    ecc: dict[tuple[int, int], int] = field(default_factory=dict)  # (error type, counter)
    clocks_event_reasons: int = 0
    compute: list[FakeProcess] = field(default_factory=list)
    graphics: list[FakeProcess] = field(default_factory=list)
    fail: dict[str, pynvml.NVMLError] = field(default_factory=dict)  # function -> error


class FakeNvml:
    """The `nvml*` functions over a list of FakeGpu. `init_error` makes nvmlInit fail
    (set it to None later to simulate a driver appearing); `calls` counts every call."""

    def __init__(
        self,
        gpus: list[FakeGpu],
        init_error: pynvml.NVMLError | None = None,
        driver_version: str = "550.54.15",
    ) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.driver_version = driver_version
        self.initialized = False
        self.calls: dict[str, int] = {}

    def _call(self, function: str, handle: FakeGpu | None = None) -> None:
        self.calls[function] = self.calls.get(function, 0) + 1
        if not self.initialized:
            raise pynvml.NVMLError_Uninitialized()
        if handle is not None and function in handle.fail:
            raise handle.fail[function]

    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] = self.calls.get("nvmlInit", 0) + 1
        if self.init_error is not None:
            raise self.init_error
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")
        self.initialized = False

    def nvmlSystemGetDriverVersion(self) -> str:
        self._call("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._call("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError_InvalidArgument()
        gpu = self.gpus[index]
        if "nvmlDeviceGetHandleByIndex" in gpu.fail:
            raise gpu.fail["nvmlDeviceGetHandleByIndex"]
        return gpu

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> str:
        self._call("nvmlDeviceGetUUID", h)
        return h.uuid

    def nvmlDeviceGetName(self, h: FakeGpu) -> str:
        self._call("nvmlDeviceGetName", h)
        return h.name

    def nvmlDeviceGetUtilizationRates(self, h: FakeGpu) -> SimpleNamespace:
        self._call("nvmlDeviceGetUtilizationRates", h)
        return SimpleNamespace(gpu=h.util_gpu, memory=h.util_memory)

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu) -> SimpleNamespace:
        self._call("nvmlDeviceGetMemoryInfo", h)
        free = h.memory_total - h.memory_used
        return SimpleNamespace(total=h.memory_total, free=free, used=h.memory_used)

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> int:
        self._call("nvmlDeviceGetTemperature", h)
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError_InvalidArgument()
        return h.temperature_c

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        self._call("nvmlDeviceGetPowerUsage", h)
        return h.power_mw

    def nvmlDeviceGetPowerManagementLimit(self, h: FakeGpu) -> int:
        self._call("nvmlDeviceGetPowerManagementLimit", h)
        return h.power_limit_mw

    def nvmlDeviceGetClockInfo(self, h: FakeGpu, clock: int) -> int:
        self._call("nvmlDeviceGetClockInfo", h)
        clocks = {pynvml.NVML_CLOCK_SM: h.sm_clock_mhz, pynvml.NVML_CLOCK_MEM: h.mem_clock_mhz}
        if clock not in clocks:
            raise pynvml.NVMLError_InvalidArgument()
        return clocks[clock]

    def nvmlDeviceGetPcieThroughput(self, h: FakeGpu, counter: int) -> int:
        self._call("nvmlDeviceGetPcieThroughput", h)
        rates = {
            pynvml.NVML_PCIE_UTIL_TX_BYTES: h.pcie_tx_kbps,
            pynvml.NVML_PCIE_UTIL_RX_BYTES: h.pcie_rx_kbps,
        }
        if counter not in rates:
            raise pynvml.NVMLError_InvalidArgument()
        return rates[counter]

    def nvmlDeviceGetTotalEccErrors(self, h: FakeGpu, error_type: int, counter: int) -> int:
        self._call("nvmlDeviceGetTotalEccErrors", h)
        return h.ecc.get((error_type, counter), 0)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: FakeGpu) -> int:
        self._call("nvmlDeviceGetCurrentClocksEventReasons", h)
        return h.clocks_event_reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h: FakeGpu) -> int:
        self._call("nvmlDeviceGetCurrentClocksThrottleReasons", h)
        return h.clocks_event_reasons

    def nvmlDeviceGetComputeRunningProcesses(self, h: FakeGpu) -> list[SimpleNamespace]:
        self._call("nvmlDeviceGetComputeRunningProcesses", h)
        return [SimpleNamespace(pid=p.pid, usedGpuMemory=p.used_bytes) for p in h.compute]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: FakeGpu) -> list[SimpleNamespace]:
        self._call("nvmlDeviceGetGraphicsRunningProcesses", h)
        return [SimpleNamespace(pid=p.pid, usedGpuMemory=p.used_bytes) for p in h.graphics]

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        self._call("nvmlSystemGetProcessName")
        for gpu in self.gpus:
            for proc in (*gpu.compute, *gpu.graphics):
                if proc.pid == pid and proc.name is not None:
                    return proc.name
        raise pynvml.NVMLError_NotFound()
