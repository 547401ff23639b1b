"""The gateway's and the simulated engine's logs, as processes write them: every line one
ECS JSON object, a request's line carries the trace its `traceparent` started and its
outcome, and an engine failure is an ERROR line in both (the ERROR-rate alert counts
them)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from slakit.stack.sim_engine import FAULTS_PATH
from tests.servers import free_port, serve_module, wait_until

MODEL = "sim-test"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "a b c"}], "max_tokens": 3}
TRACE = "0af7651916cd43dd8448eb211c80319c"


def traceparent(span: str) -> dict[str, str]:
    return {"traceparent": f"00-{TRACE}-{span}-01"}


def lines(path: Path) -> list[dict]:
    """Every line of a log as JSON (a line that is not fails the test)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], list[dict]]:
    """(gateway lines, engine lines) after one good and one failed chat completion."""
    out = tmp_path_factory.mktemp("ecs")
    engine_log, gateway_log = out / "engine.log", out / "gateway.log"
    with serve_module(
        "slakit.stack.sim_engine", "--model-name", MODEL, log_file=engine_log
    ) as engine:
        args = ("--engine-url", engine, "--es-url", f"http://127.0.0.1:{free_port()}")
        with serve_module("slakit.gateway", *args, "--model", MODEL, log_file=gateway_log) as gw:
            url = f"{gw}/v1/chat/completions"
            assert httpx.post(url, json=CHAT, headers=traceparent("1" * 16)).status_code == 200
            httpx.post(f"{engine}{FAULTS_PATH}", json={"error_rate": 1.0}).raise_for_status()
            assert httpx.post(url, json=CHAT, headers=traceparent("2" * 16)).status_code == 500
            wait_until(lambda: len(lines(gateway_log)) >= 2, 10, "the gateway's log lines")
    return lines(gateway_log), lines(engine_log)


def test_each_request_is_one_ecs_line_with_its_trace_and_outcome(logs):
    gateway, _ = logs
    good, failed = (line for line in gateway if line["log"]["logger"] == "slakit.gateway.requests")
    assert good["log.level"] == "info"
    assert good["event"]["outcome"] == "success"
    assert good["http"]["response"]["status_code"] == 200
    assert failed["log.level"] == "error"
    assert failed["event"]["outcome"] == "failure"
    assert failed["http"]["response"]["status_code"] == 500
    for line in (good, failed):
        assert line["trace"]["id"] == TRACE
        assert line["service"]["name"] == "slakit-gateway"
        assert line["url"]["path"] == "/v1/chat/completions"
        assert line["ecs.version"] and line["@timestamp"].endswith("Z")
        assert line["event"]["duration"] > 0  # nanoseconds


def test_the_injected_failure_is_an_error_line_of_the_callers_trace(logs):
    gateway, engine = logs
    (refused,) = engine
    assert refused["log.level"] == "error"
    assert refused["message"] == "simulated engine failure"
    assert refused["service"]["name"] == "slakit-sim-engine"
    # The gateway's own span for the request is the engine's parent: same trace.
    assert refused["trace"]["id"] == TRACE
    assert refused["span"]["id"] == gateway[-1]["span"]["id"]
