"""Start, probe and stop one supervised process.

Every part of the stack is a `PartSpec`: a command, a log file, a health check. Processes
start in their own session so `down` can stop a part's whole process group by the PID we
recorded at start, never by searching for names.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from slakit.es_auth import EsAuth
from slakit.stack import placement


@dataclass
class PartSpec:
    """What it takes to run and judge one part of the stack."""

    name: str
    argv: list[str]
    url: str
    log: Path
    health_url: str
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # run as this user (Elasticsearch refuses root)
    nice: int = 0  # niceness (`slakit.stack.placement.nice_for`)
    rt_priority: int | None = None  # SCHED_RR at this priority, where allowed (`prioritise`)
    healthy: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200
    health_auth: EsAuth | None = None  # credential and CA of an https health check


def start(spec: PartSpec) -> int:
    """Launch the part detached (own session) with output appended to its log; return PID.

    Its niceness is set absolute, not relative: a part started by a prioritised generator
    (`slakit run` bringing the stack up) must not inherit its priority. It is set before
    the switch to `spec.user`, who may not raise it; without the privilege a raised one
    (below 0) is left at 0."""
    switch = _user_switch(spec.user)
    spec.log.parent.mkdir(parents=True, exist_ok=True)
    with open(spec.log, "ab") as log:
        log.write(f"\n--- slakit: starting {spec.name}: {' '.join(spec.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            spec.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
            start_new_session=True,
            preexec_fn=lambda: _in_child(spec.nice, spec.rt_priority, switch),
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _user_switch(user: str | None) -> tuple[int, int, list[int]] | None:
    """(uid, gid, groups) of `user`, looked up before the fork."""
    if user is None:
        return None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(user, entry.pw_gid)


def _in_child(
    nice: int, rt_priority: int | None, switch: tuple[int, int, list[int]] | None
) -> None:
    """Between fork and exec: the niceness, real-time as the gateway asks for it (its
    threads too; without the privilege, the next choice down), then the user (as Popen's
    `user=` would)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        os.setpriority(os.PRIO_PROCESS, 0, max(nice, 0))
    if rt_priority is not None:
        placement.prioritise("realtime", inherited=True, rt_priority=rt_priority)
    if switch is not None:
        uid, gid, groups = switch
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)


# Popen objects of parts started by this process, so exited children get reaped here.
_CHILDREN: dict[int, subprocess.Popen] = {}


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process of the part's process group is left."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def check_health(spec: PartSpec, timeout_s: float = 2.0) -> bool:
    auth = spec.health_auth
    headers = auth.authorization() if auth else {}
    verify = auth.ssl_context() if auth else True
    try:
        return spec.healthy(
            httpx.get(spec.health_url, headers=headers, verify=verify, timeout=timeout_s)
        )
    except httpx.HTTPError:
        return False


def stop(pid: int, grace_s: float = 20.0) -> None:
    """SIGTERM the part's process group, SIGKILL what is left after `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and group_alive(pid):
            if pid in _CHILDREN:
                _CHILDREN[pid].poll()
            time.sleep(0.2)
        if not group_alive(pid):
            break
    if pid in _CHILDREN:
        _CHILDREN.pop(pid).poll()


def tail(path: Path, lines: int = 15) -> list[str]:
    """The last lines of a log, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
