"""The gateway, served for real in front of the real simulated engine.

Elasticsearch is pointed at a closed port here: retrieval against a real index is the
integration tests' job. What needs no index is checked: the proxy routes, auth, rate
limits, metrics, tracing, readiness and the 503 when retrieval is down.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from slakit import sse
from slakit.catalogue import metrics as catalogue
from slakit.gateway import auth
from slakit.gateway import metrics as gm
from slakit.gateway.app import create_app
from slakit.gateway.rag import NO_PASSAGES, messages
from slakit.gateway.settings import GatewaySettings
from slakit.stack import placement, sim_engine
from slakit.stack.config import SimConfig
from tests.servers import (
    free_port,
    metric,
    read_sse,
    serve_in_thread,
    serve_module,
    wait_until,
)

MODEL = "sim-test"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "a b c"}], "max_tokens": 5}
KEYS = frozenset({"key-1"})
WITH_KEY = {"Authorization": "Bearer key-1"}
# Another loopback address: requests from it are another client to the gateway.
OTHER_CLIENT = "127.0.0.2"


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def engine(**fields):
    with serve_in_thread(sim_engine.create_app(SimConfig(**fields), MODEL)) as url:
        yield url


@contextmanager
def gateway(engine_url: str, **fields):
    settings = GatewaySettings(engine_url=engine_url, es_url=closed_url(), model=MODEL, **fields)
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def sim():
    with engine(ttft_ms=20, token_delay_ms=2) as url:
        yield url


@pytest.fixture(scope="module")
def spans_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gateway") / "spans.jsonl"


@pytest.fixture(scope="module")
def gw(sim, spans_file):
    with gateway(sim, spans_file=spans_file) as url:
        yield url


def test_non_streamed_proxy_passes_body_and_status(gw):
    r = httpx.post(f"{gw}/v1/completions", json={"model": MODEL, "prompt": "x y", "max_tokens": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["object"] == "text_completion" and body["usage"]["completion_tokens"] == 3


def test_streamed_proxy_passes_the_engines_events(gw):
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{gw}/v1/chat/completions", json=body, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [p for _, p in read_sse(r)]
    assert events[-1] == sse.DONE
    chunks = [json.loads(p) for p in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"]["content"]]) == 5
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_streaming_is_unbuffered():
    """The first token reaches the client long before the engine has finished."""
    with engine(ttft_ms=0, token_delay_ms=300) as slow, gateway(slow) as gw:
        body = {**CHAT, "max_tokens": 6, "stream": True}
        start = time.perf_counter()
        with httpx.stream("POST", f"{gw}/v1/chat/completions", json=body, timeout=10) as r:
            arrivals = [t - start for t, p in read_sse(r) if p != sse.DONE]
    # 6 tokens, 300 ms apart: the engine needs >= 1.5 s for the whole answer.
    assert arrivals[-1] >= 1.5
    assert arrivals[1] < 0.5, arrivals  # role chunk + first token: right away
    gaps = [b - a for a, b in zip(arrivals[1:], arrivals[2:], strict=False)]
    assert min(gaps) > 0.2, gaps  # each token relayed on its own, not batched


def test_engine_errors_pass_through_and_engine_down_is_502():
    with engine(error_rate=1.0) as failing, gateway(failing) as gw:
        r = httpx.post(f"{gw}/v1/chat/completions", json=CHAT)
        assert r.status_code == 500 and r.json()["error"]["type"] == "InternalServerError"
        assert metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route=gm.ROUTE_CHAT, status="500") == 1
    with gateway(closed_url()) as gw:
        for stream in (False, True):
            r = httpx.post(f"{gw}/v1/chat/completions", json={**CHAT, "stream": stream})
            assert r.status_code == 502 and r.json()["error"]["type"] == "BadGatewayError"
        assert metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route=gm.ROUTE_CHAT, status="502") == 2
        assert metric(gw, catalogue.GATEWAY_IN_FLIGHT) == 0


def test_client_leaving_mid_stream_is_499_and_frees_the_engine():
    with engine(ttft_ms=0, token_delay_ms=200) as slow, gateway(slow) as gw:
        body = {**CHAT, "max_tokens": 20, "stream": True}
        with httpx.stream("POST", f"{gw}/v1/chat/completions", json=body, timeout=10) as r:
            next(r.iter_raw())  # first bytes, then hang up with ~4 s of tokens left
        wait_until(
            lambda: (
                metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, status=str(gm.STATUS_CLIENT_GONE)) == 1
            ),
            5,
            "499 counted",
        )
        assert metric(gw, catalogue.GATEWAY_IN_FLIGHT) == 0
        wait_until(
            lambda: metric(slow, catalogue.VLLM_NUM_REQUESTS_RUNNING) == 0,
            5,
            "engine request freed",
        )
        assert metric(slow, catalogue.VLLM_REQUEST_SUCCESS_TOTAL, finished_reason="abort") == 1


def test_api_keys_and_open_routes(sim):
    with gateway(sim, api_keys=frozenset({"key-1"})) as gw:
        url = f"{gw}/v1/chat/completions"
        assert httpx.post(url, json=CHAT).status_code == 401
        bad = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and "nope" not in bad.text
        assert bad.json()["error"]["type"] == "AuthenticationError"
        good = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer key-1"})
        assert good.status_code == 200
        assert httpx.post(f"{gw}/rag/query", json={"query": "x"}).status_code == 401
        assert httpx.get(f"{gw}/health").status_code == 200
        assert httpx.get(f"{gw}/metrics").status_code == 200
        assert httpx.get(f"{gw}/ready").status_code == 503  # not 401: never auth'd
        assert metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route=gm.ROUTE_CHAT, status="401") == 2


def test_failed_auth_is_limited_per_client_before_any_key_is_compared(sim):
    burst = auth.FAILED_AUTH_BURST
    refill_s = auth.FAILED_AUTH_WINDOW_S / burst
    elsewhere = httpx.HTTPTransport(local_address=OTHER_CLIENT)
    with (
        gateway(sim, api_keys=KEYS) as gw,
        httpx.Client() as here,
        httpx.Client(transport=elsewhere) as there,
    ):
        url = f"{gw}/v1/models"
        start = time.monotonic()
        guesses = [here.get(url, headers={"Authorization": f"Bearer k{n}"}) for n in range(200)]
        refilled = int((time.monotonic() - start) / refill_s)  # attempts regained meanwhile
        statuses = [r.status_code for r in guesses]
        assert statuses[:burst] == [401] * burst and statuses[burst] == 429
        assert set(statuses) == {401, 429} and statuses.count(401) <= burst + refilled
        refused = [r for r in guesses if r.status_code == 429]
        assert refused[0].json()["error"]["type"] == "RateLimitError"
        retry_after = {int(r.headers["Retry-After"]) for r in refused}
        assert retry_after <= set(range(1, math.ceil(refill_s) + 1)), retry_after
        # While refused, the right key is not even compared; another client is not refused.
        assert here.get(url, headers=WITH_KEY).status_code == 429
        assert there.get(url, headers=WITH_KEY).status_code == 200
        time.sleep(int(here.get(url).headers["Retry-After"]))
        assert here.get(url, headers=WITH_KEY).status_code == 200  # one attempt regained
        assert (
            metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route="/v1/models", status="429")
            == len(refused) + 2
        )


def test_a_forwarded_for_header_does_not_reset_the_failed_auth_limit(sim):
    """Only the connection's address counts unless a trusted proxy is named."""
    args = ("--engine-url", sim, "--es-url", closed_url(), "--model", MODEL)
    with serve_module("slakit.gateway", *args, env={"SLAKIT_GATEWAY_API_KEYS": "k1"}) as gw:
        statuses = [
            httpx.get(
                f"{gw}/v1/models",
                headers={"Authorization": "Bearer wrong", "X-Forwarded-For": f"10.9.9.{n}"},
            ).status_code
            for n in range(auth.FAILED_AUTH_BURST + 5)
        ]
    assert statuses.count(429) >= 4, statuses


