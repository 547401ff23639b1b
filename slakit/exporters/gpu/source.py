"""The GPU exporter's source: every GPU read through NVML at scrape time.

A node without NVML or without a GPU still answers: `slakit_gpu_nvml_up 0` with the reason,
and `nvmlInit` is retried on every scrape, so it recovers once a driver appears. An NVML
error on one device or one field drops only that reading and is counted; the other devices
are still reported.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pynvml
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from slakit.exporters.gpu.families import (
    DEVICE_LABELS,
    FIELDS,
    NVML_ERROR_LABELS,
    NVML_ERRORS,
    NVML_INFO,
    NVML_UP,
    PROCESS_FIELD,
    PROCESS_LABELS,
    PROCESS_MEMORY,
    THROTTLE_FIELD,
    THROTTLE_HELP,
    THROTTLE_REASON,
    THROTTLE_REASONS,
)

log = logging.getLogger("slakit.exporters.gpu")

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


class _Scrape:
    """The families of one collection, filled device by device."""

    def __init__(self) -> None:
        self.fields = {
            f.name: GaugeMetricFamily(f.name, f.help, labels=DEVICE_LABELS) for f in FIELDS
        }
        self.throttle_mask = GaugeMetricFamily(THROTTLE_FIELD, THROTTLE_HELP, labels=DEVICE_LABELS)
        self.throttle = GaugeMetricFamily(*THROTTLE_REASON, labels=[*DEVICE_LABELS, "reason"])
        self.processes = GaugeMetricFamily(*PROCESS_MEMORY, labels=PROCESS_LABELS)

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
                    "NVML unavailable (%s): serving %s 0, retrying on every scrape",
                    reason,
                    NVML_UP[0],
                )
            else:
                log.info("NVML up: %s", state)
            self._state = state

    def _health(self, reason: str | None, driver: str) -> list[Metric]:
        up = GaugeMetricFamily(*NVML_UP)
        up.add_metric([], 0.0 if reason else 1.0)
        info = InfoMetricFamily(*NVML_INFO)
        info.add_metric([], {"reason": reason or "ok", "driver_version": driver})
        errors = CounterMetricFamily(*NVML_ERRORS, labels=NVML_ERROR_LABELS)
        for (gpu, field, why), n in sorted(self.errors.items()):
            errors.add_metric([gpu, field, why], n)
        return [up, info, errors]
