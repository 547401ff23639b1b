"""The simulated engine, served for real on loopback: API shapes, timing, faults, metrics."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from slakit import sse
from slakit.catalogue import metrics as catalogue
from slakit.stack import sim_engine
from slakit.stack.config import SimConfig
from tests.servers import metric, read_sse, scrape, serve_in_thread, serve_module, wait_until
from tests.unit.test_vllm_metrics import EXPOSED, HISTOGRAMS

MODEL = "sim-test"
PROMPT = "one two three four five"  # 5 prompt tokens, by the simulator's whitespace count
PLAIN = EXPOSED[len(HISTOGRAMS) :]  # the names vLLM exposes, as test_vllm_metrics reads them


@contextmanager
def sim(**fields):
    options = {k: fields.pop(k) for k in ("max_model_len", "max_num_seqs") if k in fields}
    app = sim_engine.create_app(SimConfig(**fields), MODEL, **options)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def url():
    with sim(ttft_ms=100, token_delay_ms=5) as base:
        yield base


def chat(max_tokens: int = 8, stream: bool = True, prompt: str = PROMPT, **extra) -> dict:
    messages = [{"role": "user", "content": prompt}]
    return {"model": MODEL, "messages": messages, "max_tokens": max_tokens, "stream": stream,
            **extra}  # fmt: skip


def stream_chat(base: str, body: dict) -> tuple[float, list[tuple[float, str]]]:
    """(request start, events with arrival times)."""
    start = time.perf_counter()
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return start, read_sse(r)


def test_models_and_health(url):
    models = httpx.get(f"{url}/v1/models").json()
    assert models["object"] == "list"
    card = models["data"][0]
    assert (card["id"], card["object"], card["max_model_len"]) == (MODEL, "model", 512)
    assert httpx.get(f"{url}/health").status_code == 200


def test_streamed_chat_has_vllms_chunk_shape_usage_and_ttft(url):
    body = chat(max_tokens=8, stream_options={"include_usage": True})
    start, events = stream_chat(url, body)
    assert events[-1][1] == sse.DONE
    chunks = [json.loads(p) for _, p in events[:-1]]
    role, tokens, usage = chunks[0], chunks[1:-1], chunks[-1]
    assert role["object"] == "chat.completion.chunk" and role["model"] == MODEL
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(tokens) == 8
    assert all(c["choices"][0]["delta"]["content"] for c in tokens)
    assert [c["choices"][0]["finish_reason"] for c in tokens] == [None] * 7 + ["length"]
    assert {c["id"] for c in chunks} == {role["id"]}
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}
    ttft = events[1][0] - start
    assert 0.1 <= ttft < 0.5, ttft  # ttft_ms=100, plus loopback and thread scheduling


def test_without_include_usage_there_is_no_usage_chunk(url):
    _, events = stream_chat(url, chat(max_tokens=3))
    chunks = [json.loads(p) for _, p in events[:-1]]
    assert all(c["choices"] for c in chunks) and "usage" not in chunks[-1]


def test_completion_is_deterministic_per_prompt(url):
    def complete(prompt: str) -> dict:
        body = {"model": MODEL, "prompt": prompt, "max_tokens": 6, "ignore_eos": True}
        r = httpx.post(f"{url}/v1/completions", json=body, timeout=10)
        assert r.status_code == 200
        return r.json()

    first, again, other = complete(PROMPT), complete(PROMPT), complete("something else")
    assert first["object"] == "text_completion"
    choice = first["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["text"].split()) == 6
    assert choice["text"] == again["choices"][0]["text"] != other["choices"][0]["text"]
    assert first["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}


def test_streamed_completion_chunks(url):
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 4, "stream": True}
    with httpx.stream("POST", f"{url}/v1/completions", json=body, timeout=10) as r:
        events = [p for _, p in read_sse(r)]
    chunks = [json.loads(p) for p in events[:-1]]
    assert events[-1] == sse.DONE and len(chunks) == 4
    assert all(c["object"] == "text_completion" and c["choices"][0]["text"] for c in chunks)


def test_metrics_have_vllms_names_and_move(url):
    names = {name for name, _, _ in scrape(url)}
    for name in PLAIN:
        assert name in names, name
    for name in HISTOGRAMS:
        assert f"{name}_bucket" in names and f"{name}_count" in names, name

    def counts() -> dict[str, float]:
        labels = {"model_name": MODEL, "engine": "0"}
        return {
            "prompt": metric(url, catalogue.VLLM_PROMPT_TOKENS_TOTAL, **labels),
            "generation": metric(url, catalogue.VLLM_GENERATION_TOKENS_TOTAL, **labels),
            "length": metric(url, catalogue.VLLM_REQUEST_SUCCESS_TOTAL, finished_reason="length"),
            "ttft": metric(url, f"{catalogue.VLLM_TIME_TO_FIRST_TOKEN}_count"),
            "ttft_sum": metric(url, f"{catalogue.VLLM_TIME_TO_FIRST_TOKEN}_sum"),
            "itl": metric(url, f"{catalogue.VLLM_INTER_TOKEN_LATENCY}_count"),
            "e2e": metric(url, f"{catalogue.VLLM_E2E_REQUEST_LATENCY}_count"),
        }

    before = counts()
    stream_chat(url, chat(max_tokens=7))
    after = counts()
    delta = {k: after[k] - before[k] for k in after}
    assert delta["prompt"] == 5 and delta["generation"] == 7
    assert delta["length"] == 1 and delta["ttft"] == 1 and delta["e2e"] == 1
    assert delta["itl"] == 6
    assert 0.1 <= delta["ttft_sum"] < 0.5
    assert (
        metric(url, catalogue.VLLM_NUM_REQUESTS_RUNNING)
        == 0
        == metric(url, catalogue.VLLM_KV_CACHE_USAGE_PERC)
    )


def test_running_waiting_and_queue_time_are_truthful():
    with sim(ttft_ms=400, token_delay_ms=0, max_num_seqs=1) as base:
        threads = [threading.Thread(target=stream_chat, args=(base, chat(max_tokens=2)))
                   for _ in range(2)]  # fmt: skip
        for t in threads:
            t.start()
        wait_until(lambda: metric(base, catalogue.VLLM_NUM_REQUESTS_WAITING) == 1, 5, "one waiting")
        assert metric(base, catalogue.VLLM_NUM_REQUESTS_RUNNING) == 1
        assert metric(base, catalogue.VLLM_KV_CACHE_USAGE_PERC) > 0
        for t in threads:
            t.join(10)
        assert (
            metric(base, catalogue.VLLM_NUM_REQUESTS_WAITING)
            == 0
            == metric(base, catalogue.VLLM_NUM_REQUESTS_RUNNING)
        )
        # The second request queued behind the first one's 400 ms (less its later start).
        assert metric(base, f"{catalogue.VLLM_REQUEST_QUEUE_TIME}_sum") >= 0.2


def test_error_rate_one_gives_openai_shaped_500():
    with sim(error_rate=1.0) as base:
        r = httpx.post(f"{base}/v1/chat/completions", json=chat(stream=True), timeout=10)
        assert r.status_code == 500
        error = r.json()["error"]
        assert error["type"] == "InternalServerError" and error["code"] == 500
        assert metric(base, catalogue.VLLM_REQUEST_SUCCESS_TOTAL) == 0


def test_stall_holds_the_stream_after_the_first_token():
    with sim(ttft_ms=0, token_delay_ms=1, stall_rate=1.0, stall_s=0.5) as base:
        _, events = stream_chat(base, chat(max_tokens=3))
        arrivals = [t for t, p in events if p != sse.DONE]
        # role + first token arrive together, then the stall, then the rest
        assert arrivals[2] - arrivals[1] >= 0.45  # client clock: loopback jitter either way
        assert arrivals[3] - arrivals[2] < 0.3
        assert (
            metric(base, f"{catalogue.VLLM_INTER_TOKEN_LATENCY}_sum") >= 0.5
        )  # the engine's clock


def test_prompt_over_max_model_len_is_400_like_vllm():
    with sim(max_model_len=8) as base:
        long_prompt = " ".join(["word"] * 9)
        r = httpx.post(f"{base}/v1/chat/completions", json=chat(prompt=long_prompt), timeout=10)
        assert r.status_code == 400
        error = r.json()["error"]
        assert error["type"] == "BadRequestError" and error["param"] == "input_tokens"
        assert "maximum context length is 8 tokens" in error["message"]
        # Fits, but max_tokens is clamped to the room left, as vLLM does.
        r = httpx.post(f"{base}/v1/chat/completions", json=chat(stream=False, max_tokens=10))
        assert r.json()["usage"]["completion_tokens"] == 3


def test_bad_requests_are_400():
    with sim() as base:
        r = httpx.post(f"{base}/v1/chat/completions", content=b"{not json")
        assert r.status_code == 400
        r = httpx.post(f"{base}/v1/completions", json={"model": MODEL, "prompt": ["a", "b"]})
        assert r.status_code == 400


def test_command_line_serves_the_simulator():
    args = ("--model-name", MODEL, "--ttft-ms", "0", "--token-delay-ms", "0")
    with serve_module("slakit.stack.sim_engine", *args) as base:
        assert httpx.get(f"{base}/v1/models").json()["data"][0]["id"] == MODEL
        r = httpx.post(f"{base}/v1/chat/completions", json=chat(stream=False), timeout=10)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 8
