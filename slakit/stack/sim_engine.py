"""A simulated OpenAI-compatible LLM engine. It is a simulator, NOT vLLM.

It exists for fast tests and for fault injection (errors, stalls) that the real engine
cannot be asked for. It speaks vLLM's HTTP API shapes (`/v1/models`, chat and text
completions, streamed or not) and exposes vLLM-named metrics from `vllm_metrics`,
updated from what it actually serves. Everything else is made up:

- Output is `max_tokens` pseudo-words from a fixed list, chosen deterministically from
  the prompt; there is no EOS, so every request finishes with `length` and `ignore_eos`
  changes nothing.
- Prompt tokens are whitespace-separated words: an approximation of any real tokenizer.
  `/tokenize` and `/detokenize` (vLLM's fields) count and number them the same way, so
  a prompt sized with them gets exactly that `usage.prompt_tokens`; chat adds no template.
- Timing is `ttft_ms` before the first token and `token_delay_ms` between tokens, slept,
  not computed. At most `max_num_seqs` requests run at once; the rest wait (queue time).
- KV-cache usage is the tokens held by running requests over max_num_seqs * max_model_len.

Its log is ECS JSON (`slakit.ecslog`): an ERROR line for each injected failure, a WARNING
for each request it refused, with the `trace.id` of the caller's `traceparent`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from slakit import ecslog, sse
from slakit.stack.config import SimConfig
from slakit.stack.openai_errors import error_response
from slakit.stack.vllm_metrics import define_metrics

FAULTS_PATH = "/sim/faults"
"""POST {"error_rate": 1.0} here: the simulator's faults, changed while it runs."""


FAULT_FIELDS = ("error_rate", "stall_rate")
"""The SimConfig fields `FAULTS_PATH` may change."""

SERVICE = "slakit-sim-engine"
LOGGER = "slakit.stack.sim_engine"  # also when run as __main__
log = logging.getLogger(LOGGER)


# OpenAI's /v1/completions default; vLLM's own chat default is all the room left.
DEFAULT_MAX_TOKENS = 16
DEFAULT_MAX_MODEL_LEN = 512
DEFAULT_MAX_NUM_SEQS = 256  # vLLM's usual --max-num-seqs default

WORDS = (
    "alpha bravo cargo delta ember fjord glide harbor ion jetty kernel lumen meadow nectar "
    "orbit pylon quartz ripple signal tundra umber vector willow xenon yonder zephyr "
    "amber basil cinder dune echo flint grove haze indigo juniper kite lotus"
).split()


def _prompt_words(prompt: str) -> list[str]:
    """The simulator's prompt tokens: what `usage.prompt_tokens` and /tokenize count."""
    return prompt.split()


