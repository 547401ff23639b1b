"""Where the embedded stack's parts run on this machine's cores, and at what priority.

vLLM's CPU build binds its worker's OpenMP threads to the cores it does not reserve: on
2 cores the worker gets core 0 and everything else (Elasticsearch's JVM, the gateway,
Prometheus, Alertmanager, the exporters, the webhook) shares core 1 with the load
generator. The generator's timestamps are the measurement, so on that core it must win:
parts that only watch (monitoring, exporters, webhook) run at a low priority, parts in the
request path at the default one, except the gateway, which is real-time like the generator
(it adds its own latency to every request; see GATEWAY_PRIORITY), and Elasticsearch, raised
by a niceness (ELASTICSEARCH_NICE). A raised niceness needs CAP_SYS_NICE (root has it),
without it the part runs at 0; niceness follows a part's threads and children.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from slakit.errors import InputError

OBSERVER_NICE = 10
"""Niceness of parts no request waits for: a generator at 0 gets ~10x their CPU share."""

OBSERVERS = frozenset(
    {
        "webhook",
        "alertmanager",
        "prometheus",
        "gpu-exporter",
        "es-exporter",
        "inference-exporter",
        "shipper",
        "jaeger",  # spans reach it from batch exporters, after their requests were answered
    }
)
"""Stack parts (keys of `slakit.stack.parts.PARTS`) that observe rather than serve."""


ELASTICSEARCH_NICE = -10
"""Elasticsearch's niceness: each RAG request waits for its search, and at nice 0 the JVM's
threads waited for a core beside vLLM's spinning worker (150 searches at 4/s beside the
running stack: wall p99 58-78 ms, ES's own `took` p99 24-70 ms; at nice -10 14.6 / 8 ms,
at SCHED_RR 1 55 / 6.5 ms). Not real-time: a JVM's many threads (GC, JIT) would crowd out
the generator and the gateway."""


def nice_for(part: str) -> int:
    """The niceness `part` is started with."""
    if part == "elasticsearch":
        return ELASTICSEARCH_NICE
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


PRIORITIES = ("realtime", "nice", "default")
"""How the load generator (and the embedded gateway) ask to be scheduled, strongest first.

- `realtime`: SCHED_RR at the lowest real-time priority. When a request falls due the
  generator runs at once, ahead of every ordinary process on its core (measured beside the
  embedded stack: p99 lateness 1.3 ms, none over 10 ms, where nice -5 left 7-10% of the
  smoke run's requests over 10 ms late: the kernel still let it wait ~0.9 s per 30 s for
  the stack's request path). The kernel's real-time throttling keeps 5% of every core for
  the rest even if it spins.
- `nice`: niceness GENERATOR_NICE, where real-time is not allowed.
- `default`: leave the scheduling as it is.
Both need CAP_SYS_NICE (root has it); without it the next one down is used."""

GENERATOR_PRIORITY_ENV = "SLAKIT_GENERATOR_PRIORITY"
GENERATOR_NICE = -5

GENERATOR_RT_PRIORITY = 2
"""The generator's real-time priority, above the gateway's: at equal priority SCHED_RR
lets a busy gateway thread keep the core until it blocks or its quantum ends while a
request of the generator falls due (wire-checked smoke with both at 1: send delay p99
5.1 ms, over the 5 ms bound)."""
GATEWAY_RT_PRIORITY = 1

GATEWAY_PRIORITY = "realtime"
"""The embedded stack's gateway (`--priority`): it is in every request's path and needs
little CPU, but at the default priority it waited behind the rest of the stack for a core
(smoke run on a busy machine: 8.7 s of run-queue wait per 30 s, wire-measured added TTFT
p99 199 ms; real-time: 2.6 ms)."""


def prioritise_generator() -> str:
    """Ask for the generator's scheduling (SLAKIT_GENERATOR_PRIORITY, default `realtime`)
    for this process, not inherited by what it starts; return what it got, as the report
    states it."""
    wanted = os.environ.get(GENERATOR_PRIORITY_ENV, PRIORITIES[0])
    if wanted not in PRIORITIES:
        raise InputError(
            f"{GENERATOR_PRIORITY_ENV}: expected one of {', '.join(PRIORITIES)}, got {wanted!r}"
        )
    return prioritise(wanted, inherited=False, rt_priority=GENERATOR_RT_PRIORITY)


def prioritise(wanted: str, inherited: bool, rt_priority: int = GATEWAY_RT_PRIORITY) -> str:
    """Ask for `wanted` (one of PRIORITIES) for this process, or the next one down where it
    is not allowed; return what it got. `inherited`: threads and processes it starts later
    get the same real-time policy (else SCHED_RESET_ON_FORK: they run as ordinary ones);
    `rt_priority`: the SCHED_RR priority of `realtime`."""
    for choice in PRIORITIES[PRIORITIES.index(wanted) :]:
        try:
            if choice == "realtime":
                policy = os.SCHED_RR | (0 if inherited else os.SCHED_RESET_ON_FORK)
                os.sched_setscheduler(0, policy, os.sched_param(rt_priority))
            elif choice == "nice":
                os.setpriority(os.PRIO_PROCESS, 0, min(GENERATOR_NICE, _nice()))
        except PermissionError:
            continue
        return generator_priority()
    return generator_priority()


def generator_priority() -> str:
    """This process's scheduling in words: `SCHED_RR 2`, `nice -5`, `nice 0`."""
    if os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR:
        return f"SCHED_RR {os.sched_getparam(0).sched_priority}"
    return f"nice {_nice()}"


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)
