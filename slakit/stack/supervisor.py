"""`slakit stack up | status | down | logs`: bring the parts up in dependency order, record
their PIDs in one state file, report health, and stop exactly what was started."""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from rich.console import Console

from slakit import es_auth
from slakit.errors import StackError
from slakit.stack import corpus, es_security, log_streams, placement, process
from slakit.stack import elasticsearch as es_part
from slakit.stack.config import StackConfig
from slakit.stack.parts import parts_for, ports
from slakit.stack.process import PartSpec

console = Console(stderr=True)
T = TypeVar("T")


@dataclass
class RunningPart:
    """One started part as recorded in `<state>/stack.json`."""

    part: str
    pid: int
    url: str
    health_url: str
    log: str
    started_at: float


def state_file(cfg: StackConfig) -> Path:
    return cfg.state_dir / "stack.json"


def _state(cfg: StackConfig) -> dict:
    try:
        return json.loads(state_file(cfg).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def read_state(cfg: StackConfig) -> list[RunningPart]:
    return [RunningPart(**p) for p in _state(cfg).get("parts", [])]


def running_engine(cfg: StackConfig) -> tuple[str, dict, int] | None:
    """(engine, sim settings, replicas) of the stack recorded in the state dir, if every
    part runs."""
    state = _state(cfg)
    parts = [RunningPart(**p) for p in state.get("parts", [])]
    replicas = state.get("replicas", 1)
    expected = len(parts_for(cfg.model_copy(update={"replicas": replicas})))
    if len(parts) != expected or not all(process.is_running(p.pid) for p in parts):
        return None
    return state.get("engine", "vllm"), state.get("sim", {}), replicas


def running_config(cfg: StackConfig) -> StackConfig:
    """`cfg` as the stack in its state dir was started: its engine, sim settings, replicas
    (what a replica restarted later must be started with); `cfg` if none is recorded."""
    state = _state(cfg)
    if not state:
        return cfg
    update = {"engine": state["engine"], "replicas": state.get("replicas", 1)}
    es = cfg.elasticsearch.model_copy(update={"secure": state.get("secure", False)})
    return cfg.model_copy(
        update={**update, "sim": type(cfg.sim)(**state["sim"]), "elasticsearch": es}
    )


def record_part(cfg: StackConfig, part: RunningPart) -> None:
    """Replace the recorded part of the same name (a replica restarted under a new PID)."""
    _write_state(cfg, [part if p.part == part.part else p for p in read_state(cfg)])


def start_part(key: str, spec: PartSpec) -> RunningPart:
    """Start part `key` (a key of `parts_for`) from `spec` at its placement's niceness."""
    spec.nice = placement.nice_for(key)
    pid = process.start(spec)
    return RunningPart(spec.name, pid, spec.url, spec.health_url, str(spec.log), time.time())


def _healthy(spec: PartSpec, run: RunningPart) -> bool:
    """Whether the started part answers its health check yet; StackError if it exited or
    its start timeout passed."""
    if not process.is_running(run.pid):
        raise _failure(spec, "the process exited")
    if process.check_health(spec):
        return True
    if time.time() - run.started_at > spec.timeout_s:
        raise _failure(
            spec, f"no healthy answer from {spec.health_url} within {spec.timeout_s:.0f} s"
        )
    return False


def wait_healthy(spec: PartSpec, run: RunningPart) -> None:
    """Until the started part answers its health check; StackError if it exits or its
    start timeout passes first."""
    while not _healthy(spec, run):
        time.sleep(0.5)


def _write_state(cfg: StackConfig, parts: list[RunningPart]) -> None:
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "engine": cfg.engine,
        "replicas": cfg.replicas,
        "sim": cfg.sim.model_dump(),
        "secure": cfg.elasticsearch.secure,
        "parts": [asdict(p) for p in parts],
    }
    tmp = state_file(cfg).with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(state_file(cfg))


def check_ports_free(cfg: StackConfig) -> None:
    """Fail before starting anything if a port the stack needs is taken."""
    busy = []
    family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
    for owner, (port, variable) in ports(cfg).items():
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # As servers do: TIME_WAIT leftovers of a stack just stopped are not "busy".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((cfg.host, port))
            except OSError:
                busy.append(
                    f"{owner}: port {port} on {cfg.host} is busy; free it or move the "
                    f"part with {variable} (or the stack config file)"
                )
    if busy:
        raise StackError(*busy)