def test_docs_and_schema_are_not_served_when_keys_are_set(sim, gw):
    assert httpx.get(f"{gw}/openapi.json").status_code == 200  # no keys: everything is open
    with gateway(sim, api_keys=KEYS) as keyed:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert httpx.get(f"{keyed}{path}").status_code == 404, path
            assert httpx.get(f"{keyed}{path}", headers=WITH_KEY).status_code == 404, path


def test_failed_auth_memory_is_bounded_by_forgetting_the_least_recent_client():
    buckets = auth.TokenBuckets(capacity=1, per_second=1 / 3600, max_keys=3)
    for client in ("a", "b", "c", "d"):
        assert buckets.take(client) == 0
    assert buckets.wait("a") == 0  # forgotten: a fourth client pushed it out
    assert all(buckets.wait(client) > 3000 for client in ("b", "c", "d"))


def test_rate_limit_per_key_with_retry_after(sim):
    keys = frozenset({"key-1", "key-2"})
    with gateway(sim, api_keys=keys, rate_limit_rps=1.0) as gw:
        url = f"{gw}/v1/completions"
        body = {"model": MODEL, "prompt": "x", "max_tokens": 1}

        def call(key: str) -> httpx.Response:
            return httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"})

        # burst = 2 x rate: two pass at once, the third is refused
        assert [call("key-1").status_code for _ in range(2)] == [200, 200]
        refused = call("key-1")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert call("key-2").status_code == 200  # another key has its own bucket
        time.sleep(1.05)
        assert call("key-1").status_code == 200  # refilled at 1 per second
        assert (
            metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route=gm.ROUTE_COMPLETIONS, status="429")
            == 1
        )


