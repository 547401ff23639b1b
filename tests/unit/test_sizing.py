"""Prompts sized in the served model's tokens (`slakit.load.sizing`), against real servers:
the simulated engine's /tokenize, the gateway passing it on, the tiny model's own tokenizer
where a server has no /tokenize, and corpus words where nothing can count."""

from __future__ import annotations

import random
from contextlib import contextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from slakit.errors import InputError
from slakit.gateway.app import create_app
from slakit.gateway.settings import GatewaySettings
from slakit.load import counters, sizing
from slakit.load.prompts import draw_tokens, token_lengths
from slakit.paths import cache_dir
from slakit.scenario import Distribution, LlmKind
from slakit.stack import sim_engine
from slakit.stack.config import SimConfig
from slakit.stack.model import ensure_model
from slakit.target import ResolvedTarget
from tests.servers import free_port, serve_in_thread

MODEL = "sim-test"
KEY = "key-1"
UNIFORM = {"dist": "uniform", "min": 16, "max": 40}
ROUTES = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


@contextmanager
def sim(max_model_len: int = sim_engine.DEFAULT_MAX_MODEL_LEN):
    app = sim_engine.create_app(
        SimConfig(ttft_ms=0, token_delay_ms=0), MODEL, max_model_len=max_model_len
    )
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def engine():
    with sim() as url:
        yield url


@contextmanager
def gateway_to(engine_url: str, keys: frozenset[str] = frozenset()):
    closed = f"http://127.0.0.1:{free_port()}"  # no retrieval here
    settings = GatewaySettings(engine_url=engine_url, es_url=closed, model=MODEL, api_keys=keys)
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(engine):
    with gateway_to(engine) as url:
        yield url


@pytest.fixture(scope="module")
def no_tokenize():
    """A real server with no routes at all: /tokenize is a 404, as on OpenAI's API."""
    with serve_in_thread(Starlette()) as url:
        yield url


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return ensure_model(cache_dir())


def target(openai: str) -> ResolvedTarget:
    return ResolvedTarget(openai, None, None, None, MODEL, "external")


def kind(kind: str, input_tokens, **fields) -> LlmKind:
    return LlmKind.model_validate({"kind": kind, "input_tokens": input_tokens, **fields})


