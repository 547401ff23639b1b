"""The load's keep-alive connections (`slakit/load/connections.py`) against a real server,
the simulated engine under uvicorn (keep-alive timeout 5 s): reused while warm, never
sent on once the server may have closed it. A slakit user as a run builds it sends the
requests (`tests/keepalive_user.py`); each test takes 2-8 s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from slakit.catalogue.defaults import KEEPALIVE_REUSE_S
from tests.servers import REPO, answers, free_port, stop, wait_until


@contextmanager
def engine() -> Iterator[tuple[str, int]]:
    """The simulated engine as a child process, so it can be stalled; its URL and pid."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "slakit.stack.sim_engine", "--host", "127.0.0.1"]
        + ["--port", str(port), "--model-name", "slakit-tiny", "--ttft-ms", "5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        wait_until(lambda: answers(f"{url}/v1/models"), 30, "sim engine")
        yield url, proc.pid
    finally:
        os.kill(proc.pid, signal.SIGCONT)  # never leave it stopped
        stop(proc)


def _two_requests(pause: str) -> dict:
    with engine() as (url, pid):
        r = subprocess.run(
            [sys.executable, "-m", "tests.keepalive_user", url, str(pid), pause],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.splitlines()[-1])


@pytest.mark.timeout(90)
def test_a_connection_used_again_soon_stays_warm() -> None:
    seen = _two_requests(str(KEEPALIVE_REUSE_S / 4))
    assert seen["errors"] == [None, None] and seen["statuses"] == [200, 200], seen
    assert seen["ports"][0] == seen["ports"][1], seen  # the same connection
    assert (seen["requests"], seen["failures"]) == (2, 0), seen


@pytest.mark.timeout(90)
def test_a_connection_the_server_may_have_closed_is_not_sent_on() -> None:
    """The server is stopped before its keep-alive deadline and resumed after it, while
    the second request goes out: sent on the idle connection, the server's late close
    resets it (a `connection` error the target never made); on a new one, it is answered."""
    seen = _two_requests("stall")
    assert seen["errors"] == [None, None] and seen["statuses"] == [200, 200], seen
    assert seen["ports"][0] != seen["ports"][1], seen  # a new connection
    assert (seen["requests"], seen["failures"]) == (2, 0), seen
