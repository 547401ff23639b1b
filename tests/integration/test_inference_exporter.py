"""The inference exporter as deployed: a real process probing real servers over HTTP.

The target is the simulated engine (a real process: started late, killed, restarted on its
port, slowed past the timeout, failing with 500) or a tiny local HTTP server that answers
garbage. The RAG probe runs through a real gateway against the session stack's real
Elasticsearch and its corpus. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from slakit import sse
from slakit.exporters import inference as ie
from slakit.stack.config import StackConfig
from tests.servers import HOST, REPO, free_port, metric, serve_handler, serve_module, wait_until

pytestmark = pytest.mark.integration

MODEL = "slakit-tiny"
KEY = "sk-canary-do-not-log-0123456789"
WAIT_S = 30
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(10)


@contextmanager
def sim(port: int, *args: str) -> Iterator[subprocess.Popen]:
    """The simulated engine as its own process on `port`, killed at the end."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slakit.stack.sim_engine",
            "--host",
            HOST,
            "--port",
            str(port),
            "--model-name",
            MODEL,
            *args,
        ],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://{HOST}:{port}"
        wait_until(lambda: _healthy(url) or proc.poll() is not None, WAIT_S, "sim start")
        assert proc.poll() is None, "the sim engine exited during start"
        yield proc
    finally:
        _stop(proc)


@dataclass
class Exporter:
    url: str
    log: Path

    def value(self, name: str, **labels: str) -> float:
        return metric(self.url, name, **labels)

    def failures(self, reason: str) -> float:
        return self.value(ie.PROBES_TOTAL, result="failure", reason=reason)

    def successes(self) -> float:
        return self.value(ie.PROBES_TOTAL, result="success")

    def wait(self, condition, what: str) -> None:
        wait_until(condition, WAIT_S, what)


@contextmanager
def exporter(tmp_path: Path, openai_url: str, **fields: object) -> Iterator[Exporter]:
    """`python -m slakit.exporters.inference --port <free>`, configured by environment."""
    port = free_port()
    env = {**os.environ, **ENV, "SLAKIT_INFERENCE_EXPORTER_OPENAI_URL": openai_url}
    settings = {"interval_s": 0.3, "timeout_s": 3, **fields}
    env.update({f"SLAKIT_INFERENCE_EXPORTER_{k.upper()}": str(v) for k, v in settings.items()})
    log = tmp_path / f"exporter-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slakit.exporters.inference",
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: _healthy(url) or proc.poll() is not None, WAIT_S, "exporter start")
        assert proc.poll() is None, log.read_text()
        yield Exporter(url, log)
        assert proc.poll() is None, "the exporter died"
    finally:
        _stop(proc)


def timed_scrape(url: str) -> float:
    start = time.perf_counter()
    assert httpx.get(f"{url}/metrics", timeout=5).status_code == 200
    return time.perf_counter() - start


def test_success_is_counted_and_histograms_move(tmp_path: Path):
    port = free_port()
    with sim(port, "--ttft-ms", "30"), exporter(tmp_path, f"http://{HOST}:{port}/v1") as ex:
        ex.wait(lambda: ex.successes() >= 2, "two successful probes")
        first = ex.value(f"{ie.TIME_TO_FIRST_TOKEN}_count")
        ex.wait(lambda: ex.value(f"{ie.TIME_TO_FIRST_TOKEN}_count") >= first + 2, "more probes")
        assert ex.value(ie.UP, target=f"http://{HOST}:{port}") == 1
        assert ex.value(ie.PROBE_UP) == 1
        assert time.time() - ex.value(ie.LAST_SUCCESS) < 10
        probes = ex.value(f"{ie.E2E_LATENCY}_count")
        assert probes >= 2
        # 16 tokens a probe: 15 gaps each; the sim's 30 ms first token is in the right bucket
        assert ex.value(f"{ie.INTER_TOKEN_LATENCY}_count") >= 15 * probes
        ttft_sum = ex.value(f"{ie.TIME_TO_FIRST_TOKEN}_sum")
        ttft_count = ex.value(f"{ie.TIME_TO_FIRST_TOKEN}_count")
        assert 0.03 <= ttft_sum / ttft_count < 1
        info = ex.value(ie.MODEL_INFO, model=MODEL, max_model_len="512", owned_by="slakit-sim")
        assert info == 1
        assert sum(ex.failures(r) for r in ie.FIXED_REASONS) == 0


def test_target_down_at_start_then_recovers_by_itself(tmp_path: Path):
    port = free_port()
    with exporter(tmp_path, f"http://{HOST}:{port}") as ex:
        ex.wait(lambda: ex.failures("connection") >= 2, "connection failures")
        assert ex.value(ie.PROBE_UP) == 0 and ex.value(ie.UP) == 0
        assert ex.successes() == 0 and _healthy(ex.url)
        with sim(port):
            ex.wait(lambda: ex.value(ie.PROBE_UP) == 1, "recovery")
            assert ex.successes() >= 1 and ex.value(ie.UP) == 1


def test_target_dies_mid_run_and_comes_back_on_its_port(tmp_path: Path):
    port = free_port()
    broken = ("connection", "incomplete_stream")
    with exporter(tmp_path, f"http://{HOST}:{port}") as ex:
        with sim(port):
            ex.wait(lambda: ex.successes() >= 2, "successes before the kill")
        ex.wait(lambda: ex.value(ie.PROBE_UP) == 0, "failure noticed after the kill")
        ex.wait(lambda: sum(ex.failures(r) for r in broken) >= 2, "failures counted")
        assert timed_scrape(ex.url) < 1
        before = ex.successes()
        with sim(port):
            ex.wait(lambda: ex.successes() > before, "recovery after restart")
            assert ex.value(ie.PROBE_UP) == 1