def usage_prompt_tokens(openai: str, kind: str, prompt: str) -> int:
    body = {"model": MODEL, "max_tokens": 1}
    if kind == "chat":
        body["messages"] = counters.chat_messages(prompt)
    else:
        body["prompt"] = prompt
    r = httpx.post(f"{openai}{ROUTES[kind]}", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["usage"]["prompt_tokens"]


def test_sim_tokenize_counts_as_its_usage_counts(engine):
    prompt = "alpha  beta\tgamma\n delta"
    counted = httpx.post(f"{engine}/tokenize", json={"model": MODEL, "prompt": prompt}).json()
    assert counted["count"] == usage_prompt_tokens(engine, "completions", prompt) == 4
    assert counted["max_model_len"] == sim_engine.DEFAULT_MAX_MODEL_LEN
    messages = [{"role": "system", "content": "be brief"}, *counters.chat_messages(prompt)]
    chat = httpx.post(f"{engine}/tokenize", json={"messages": messages}).json()
    assert chat["count"] == 6
    back = httpx.post(f"{engine}/detokenize", json={"tokens": counted["tokens"]}).json()
    assert back == {"prompt": "alpha beta gamma delta"}
    assert httpx.post(f"{engine}/detokenize", json={"tokens": [1 << 40]}).status_code == 400
    wrong = httpx.post(f"{engine}/tokenize", json={"model": "other", "prompt": prompt})
    assert wrong.status_code == 404


def test_gateway_passes_tokenize_and_detokenize_on_behind_its_key(engine):
    body = {"model": MODEL, "prompt": "one two three"}
    auth = {"Authorization": f"Bearer {KEY}"}
    with gateway_to(engine, frozenset({KEY})) as gateway:
        assert httpx.post(f"{gateway}/tokenize", json=body).status_code == 401
        through = httpx.post(f"{gateway}/tokenize", json=body, headers=auth)
        tokens = {"model": MODEL, "tokens": through.json()["tokens"]}
        back = httpx.post(f"{gateway}/detokenize", json=tokens, headers=auth)
    assert through.status_code == 200
    assert through.json() == httpx.post(f"{engine}/tokenize", json=body).json()
    assert back.status_code == 200 and back.json() == {"prompt": "one two three"}


@pytest.mark.parametrize("input_tokens", [64, UNIFORM], ids=["64", "uniform"])
@pytest.mark.parametrize("name", ["chat", "completions"])
def test_server_sized_prompts_are_exact_through_the_gateway(gateway, name, input_tokens):
    spec = kind(name, input_tokens)
    pool = sizing.prompt_pool(spec, target(gateway), seed=1)
    assert pool.sized_by == sizing.SERVER
    assert set(pool.exact) == set(token_lengths(spec.input_tokens))
    rng = random.Random(0)
    for _ in range(12):
        drawn = pool.draw(rng)
        assert usage_prompt_tokens(gateway, name, drawn.prompt) == drawn.tokens


@pytest.mark.parametrize("name", ["chat", "completions"])
def test_a_named_tokenizer_sizes_when_the_server_cannot(no_tokenize, tiny_tokenizer, name):
    from transformers import AutoTokenizer

    spec = kind(name, {"dist": "normal", "mean": 48, "stddev": 4}, tokenizer=str(tiny_tokenizer))
    pool = sizing.prompt_pool(spec, target(no_tokenize), seed=2)
    assert pool.sized_by == sizing.TOKENIZER and set(pool.exact) == set(range(32, 65))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    for tokens, prompts in pool.exact.items():
        for prompt in prompts:
            if name == "chat":
                ids = tokenizer.apply_chat_template(
                    counters.chat_messages(prompt), add_generation_prompt=True, return_dict=True
                )["input_ids"]
            else:
                ids = tokenizer(prompt)["input_ids"]
            assert len(ids) == tokens


def test_without_a_way_to_count_prompts_are_corpus_words(no_tokenize):
    pool = sizing.prompt_pool(kind("chat", 64), target(no_tokenize), seed=3)
    assert pool.sized_by == sizing.WORDS and not pool.exact
    drawn = pool.draw(random.Random(0))
    assert drawn.tokens == 64 and len(drawn.prompt.split()) == 64


def test_a_fixed_prompt_is_not_sized(no_tokenize):
    spec = kind("completions", 64, prompt={"source": "text", "text": "hello there"})
    pool = sizing.prompt_pool(spec, target(no_tokenize), seed=4)
    assert pool.sized_by is None
    assert pool.draw(random.Random(0)) == sizing.Drawn("hello there", None)


def refusal(spec: LlmKind, openai: str) -> str:
    with pytest.raises(InputError) as caught:
        sizing.prompt_pool(spec, target(openai), seed=5)
    (line,) = caught.value.problems
    return line


def test_lengths_no_prompt_can_have_are_one_clear_line(no_tokenize, tiny_tokenizer):
    with sim(max_model_len=128) as small:
        assert refusal(kind("completions", 128), small) == (
            "input_tokens: 128 tokens: the served model takes 128 (max_model_len), "
            "with room for one token of output: at most 127"
        )
        wide = kind("completions", {"dist": "uniform", "min": 1, "max": 1000})
        assert "draws 1000 distinct lengths (1 to 1000); at most 512" in refusal(wide, small)
    short = kind("chat", 10, tokenizer=str(tiny_tokenizer))
    assert refusal(short, no_tokenize) == (
        "input_tokens: 10 tokens: the chat template alone take 15; a prompt has at least 16"
    )


def test_an_answer_past_its_bound_is_refused_not_read():
    async def flood(request):
        return Response(b"[" + b"0," * counters.MAX_ANSWER_BYTES + b"0]")

    with serve_in_thread(Starlette(routes=[Route("/tokenize", flood, methods=["POST"])])) as url:
        assert refusal(kind("completions", 64), url) == (
            "input_tokens: sizing prompts in the server's tokens: POST /tokenize answered "
            f"more than {counters.MAX_ANSWER_BYTES:,} bytes"
        )


def test_a_server_that_fails_to_tokenize_is_named():
    closed = f"http://127.0.0.1:{free_port()}"
    assert refusal(kind("chat", 64), closed) == (
        "input_tokens: sizing prompts in the server's tokens: POST /tokenize failed: ConnectError"
    )


@pytest.mark.parametrize(
    ("spec", "lengths"),
    [
        ({"dist": "normal", "mean": 64, "stddev": 8}, range(32, 97)),
        ({"dist": "normal", "mean": 64, "stddev": 8, "min": 60, "max": 70}, range(60, 71)),
        ({"dist": "normal", "mean": 64, "stddev": 1, "min": 200}, range(200, 201)),
        ({"dist": "normal", "mean": 64, "stddev": 1, "max": 30}, range(30, 31)),
        ({"dist": "normal", "mean": 0.2, "stddev": 0}, range(1, 2)),
        (UNIFORM, range(16, 41)),
    ],
)
def test_every_drawn_length_is_one_that_was_sized(spec, lengths):
    distribution = Distribution.model_validate(spec)
    assert token_lengths(distribution) == lengths
    rng = random.Random(0)
    assert {draw_tokens(distribution, rng) for _ in range(2000)} <= set(lengths)