def test_metrics_move(gw):
    def value(name: str, **labels: str) -> float:
        return metric(gw, name, route=gm.ROUTE_CHAT, **labels)

    names = {
        "ok": (catalogue.GATEWAY_REQUESTS_TOTAL, {"status": "200"}),
        "total": (f"{catalogue.GATEWAY_STAGE_LATENCY}_count", {"stage": "total"}),
        "generate": (f"{catalogue.GATEWAY_STAGE_LATENCY}_count", {"stage": "generate"}),
        "ttft": (f"{catalogue.GATEWAY_TIME_TO_FIRST_TOKEN}_count", {}),
        "in": (catalogue.GATEWAY_TOKENS_TOTAL, {"direction": "in"}),
        "out": (catalogue.GATEWAY_TOKENS_TOTAL, {"direction": "out"}),
    }
    before = {k: value(n, **labels) for k, (n, labels) in names.items()}
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{gw}/v1/chat/completions", json=body, timeout=10) as r:
        r.read()
    httpx.post(f"{gw}/v1/chat/completions", json=CHAT)  # non-streamed: usage from the body
    after = {k: value(n, **labels) for k, (n, labels) in names.items()}
    delta = {k: after[k] - before[k] for k in names}
    assert delta == {"ok": 2, "total": 2, "generate": 2, "ttft": 1, "in": 6, "out": 10}
    assert (
        metric(gw, f"{catalogue.GATEWAY_TIME_TO_FIRST_TOKEN}_sum") >= 0.02
    )  # the engine's 20 ms TTFT
    assert value(catalogue.GATEWAY_IN_FLIGHT) == 0


def test_traceparent_is_honoured(gw, spans_file):
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    headers = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    r = httpx.post(f"{gw}/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 200
    _, answered_trace, answered_span, _ = r.headers["traceparent"].split("-")
    assert answered_trace == trace_id and answered_span != parent_id

    def span() -> dict | None:
        lines = spans_file.read_text().splitlines() if spans_file.exists() else []
        found = [json.loads(line) for line in lines if trace_id in line]
        return found[0] if found else None

    wait_until(span, 10, "span written")
    written = span()
    assert written["name"] == "generate" and written["kind"] == "SpanKind.SERVER"
    assert written["parent_id"] == f"0x{parent_id}"
    assert written["context"]["span_id"] == f"0x{answered_span}"
    assert written["attributes"]["gen_ai.usage.output_tokens"] == 5
    assert written["attributes"]["gen_ai.request.model"] == MODEL


def test_ready_names_what_is_down(gw):
    r = httpx.get(f"{gw}/ready")
    assert r.status_code == 503
    state = r.json()
    assert state["engine"] == "ok" and state["elasticsearch"] != "ok"
    with gateway(closed_url()) as down:
        state = httpx.get(f"{down}/ready").json()
        assert state["engine"].startswith("unreachable") and state["elasticsearch"] != "ok"


def test_rag_query_without_elasticsearch_is_503_and_bad_body_422(gw):
    r = httpx.post(f"{gw}/rag/query", json={"query": "how to parse JSON"})
    assert r.status_code == 503 and r.json()["error"]["type"] == "ServiceUnavailableError"
    assert httpx.post(f"{gw}/rag/query", json={"query": ""}).status_code == 422
    assert httpx.post(f"{gw}/rag/query", json={"q": "x"}).status_code == 422
    assert metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route=gm.ROUTE_RAG, status="503") == 1
    assert metric(gw, catalogue.GATEWAY_REQUESTS_TOTAL, route=gm.ROUTE_RAG, status="422") == 2