def ephemeral_range() -> range | None:
    """The kernel's range for outgoing connections' source ports, if it can be read."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return None
    return range(low, high + 1)


def warn_ephemeral_ports(cfg: StackConfig) -> None:
    """Warn about ports a client's own source port can take: a health check connecting to
    such a port while its part still boots can connect to itself (TCP self-connect) and hold
    it, so the part then fails to bind."""
    kernel = ephemeral_range()
    if kernel is None:
        return
    for owner, (port, variable) in ports(cfg).items():
        if port in kernel:
            console.print(
                f"[yellow]warning:[/yellow] {owner}: port {port} is in the kernel's ephemeral "
                f"range {kernel.start}-{kernel.stop - 1}; a connection made while it starts can "
                f"take it (move it below {kernel.start} with {variable})",
                soft_wrap=True,
            )


def _failure(spec: PartSpec, reason: str) -> StackError:
    lines = [f"  {line}" for line in process.tail(spec.log)]
    return StackError(f"{spec.name} failed to start: {reason} (log: {spec.log})", *lines)


def up(cfg: StackConfig) -> list[RunningPart]:
    """Start every part, wait for each to be healthy in dependency order, index the corpus.

    On any failure, stop what this call started and raise StackError naming the part.
    """
    running = [p for p in read_state(cfg) if process.is_running(p.pid)]
    if running:
        if len(running) == len(parts_for(cfg)):
            console.print("[green]stack already up[/green]")
            return running
        raise StackError(
            f"stack is partly running ({', '.join(p.part for p in running)}); "
            "run `slakit stack down` first"
        )
    check_ports_free(cfg)
    warn_ephemeral_ports(cfg)
    started: dict[str, tuple[PartSpec, RunningPart]] = {}
    healthy: set[str] = set()
    t0 = time.monotonic()
    try:
        with console.status("starting the stack") as status:
            pending = list(parts_for(cfg))
            while pending:
                ready = [p for p in pending if all(d in healthy for d in p[2])]
                for key, build, _deps in ready:
                    status.update(f"starting {key}")
                    spec = build(cfg)
                    started[key] = (spec, start_part(key, spec))
                    _write_state(cfg, [r for _, r in started.values()])
                pending = [p for p in pending if p not in ready]
                _wait_next(cfg, started, healthy, status, t0)
            while len(healthy) < len(started):
                _wait_next(cfg, started, healthy, status, t0)
    except BaseException:
        _stop_all([r for _, r in started.values()])
        state_file(cfg).unlink(missing_ok=True)
        raise
    return [r for _, r in started.values()]


def _wait_next(cfg: StackConfig, started: dict, healthy: set[str], status, t0: float) -> None:
    """Poll every started-but-unhealthy part until one turns healthy; fail on exit/timeout."""
    while True:
        for key, (spec, run) in started.items():
            if key not in healthy and _healthy(spec, run):
                _became_healthy(cfg, key, spec, status, t0)
                healthy.add(key)
                return
        waiting = ", ".join(k for k in started if k not in healthy)
        status.update(f"waiting for {waiting} ({time.monotonic() - t0:.0f} s)")
        time.sleep(0.5)


def _became_healthy(cfg: StackConfig, key: str, spec: PartSpec, status, t0: float) -> None:
    console.print(
        f"  [green]✓[/green] {spec.name} healthy at {spec.url} ({time.monotonic() - t0:.0f} s)"
    )
    if key == "elasticsearch":
        status.update("indexing the corpus")
        count = _as(cfg, spec.url, "indexer", "corpus indexer", _corpus(cfg))
        console.print(f"  [green]✓[/green] corpus: {count} passages in '{cfg.corpus.index}'")
        install = partial(log_streams.install, logs=cfg.shipper)
        managed = _as(cfg, spec.url, "admin", "log streams setup", install)
        how = "ILM policy" if managed else "rolled over at stack up (no ILM module)"
        console.print(f"  [green]✓[/green] log streams: template {log_streams.TEMPLATE}, {how}")


def _corpus(cfg: StackConfig) -> Callable[[Elasticsearch], int]:
    return partial(corpus.index_corpus, index=cfg.corpus.index, max_docs=cfg.corpus.max_docs)


def _as(cfg: StackConfig, url: str, part: str, what: str, job: Callable[[Elasticsearch], T]) -> T:
    """`job` with a client of the node, as `part`'s user when security is on (the corpus
    indexer's; templates and policies need the admin's); a refused credential or
    certificate is one line naming `what` and the URL."""
    auth = es_security.credential(cfg, part) if cfg.elasticsearch.secure else None
    es = Elasticsearch(url, request_timeout=120, **(auth.client_options(url) if auth else {}))
    try:
        return job(es)
    except (ApiError, TransportError) as exc:
        raise StackError(es_auth.problem(what, url, exc)) from None
    finally:
        es.close()


def _stop_all(parts: list[RunningPart]) -> None:
    for part in reversed(parts):
        process.stop(part.pid)


def down(cfg: StackConfig, purge: bool = False) -> list[str]:
    """Stop every recorded part (by PID, newest first); return their names."""
    parts = read_state(cfg)
    _stop_all(parts)
    state_file(cfg).unlink(missing_ok=True)
    if purge:
        _purge(cfg)
    return [p.part for p in parts]


def _purge(cfg: StackConfig) -> None:
    es_link = cfg.state_dir / "elasticsearch"
    if es_link.is_symlink():
        shutil.rmtree(es_link.resolve(), ignore_errors=True)
    shutil.rmtree(cfg.state_dir, ignore_errors=True)


@dataclass
class PartStatus:
    part: str
    pid: int
    url: str
    healthy: bool
    uptime_s: float
    placement: placement.Placement | None = None


def status(cfg: StackConfig) -> list[PartStatus]:
    out = []
    running = running_config(cfg)
    for p in read_state(cfg):
        alive = process.is_running(p.pid)
        spec = PartSpec(p.part, [], p.url, Path(p.log), p.health_url, 0)
        if p.part == "elasticsearch":
            spec.health_auth = es_part.health_auth(running)
        out.append(
            PartStatus(
                p.part,
                p.pid,
                p.url,
                alive and process.check_health(spec),
                time.time() - p.started_at if alive else 0.0,
                placement.Placement.of(p.pid) if alive else None,
            )
        )
    return out


def log_path(cfg: StackConfig, part: str) -> Path:
    for p in read_state(cfg):
        if p.part == part:
            return Path(p.log)
    candidate = cfg.state_dir / "logs" / f"{part}.log"
    if candidate.exists():
        return candidate
    raise StackError(f"no log for part '{part}' under {cfg.state_dir / 'logs'}")