class _Vocabulary:
    """Token ids for /tokenize and /detokenize: a word's id is its UTF-8 bytes read as one
    number, so every replica of the simulator gives a word the same id (a prompt sized
    on one and sent to another counts the same). Detokenized ids are words joined by
    spaces, which count as as many tokens."""

    def encode(self, prompt: str) -> list[int]:
        return [int.from_bytes(word.encode(), "big") for word in _prompt_words(prompt)]

    def decode(self, ids: object) -> str:
        if not isinstance(ids, list) or not all(type(i) is int and i > 0 for i in ids):
            raise ValueError("`tokens` must be a list of positive token ids")
        words = []
        for i in ids:
            try:
                word = i.to_bytes((i.bit_length() + 7) // 8, "big").decode()
            except UnicodeDecodeError:
                word = ""
            if not word.isprintable() or word.split() != [word]:
                raise ValueError(f"`tokens`: {i} is the id of no word of this simulator")
            words.append(word)
        return " ".join(words)


@dataclass(frozen=True)
class _Job:
    prompt_tokens: int
    words: list[str]
    stall: bool


class _Engine:
    """Admission, faults and token timing; keeps the vLLM-named metrics truthful."""

    def __init__(
        self, cfg: SimConfig, model_name: str, max_model_len: int, max_num_seqs: int, seed: int
    ) -> None:
        self.cfg = cfg
        self.max_model_len = max_model_len
        self.registry = CollectorRegistry()
        self.metrics = define_metrics(self.registry, model_name, max_model_len)
        self._slots = asyncio.Semaphore(max_num_seqs)
        self._kv_capacity = max_num_seqs * max_model_len
        self._kv_tokens = 0
        self._rng = random.Random(seed)  # seeded once: the fault sequence is reproducible

    def admit(self, prompt: str, prompt_tokens: int, max_tokens: int) -> _Job | JSONResponse:
        """Decide faults and output for one request, or the error vLLM would answer."""
        fail, stall = self._rng.random(), self._rng.random()
        if fail < self.cfg.error_rate:
            return error_response(500, "InternalServerError", "simulated engine failure")
        if prompt_tokens >= self.max_model_len:  # no room left for one output token
            return error_response(
                400,
                "BadRequestError",
                f"This model's maximum context length is {self.max_model_len} tokens. "
                f"However, your prompt contains {prompt_tokens} input tokens, which exceeds "
                "this limit even without any output tokens. "
                "Please reduce the length of the input prompt.",
                param="input_tokens",
            )
        count = min(max_tokens, self.max_model_len - prompt_tokens)  # vLLM clamps likewise
        words = random.Random(zlib.crc32(prompt.encode())).choices(WORDS, k=count)
        texts = [words[0], *(" " + w for w in words[1:])]
        return _Job(prompt_tokens, texts, stall < self.cfg.stall_rate)

    def _use_kv(self, tokens: int) -> None:
        self._kv_tokens += tokens
        self.metrics.kv_cache_usage.set(self._kv_tokens / self._kv_capacity)

    async def tokens(self, job: _Job) -> AsyncIterator[str]:
        """Yield the job's token texts on the simulated schedule; record vLLM's metrics."""
        m = self.metrics
        arrival = time.perf_counter()
        m.waiting.inc()
        try:
            await self._slots.acquire()
        finally:
            m.waiting.dec()
        last = time.perf_counter()
        m.request_queue_time.observe(last - arrival)
        m.running.inc()
        held, generated, reason = job.prompt_tokens, 0, "abort"
        self._use_kv(held)
        try:
            await _sleep_until(last + self.cfg.ttft_ms / 1000)
            m.prompt_tokens.inc(job.prompt_tokens)
            for text in job.words:
                if generated:
                    delay = self.cfg.token_delay_ms / 1000
                    if generated == 1 and job.stall:
                        delay += self.cfg.stall_s
                    await _sleep_until(last + delay)
                now = time.perf_counter()
                if generated:
                    m.inter_token_latency.observe(now - last)
                else:
                    m.time_to_first_token.observe(now - arrival)
                last = now
                generated += 1
                held += 1
                self._use_kv(1)
                m.generation_tokens.inc()
                yield text
            reason = "length"
        finally:
            self._use_kv(-held)
            m.running.dec()
            self._slots.release()
            m.request_success[reason].inc()
            m.e2e_request_latency.observe(time.perf_counter() - arrival)
            m.request_prompt_tokens.observe(job.prompt_tokens)
            m.request_generation_tokens.observe(generated)


async def _sleep_until(deadline: float) -> None:
    """Never wake early: event-loop timers (uvloop's are in ms) may fire before time."""
    while (left := deadline - time.perf_counter()) > 0:
        await asyncio.sleep(left)


def _prompt_of(body: dict, chat: bool) -> str:
    """The prompt text; chat messages are joined (content parts of type text included)."""
    if not chat:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise ValueError("the simulator accepts one string `prompt`")
        return prompt
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list")
    parts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _unknown_model(body: dict, model_name: str) -> JSONResponse | None:
    """vLLM's 404 for a model it does not serve; None when the body names none or ours."""
    if body.get("model") in (None, model_name):
        return None
    return error_response(404, "NotFoundError", f"The model `{body['model']}` does not exist.")


class _Shape:
    """vLLM's JSON shapes for one request, chat or text completion."""

    def __init__(self, chat: bool, model: str) -> None:
        self.chat = chat
        self.model = model
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _envelope(self, choices: list[dict], stream: bool) -> dict:
        kind = ("chat.completion" if self.chat else "text_completion") + (
            ".chunk" if stream and self.chat else ""
        )
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def chunk(self, text: str, finish: str | None, role: bool = False) -> dict:
        choice: dict = {"index": 0}
        if self.chat:
            choice["delta"] = {"role": "assistant", "content": ""} if role else {"content": text}
        else:
            choice["text"] = text
        choice.update(logprobs=None, finish_reason=finish)
        if finish:
            choice["stop_reason"] = None
        return self._envelope([choice], stream=True)

    def usage_chunk(self, usage: dict) -> dict:
        return {**self._envelope([], stream=True), "usage": usage}

    def full(self, text: str, usage: dict) -> dict:
        choice: dict = {"index": 0}
        if self.chat:
            choice["message"] = {"role": "assistant", "content": text, "tool_calls": []}
        else:
            choice["text"] = text
        choice.update(logprobs=None, finish_reason="length", stop_reason=None)
        return {**self._envelope([choice], stream=False), "usage": usage}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


async def _stream(engine: _Engine, job: _Job, shape: _Shape, usage: bool) -> AsyncIterator[bytes]:
    sent = 0
    async with contextlib.aclosing(engine.tokens(job)) as tokens:
        async for text in tokens:
            if not sent and shape.chat:
                yield sse.encode(shape.chunk("", None, role=True))
            sent += 1
            yield sse.encode(shape.chunk(text, "length" if sent == len(job.words) else None))
    if usage:
        yield sse.encode(shape.usage_chunk(_usage(job.prompt_tokens, sent)))
    yield sse.DONE_EVENT


def _log_refusal(request: Request, answer: Response) -> None:
    """The engine's error answer as a log line of the caller's trace: ERROR for a 5xx."""
    context = trace.get_current_span(propagate.extract(request.headers)).get_span_context()
    message = json.loads(answer.body)["error"]["message"]
    level = logging.ERROR if answer.status_code >= 500 else logging.WARNING
    fields = {**ecslog.trace_fields(context), "http.response.status_code": answer.status_code}
    log.log(level, message, extra={**fields, "url.path": request.url.path})


def create_app(
    cfg: SimConfig,
    model_name: str,
    *,
    max_model_len: int = DEFAULT_MAX_MODEL_LEN,
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
    seed: int = 0,
) -> FastAPI:
    """The simulator's HTTP app. `seed` fixes which requests get the injected faults."""
    engine = _Engine(cfg, model_name, max_model_len, max_num_seqs, seed)
    app = FastAPI(title="slakit simulated engine (not vLLM)")

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.post(FAULTS_PATH)
    async def faults(request: Request) -> Response:
        """Change the injected faults of this running engine (one replica of several)."""
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict) or not set(body) <= set(FAULT_FIELDS):
                raise ValueError(f"expected an object of {', '.join(FAULT_FIELDS)}")
            engine.cfg = SimConfig.model_validate({**engine.cfg.model_dump(), **body})
        except ValueError as exc:
            return error_response(400, "BadRequestError", str(exc))
        return JSONResponse(engine.cfg.model_dump())

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(engine.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models() -> dict:
        card = {
            "id": model_name,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "slakit-sim",
            "root": model_name,
            "parent": None,
            "max_model_len": max_model_len,
            "permission": [],
        }
        return {"object": "list", "data": [card]}

    async def complete(request: Request, chat: bool) -> Response:
        try:
            body = json.loads(await request.body())
            prompt = _prompt_of(body, chat)
            max_tokens = int(body.get("max_tokens") or DEFAULT_MAX_TOKENS)
            if max_tokens < 1:
                raise ValueError("max_tokens must be at least 1")
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(400, "BadRequestError", str(exc))
        if unknown := _unknown_model(body, model_name):
            return unknown
        job = engine.admit(prompt, len(_prompt_words(prompt)), max_tokens)
        if isinstance(job, Response):
            _log_refusal(request, job)
            return job
        shape = _Shape(chat, model_name)
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _stream(engine, job, shape, usage), media_type="text/event-stream"
            )
        async with contextlib.aclosing(engine.tokens(job)) as tokens:
            text = "".join([t async for t in tokens])
        return JSONResponse(shape.full(text, _usage(job.prompt_tokens, len(job.words))))

    vocabulary = _Vocabulary()

    @app.post("/tokenize")
    async def tokenize(request: Request) -> Response:
        """A prompt or messages, counted as `usage.prompt_tokens` counts them."""
        try:
            body = json.loads(await request.body())
            prompt = _prompt_of(body, chat="messages" in body)
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(400, "BadRequestError", str(exc))
        if unknown := _unknown_model(body, model_name):
            return unknown
        tokens = vocabulary.encode(prompt)
        answer = {"count": len(tokens), "max_model_len": max_model_len, "tokens": tokens}
        return JSONResponse({**answer, "token_strs": None})

    @app.post("/detokenize")
    async def detokenize(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            prompt = vocabulary.decode(body.get("tokens"))
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(400, "BadRequestError", str(exc))
        return _unknown_model(body, model_name) or JSONResponse({"prompt": prompt})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await complete(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await complete(request, chat=False)

    return app


def main(argv: list[str] | None = None) -> None:
    """`python -m slakit.stack.sim_engine`: serve the simulator under uvicorn."""
    import uvicorn

    defaults = SimConfig()
    parser = argparse.ArgumentParser(
        prog="python -m slakit.stack.sim_engine", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--ttft-ms", type=float, default=defaults.ttft_ms)
    parser.add_argument("--token-delay-ms", type=float, default=defaults.token_delay_ms)
    parser.add_argument("--error-rate", type=float, default=defaults.error_rate)
    parser.add_argument("--stall-rate", type=float, default=defaults.stall_rate)
    parser.add_argument("--stall-s", type=float, default=defaults.stall_s)
    parser.add_argument("--max-model-len", type=int, default=DEFAULT_MAX_MODEL_LEN)
    parser.add_argument("--max-num-seqs", type=int, default=DEFAULT_MAX_NUM_SEQS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cfg = SimConfig(
        port=args.port,
        ttft_ms=args.ttft_ms,
        token_delay_ms=args.token_delay_ms,
        error_rate=args.error_rate,
        stall_rate=args.stall_rate,
        stall_s=args.stall_s,
    )
    app = create_app(
        cfg,
        args.model_name,
        max_model_len=args.max_model_len,
        max_num_seqs=args.max_num_seqs,
        seed=args.seed,
    )
    log_config = ecslog.dict_config(SERVICE, {LOGGER: "INFO"})
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", log_config=log_config)


if __name__ == "__main__":
    main()