def test_prompt_numbers_passages_and_says_when_there_are_none():
    docs = [{"title": f"T{n}", "text": " ".join(["w"] * 100)} for n in (1, 2)]
    prompt = messages("why?", docs, passage_words=10)[0]["content"]
    assert "[1] T1\n" + " ".join(["w"] * 10) + "\n\n[2] T2" in prompt
    assert prompt.endswith("Question: why?")
    assert NO_PASSAGES in messages("why?", [], passage_words=10)[0]["content"]


def test_command_line_with_keys_from_the_environment(sim, tmp_path):
    """Also `--priority realtime` (as the embedded stack starts it): every thread of the
    gateway, the span exporter's too, is SCHED_RR where allowed (root), else unchanged."""
    args = ("--engine-url", sim, "--es-url", closed_url(), "--model", MODEL)
    args += ("--spans-file", str(tmp_path / "spans.jsonl"), "--priority", "realtime")
    env = {"SLAKIT_GATEWAY_API_KEYS": "k1, k2", "SLAKIT_GATEWAY_RATE_LIMIT_RPS": "50"}
    with serve_module("slakit.gateway", *args, env=env) as gw:
        assert httpx.get(f"{gw}/ready").json()["engine"] == "ok"
        (served,) = [
            p
            for p in psutil.process_iter(["cmdline"])
            if gw.rsplit(":", 1)[1] in (p.info["cmdline"] or [])
        ]
        policies = {os.sched_getscheduler(t.id) for t in served.threads()}
        assert policies == {os.SCHED_RR if os.geteuid() == 0 else os.SCHED_OTHER}, policies
        if os.geteuid() == 0:  # below the generator's, which must win a core when due
            levels = {os.sched_getparam(t.id).sched_priority for t in served.threads()}
            assert levels == {placement.GATEWAY_RT_PRIORITY}
            assert placement.GATEWAY_RT_PRIORITY < placement.GENERATOR_RT_PRIORITY
        assert len(served.threads()) > 1
        url = f"{gw}/v1/chat/completions"
        assert httpx.post(url, json=CHAT).status_code == 401
        assert httpx.post(url, json=CHAT, headers={"Authorization": "Bearer k2"}).status_code == 200


def test_settings_flags_beat_environment_beat_file(sim, tmp_path):
    """The engine comes from the flag (the environment's is closed), the key from the
    environment (the file's is refused), the model from the file."""
    config = tmp_path / "gateway.yaml"
    config.write_text(f"model: {MODEL}\nes_url: {closed_url()}\napi_keys: file-key\n")
    env = {"SLAKIT_GATEWAY_ENGINE_URL": closed_url(), "SLAKIT_GATEWAY_API_KEYS": "env-key"}
    args = ("--config", str(config), "--engine-url", sim)
    with serve_module("slakit.gateway", *args, env=env) as gw:
        assert httpx.get(f"{gw}/ready").json()["engine"] == "ok"
        url = f"{gw}/v1/chat/completions"
        refused = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer file-key"})
        assert refused.status_code == 401
        answered = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer env-key"})
        assert answered.status_code == 200 and answered.json()["model"] == MODEL


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path):
    args = ["--port", str(free_port()), "--engine-url", closed_url(), "--es-url", closed_url()]
    env = {**os.environ, "SLAKIT_GATEWAY_RATE_LIMIT_RPS": "0", "SLAKIT_GATEWAY_MODEL": "m"}
    done = subprocess.run(
        [sys.executable, "-m", "slakit.gateway", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: environment: rate_limit_rps: Input should be greater than 0"
    ]
