"""Where the embedded stack's parts run on this machine's cores, and at what priority.

vLLM's CPU build binds its worker's OpenMP threads to the cores it does not reserve: on
2 cores the worker gets core 0 and everything else (Elasticsearch's JVM, the gateway,
Prometheus, Alertmanager, the exporters, the webhook) shares core 1 with the load
generator. The generator's timestamps are the measurement, so on that core it must win:
parts that only watch (monitoring, exporters, webhook) run at a low priority, parts in the
request path at the default one, like the generator. Niceness only lowers a priority, so
no privilege is needed, and it follows a part's threads and children.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from slakit.errors import InputError

OBSERVER_NICE = 10
"""Niceness of parts no request waits for: a generator at 0 gets ~10x their CPU share."""

OBSERVERS = frozenset(
    {"webhook", "alertmanager", "prometheus", "gpu-exporter", "es-exporter", "inference-exporter"}
)
"""Stack parts (keys of `slakit.stack.parts.PARTS`) that observe rather than serve."""


def nice_for(part: str) -> int:
    """The niceness `part` is started with."""
    return OBSERVER_NICE if part in OBSERVERS else 0


def engine_cores(available: set[int] | None = None) -> str:
    """vLLM's `VLLM_CPU_OMP_THREADS_BIND`: every usable core but the last, which is left to
    vLLM's own front end, the rest of the stack and the generator; one core: no binding."""
    cores = sorted(available if available is not None else os.sched_getaffinity(0))
    if len(cores) < 2:
        return "nobind"
    return ",".join(str(c) for c in cores[:-1])


@dataclass(frozen=True)
class Placement:
    """A running process's niceness and the cores it may run on, as `stack status` shows."""

    nice: int
    cpus: str

    @classmethod
    def of(cls, pid: int) -> Placement | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpus = os.sched_getaffinity(pid)
        except OSError:
            return None
        return cls(int(fields[16]), _ranges(sorted(cpus)))


def _ranges(cores: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    spans: list[list[int]] = []
    for core in cores:
        if spans and core == spans[-1][1] + 1:
            spans[-1][1] = core
        else:
            spans.append([core, core])
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans)


GENERATOR_NICE = -5
"""Niceness the load generator asks for, so that on the core it shares with the stack's
request path (vLLM's front end, the gateway, Elasticsearch) it is scheduled first when a
request falls due. Needs CAP_SYS_NICE (root has it); without it the default 0 stays."""

GENERATOR_NICE_ENV = "SLAKIT_GENERATOR_NICE"
"""Overrides GENERATOR_NICE (0 keeps the generator at the default priority)."""


def prioritise_generator() -> int:
    """Raise this process's priority to the generator's niceness where allowed; return the
    niceness it runs at (its threads and the distributed workers it starts inherit it)."""
    text = os.environ.get(GENERATOR_NICE_ENV, str(GENERATOR_NICE))
    try:
        wanted = int(text)
    except ValueError:
        raise InputError(
            f"{GENERATOR_NICE_ENV}: expected a niceness (-20..19), got {text!r}"
        ) from None
    if wanted < os.getpriority(os.PRIO_PROCESS, 0):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, wanted)
        except PermissionError:
            pass
    return os.getpriority(os.PRIO_PROCESS, 0)
