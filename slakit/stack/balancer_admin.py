"""HAProxy's runtime API (its admin socket): drain a replica, put it back, read its state.

The same commands an operator types into `socat` during a rolling update; slakit uses them
so a restart takes a replica out of the pool before stopping it, never under a request.
"""

from __future__ import annotations

import csv
import socket
import time
from dataclasses import dataclass

from slakit.errors import StackError
from slakit.stack.balancer import BACKEND, admin_socket, server_name
from slakit.stack.config import StackConfig

POLL_S = 0.1
"""How often a wait re-reads the replica's state: a tenth of a second resolves failover."""


def command(cfg: StackConfig, line: str, timeout_s: float = 5.0) -> str:
    """One runtime API command; its whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(admin_socket(cfg)))
        except OSError as exc:
            raise StackError(f"balancer: no runtime API at {admin_socket(cfg)} ({exc})") from exc
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


@dataclass(frozen=True)
class ServerState:
    status: str  # UP, DOWN, MAINT, "UP 1/2" while going down, "DOWN 1/2" while coming up
    sessions: int  # requests (connections) in flight to it now

    @property
    def serving(self) -> bool:
        return self.status.startswith("UP")


def state(cfg: StackConfig, replica: int) -> ServerState:
    rows = csv.DictReader(command(cfg, "show stat").lstrip("# ").splitlines())
    for row in rows:
        if row["pxname"] == BACKEND and row["svname"] == server_name(replica):
            return ServerState(row["status"], int(row["scur"] or 0))
    raise StackError(f"balancer: no server {server_name(replica)} in backend {BACKEND}")


def set_state(cfg: StackConfig, replica: int, admin: str) -> None:
    """`maint` (no new requests; those in flight finish) or `ready` (back under its checks)."""
    answer = command(cfg, f"set server {BACKEND}/{server_name(replica)} state {admin}").strip()
    if answer:
        raise StackError(f"balancer: set server {server_name(replica)} {admin}: {answer}")


def wait_for(cfg: StackConfig, replica: int, done, timeout_s: float, what: str) -> float:
    """Poll the replica's state until `done(state)`; the wall-clock time it was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done(state(cfg, replica)):
            return time.time()
        time.sleep(POLL_S)
    raise StackError(f"balancer: {server_name(replica)} not {what} within {timeout_s:g} s")