def test_target_slower_than_timeout_fails_as_timeout_while_scrapes_stay_prompt(
    tmp_path: Path,
):
    port = free_port()
    with (
        sim(port, "--ttft-ms", "5000"),
        exporter(tmp_path, f"http://{HOST}:{port}", timeout_s=0.5, interval_s=0.2) as ex,
    ):
        ex.wait(lambda: ex.failures("timeout") >= 2, "timeouts")
        # Probes are in flight (each waits its full timeout) while these scrapes run.
        assert max(timed_scrape(ex.url) for _ in range(10)) < 0.5
        assert ex.value(ie.PROBE_UP) == 0 and ex.successes() == 0
        assert ex.value(f"{ie.TIME_TO_FIRST_TOKEN}_count") == 0


def test_http_500_is_counted_by_status(tmp_path: Path):
    port = free_port()
    with sim(port, "--error-rate", "1"), exporter(tmp_path, f"http://{HOST}:{port}") as ex:
        ex.wait(lambda: ex.failures("http_500") >= 2, "http_500 failures")
        assert ex.value(ie.PROBE_UP) == 0 and ex.successes() == 0


MODELS = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
TOKEN = sse.encode({"choices": [{"index": 0, "delta": {"content": "hi"}}]})


@contextmanager
def http_server(routes: dict[tuple[str, str], tuple[int, str, bytes]]) -> Iterator[str]:
    """A real HTTP/1.0 server on loopback answering (method, path) with (status, type, body):
    a target that misbehaves on purpose (garbage JSON, broken streams)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, kind, body = routes.get((method, self.path.split("?")[0]), (404, "", b""))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: object) -> None:
            pass

    with serve_handler(Handler) as url:
        yield url


@pytest.mark.parametrize(
    ("models", "stream", "reason"),
    [
        (MODELS, b"data: {this is not json\n\n" + sse.DONE_EVENT, "bad_json"),
        (MODELS, b"data: \xff\xfe not UTF-8\n\n", "bad_json"),
        (MODELS, b"\xff\xfe\x00 binary noise, no event\n\n" * 3, "incomplete_stream"),
        (b"<html>not a model list</html>", TOKEN + sse.DONE_EVENT, "bad_json"),
        (MODELS, sse.DONE_EVENT, "no_tokens"),
        (MODELS, TOKEN + TOKEN, "incomplete_stream"),
    ],
    ids=["broken-json", "not-utf8", "binary-noise", "models-not-json", "no-tokens", "no-done"],
)
def test_garbage_from_a_real_server_is_counted_by_reason(
    tmp_path: Path, models: bytes, stream: bytes, reason: str
):
    routes = {
        ("GET", "/v1/models"): (200, "application/json", models),
        ("POST", "/v1/chat/completions"): (200, "text/event-stream", stream),
    }
    with http_server(routes) as url, exporter(tmp_path, url) as ex:
        ex.wait(lambda: ex.failures(reason) >= 2, f"{reason} failures")
        assert ex.value(ie.PROBE_UP) == 0 and ex.successes() == 0


@pytest.mark.parametrize("case", ["passages", "nothing matches", "elasticsearch down"])
def test_rag_probe_through_the_real_gateway_with_an_api_key(
    stack: StackConfig, tmp_path: Path, case: str
):
    """Real gateway, real Elasticsearch of the session's stack (with its corpus), the sim as
    engine; "elasticsearch down" points the gateway at a port where nothing listens."""
    port = free_port()
    es_url = (
        f"http://{HOST}:{free_port()}"
        if case == "elasticsearch down"
        else stack.url(stack.elasticsearch.port)
    )
    query = "zzqxv qqzzxw" if case == "nothing matches" else "parse json documents"
    with (
        sim(port),
        serve_module(
            "slakit.gateway",
            "--engine-url",
            f"http://{HOST}:{port}",
            "--es-url",
            es_url,
            "--index",
            stack.corpus.index,
            "--model",
            MODEL,
            env={"SLAKIT_GATEWAY_API_KEYS": KEY},
        ) as gateway,
        exporter(tmp_path, gateway, gateway_url=gateway, api_key=KEY, rag_query=query) as ex,
    ):
        # The canary goes through the gateway too: its key check passes, so the key is sent.
        ex.wait(lambda: ex.successes() >= 1, "canary through the gateway")
        if case == "elasticsearch down":
            ex.wait(
                lambda: ex.value(ie.RAG_PROBES_TOTAL, result="failure", reason="http_503") >= 2,
                "RAG failures while Elasticsearch is down",
            )
            assert ex.value(ie.RAG_PROBE_UP) == 0
        else:
            ex.wait(lambda: ex.value(ie.RAG_PROBES_TOTAL, result="success") >= 2, "RAG successes")
            assert ex.value(ie.RAG_PROBE_UP) == 1
            assert ex.value(f"{ie.RAG_RETRIEVE}_count") >= 2
            assert ex.value(f"{ie.RAG_GENERATE}_count") >= 2
            assert ex.value(f"{ie.RAG_LATENCY}_count") >= 2
            empty = case == "nothing matches"
            assert (ex.value(ie.RAG_DOCUMENTS) == 0) == empty
            assert (ex.value(ie.RAG_EMPTY_TOTAL) >= 2) == empty
        scraped = httpx.get(f"{ex.url}/metrics", timeout=5).text
    assert KEY not in scraped and KEY not in ex.log.read_text()
    assert "API key set" in ex.log.read_text()


def test_bad_config_exits_with_a_readable_line(tmp_path: Path):
    config = tmp_path / "exporter.yaml"
    config.write_text("interval_s: -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "slakit.exporters.inference", "--config", str(config)],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{config}:1: interval_s:" in done.stderr and "Traceback" not in done.stderr
