"""Real servers for tests: free loopback ports, uvicorn in a thread or a child process,
SSE reading with arrival times, Prometheus scraping. Every wait is bounded."""

from __future__ import annotations

import http.server
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from slakit import sse

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


# Below the kernel's ephemeral range (32768-60999 here) and below the test stacks' ports
# (28000-31500): a port a client may take as its own source port can be stolen by a
# readiness poll connecting to itself before the server binds it (TCP self-connect).
FREE_PORTS = range(20000, 27000)


def free_port() -> int:
    """A loopback port nothing listens on right now (also usable as a 'closed' port)."""
    for port in random.sample(FREE_PORTS, 200):
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {FREE_PORTS}")


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


@contextmanager
def serve_in_thread(app, timeout: float = 15) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn on a free port in a thread; yield its URL."""
    port = free_port()
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout, "uvicorn start")
        assert server.started, "uvicorn exited during start"
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextmanager
def serve_handler(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A plain `http.server` handler on a free loopback port in a thread, for targets that
    misbehave below what an ASGI app can express; yield its URL."""
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def serve_module(
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    log_file: Path | None = None,
) -> Iterator[str]:
    """Run `python -m module --host --port ARGS` as a child process; yield its URL. Its
    output goes to `log_file` if given (kept for the test to read), else a temporary file."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with log_file.open("w+b") if log_file else tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--host", HOST, "--port", str(port), *args],
            env={**os.environ, "PYTHONPATH": path, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: answers(f"{url}/health") or proc.poll() is not None, timeout, module)
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{module} exited: {log.read().decode()[-2000:]}")
            yield url
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s: a test never leaves its child behind."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def answers(url: str, timeout: float = 1.0) -> bool:
    """GET `url` answers 200 (connection errors and timeouts are a no)."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def read_sse(response: httpx.Response) -> list[tuple[float, str]]:
    """Every event payload of a streamed response with its arrival time (perf_counter)."""
    decoder = sse.SSEDecoder()
    events = []
    for chunk in response.iter_raw():
        now = time.perf_counter()
        events.extend((now, payload) for payload in decoder.feed(chunk))
    return events


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) for every sample on `url`/metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def metric(url: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(
        value
        for sample, have, value in scrape(url)
        if sample == name and labels.items() <= have.items()
    )
