"""Kill, restart and roll the engine replicas of a running stack, by the PIDs it recorded.

A restart is what a model update does to one replica, done so no request fails: drain it
through HAProxy (MAINT: no new requests, those in flight finish), stop it, start it again,
wait for its health, put it back (READY) and wait until HAProxy's own checks see it UP. A
rolling restart does that to each replica in turn: one out at a time, none added
(Kubernetes' maxUnavailable 1, maxSurge 0, with the drain a preStop hook would do).
A kill is the outage: SIGKILL to the replica's process group, no drain; each returns when
HAProxy took the replica out, so the event says how long failover took.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import asdict, dataclass

import httpx

from slakit.errors import InputError
from slakit.stack import balancer_admin, process, supervisor
from slakit.stack.config import StackConfig
from slakit.stack.parts import replica_key
from slakit.stack.sim_engine import FAULTS_PATH
from slakit.stack.vllm import engine_spec


@dataclass
class Event:
    """One fault done to one replica, in wall-clock seconds."""

    action: str  # kill | restart | errors
    replica: int
    pid: int  # the process the fault was done to
    at: float  # the kill, the drain's start, the errors' start
    out_at: float | None = None  # the balancer stopped sending it requests
    back_at: float | None = None  # it serves again (restart; errors: the breaker closed)
    opened: int = 0  # errors: how often the breaker opened

    def record(self) -> dict:
        return asdict(self)


def _replica_part(cfg: StackConfig, replica: int) -> supervisor.RunningPart:
    if cfg.replicas == 1:
        raise InputError(
            f"the stack in {cfg.state_dir} runs one engine: no replicas (stack up --replicas N)"
        )
    if not 1 <= replica <= cfg.replicas:
        raise InputError(f"replica {replica}: expected 1 to {cfg.replicas}")
    name = engine_spec(cfg, replica).name
    for part in supervisor.read_state(cfg):
        if part.part == name:
            return part
    raise InputError(f"replica {replica}: no part {name} recorded in {cfg.state_dir}")


def kill(cfg: StackConfig, replica: int) -> Event:
    """SIGKILL the replica's process group; return once the balancer took it out."""
    part = _replica_part(cfg, replica)
    event = Event("kill", replica, part.pid, time.time())
    os.killpg(part.pid, signal.SIGKILL)
    b = cfg.balancer
    limit = (b.fall + 1) * b.check_interval_s + 5
    event.out_at = balancer_admin.wait_for(
        cfg, replica, lambda s: not s.serving, limit, "taken out after the kill"
    )
    return event


def restart(cfg: StackConfig, replica: int) -> Event:
    """Drain, stop, start, wait healthy, put back: the replica under load, no request lost."""
    part = _replica_part(cfg, replica)
    event = Event("restart", replica, part.pid, time.time())
    balancer_admin.set_state(cfg, replica, "maint")
    event.out_at = balancer_admin.wait_for(
        cfg, replica, lambda s: s.sessions == 0, cfg.balancer.timeout_s, "drained"
    )
    process.stop(part.pid)
    spec = engine_spec(cfg, replica)
    started = supervisor.start_part(replica_key(replica), spec)
    supervisor.record_part(cfg, started)
    supervisor.wait_healthy(spec, started)
    balancer_admin.set_state(cfg, replica, "ready")
    event.back_at = _wait_up(cfg, replica)
    return event


def errors(cfg: StackConfig, replica: int, rate: float, for_s: float) -> Event:
    """The simulated replica fails `rate` of its requests for `for_s` seconds, watched
    meanwhile: each time HAProxy takes it out is its breaker opening (after `error_limit`
    consecutive failures); its checks still pass, so it is let back in (half-open) and
    opens again while the errors last. Returns once they stopped and it serves again."""
    if cfg.engine != "sim":
        raise InputError("errors on one replica need the simulated engine (engine: sim)")
    part = _replica_part(cfg, replica)
    event = Event("errors", replica, part.pid, time.time())
    _sim_faults(part, rate)
    serving, deadline = True, time.monotonic() + for_s
    try:
        while time.monotonic() < deadline:
            now = balancer_admin.state(cfg, replica).serving
            if serving and not now:
                event.opened += 1
                event.out_at = event.out_at or time.time()
            serving = now
            time.sleep(balancer_admin.POLL_S)
    finally:
        _sim_faults(part, 0.0)
    event.back_at = _wait_up(cfg, replica)
    return event


def _wait_up(cfg: StackConfig, replica: int) -> float:
    """When HAProxy's own checks saw the replica UP again (its `rise` checks, and margin)."""
    b = cfg.balancer
    limit = (b.rise + 2) * b.check_interval_s + 5
    return balancer_admin.wait_for(cfg, replica, lambda s: s.status == "UP", limit, "UP")


def _sim_faults(part: supervisor.RunningPart, error_rate: float) -> None:
    httpx.post(
        f"{part.url}{FAULTS_PATH}", json={"error_rate": error_rate}, timeout=5
    ).raise_for_status()


def rolling_restart(cfg: StackConfig) -> list[Event]:
    """Every replica restarted in turn, the next only once the last one serves again."""
    return [restart(cfg, replica) for replica in range(1, cfg.replicas + 1)]
