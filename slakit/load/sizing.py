"""Corpus prompts of an exact length in the served model's tokens, built before the load.

`input_tokens: 64` means 64 tokens as the server counts them (`usage.prompt_tokens`), not
64 words: one corpus word is about three tokens of the tiny model. Who counts, first
that applies (the report says which, per kind):

- `server`: the target's own `POST /tokenize` and `/detokenize` (vLLM's OpenAI server;
  the gateway and the simulated engine answer them too);
- `tokenizer`: the scenario's `tokenizer` directory, when the server has none;
- `words`: neither: one corpus word per token, approximate.

A prompt is a corpus window's first tokens, detokenized, then counted again the way the
request will be counted (for chat, with the chat template), and the cut moved until the
count is exact: a cut word may tokenize differently on its own. Every length a scenario can
draw is sized up front, a small pool of prompts each, so no timed request waits for a
tokenizer. Bounded: at most `MAX_DISTINCT_LENGTHS` lengths, `MAX_POOL_PROMPTS` prompts
per kind, `MAX_SIZING_S` seconds.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from slakit.errors import InputError, safe_text
from slakit.load.prompts import draw_tokens, make_prompt, token_lengths
from slakit.report.model import SERVER, TOKENIZER, WORDS
from slakit.scenario import Distribution, LlmKind, PromptSource
from slakit.target import ResolvedTarget

MAX_DISTINCT_LENGTHS = 512
"""Lengths one kind may draw when sized exactly; a wider distribution is refused."""
MAX_POOL_PROMPTS = 512
"""Prompts sized per kind, over all its lengths (three server calls each)."""
MAX_PROMPTS_PER_LENGTH = 64
"""Prompts per length at most: a fixed length gets this many to draw from."""
MAX_SIZING_S = 120.0
"""Sizing one kind's prompts takes at most this long."""
CALL_TIMEOUT_S = 10.0
"""Silence tolerated within one /tokenize or /detokenize call."""
MAX_ANSWER_BYTES = 8 << 20
"""Largest /tokenize or /detokenize answer read (2,048 token ids are about 10 KB)."""
MAX_REFITS = 4
"""Times one corpus window's cut is moved to reach the exact count before another is tried."""
SPARE_WINDOWS = 8
"""Corpus windows tried per length beyond its pool size, for cuts that never fit."""
SPARE_WORDS = 8
"""A window has this many words more than tokens wanted: a word is at least one token."""
NO_TOKENIZE = (404, 405, 501)
"""What a server without /tokenize answers it."""
_CORPUS = PromptSource()


def chat_messages(prompt: str) -> list[dict]:
    """The `messages` a chat request sends for `prompt`, and that sizing counts."""
    return [{"role": "user", "content": prompt}]


class _Counter(Protocol):
    """What sizing needs of a tokenizer: token ids of raw text, text of token ids, and the
    count a request of `text` gets (special tokens, chat template included)."""

    max_len: int | None

    def ids(self, text: str) -> list[int]: ...

    def text(self, ids: list[int]) -> str: ...

    def count(self, text: str, chat: bool) -> int: ...


class _Server:
    """The target's /tokenize and /detokenize, with vLLM's fields: a plain prompt gets the
    special tokens /v1/completions adds (`add_special_tokens` defaults to true), messages
    the chat template /v1/chat/completions applies (`add_generation_prompt` true)."""

    def __init__(self, target: ResolvedTarget, where: str, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        self._client = httpx.Client(base_url=target.openai, headers=headers, timeout=CALL_TIMEOUT_S)
        self._model = target.model
        self._where = where
        self._deadline = deadline
        self.max_len: int | None = None

    def probe(self) -> bool:
        """Whether the server tokenizes; learns its max_model_len on the way."""
        answer = self._post("/tokenize", {"prompt": ""}, missing_ok=True)
        if answer is None:
            return False
        max_len = answer.get("max_model_len")
        self.max_len = max_len if isinstance(max_len, int) else None
        return True

    def ids(self, text: str) -> list[int]:
        return self._field("/tokenize", {"prompt": text, "add_special_tokens": False}, "tokens")

    def text(self, ids: list[int]) -> str:
        return self._field("/detokenize", {"tokens": ids}, "prompt")

    def count(self, text: str, chat: bool) -> int:
        body = {"messages": chat_messages(text)} if chat else {"prompt": text}
        return self._field("/tokenize", body, "count")

    def close(self) -> None:
        self._client.close()

    def _field(self, path: str, body: dict, name: str):
        value = self._post(path, body).get(name)
        if not isinstance(value, int | str | list):
            raise self._problem(f"POST {path} answered without `{name}`")
        return value

    def _post(self, path: str, body: dict, missing_ok: bool = False) -> dict | None:
        try:
            with self._client.stream("POST", path, json={"model": self._model, **body}) as r:
                status, content = r.status_code, self._read(r, path)
        except httpx.HTTPError as exc:
            raise self._problem(f"POST {path} failed: {type(exc).__name__}") from None
        if missing_ok and status in NO_TOKENIZE:
            return None
        if status != 200:
            said = safe_text(content[:200].decode(errors="replace"))
            raise self._problem(f"POST {path} answered HTTP {status}: {said}")
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._problem(f"POST {path} answered something other than a JSON object")
        return answer

    def _read(self, response: httpx.Response, path: str) -> bytes:
        """The body, within MAX_ANSWER_BYTES and the sizing deadline: a target that trickles
        or floods its answer must not hold the run before it starts."""
        content = bytearray()
        for chunk in response.iter_bytes():
            content += chunk
            if len(content) > MAX_ANSWER_BYTES:
                raise self._problem(f"POST {path} answered more than {MAX_ANSWER_BYTES:,} bytes")
            if time.monotonic() > self._deadline:
                raise _too_slow(self._where)
        return bytes(content)

    def _problem(self, what: str) -> InputError:
        return InputError(f"{self._where}: sizing prompts in the server's tokens: {what}")


class _Local:
    """A HuggingFace tokenizer directory, read with `transformers` (its chat template too)."""

    def __init__(self, path: Path, where: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise InputError(
                f"{where}: sizing prompts with a tokenizer needs `transformers` "
                "(pip install 'slakit[reference]')"
            ) from None
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"{where}: {path} is not a tokenizer directory: {exc}") from None
        self.max_len = None  # the served model's own limit is the server's to say

    def ids(self, text: str) -> list[int]:
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def text(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids)

    def count(self, text: str, chat: bool) -> int:
        if chat:
            encoded = self._tokenizer.apply_chat_template(
                chat_messages(text), add_generation_prompt=True, tokenize=True, return_dict=True
            )
        else:
            encoded = self._tokenizer(text)
        return len(encoded["input_ids"])


@dataclass(frozen=True)
class PromptPool:
    """Where one LLM kind's prompts come from: exact prompts by length, corpus words, or
    the source's own text (`sized_by` None: a `text` or `jsonl` prompt is what it is)."""

    source: PromptSource
    tokens: int | Distribution
    sized_by: str | None
    exact: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def draw(self, rng: random.Random) -> tuple[str, int | None]:
        """(prompt, the input tokens it was sized to, None if not sized)."""
        if self.sized_by is None:
            return make_prompt(self.source, 0, rng), None
        tokens = draw_tokens(self.tokens, rng)
        if self.exact:
            return rng.choice(self.exact[tokens]), tokens
        return make_prompt(self.source, tokens, rng), tokens


_POOLS: dict[tuple, PromptPool] = {}
"""Pools built in this process, so a sweep's steps size each kind once."""


def prompt_pool(spec: LlmKind, target: ResolvedTarget, seed: int) -> PromptPool:
    """The kind's prompts, sized the first way that applies (see the module docstring)."""
    key = (spec.model_dump_json(), target.openai, target.model, target.api_key, seed)
    if key not in _POOLS:
        _POOLS[key] = _build(spec, target, random.Random(seed))
    return _POOLS[key]


def _build(spec: LlmKind, target: ResolvedTarget, rng: random.Random) -> PromptPool:
    if spec.prompt.source != "corpus":
        return PromptPool(spec.prompt, spec.input_tokens, None)
    deadline = time.monotonic() + MAX_SIZING_S
    with contextlib.closing(_Server(target, spec.where("input_tokens"), deadline)) as server:
        if server.probe():
            exact = _exact(server, spec, rng, deadline)
            return PromptPool(spec.prompt, spec.input_tokens, SERVER, exact)
    if spec.tokenizer is not None:
        local = _Local(spec.tokenizer, spec.where("tokenizer"))
        exact = _exact(local, spec, rng, deadline)
        return PromptPool(spec.prompt, spec.input_tokens, TOKENIZER, exact)
    return PromptPool(spec.prompt, spec.input_tokens, WORDS)


def _exact(
    counter: _Counter, spec: LlmKind, rng: random.Random, deadline: float
) -> dict[int, tuple[str, ...]]:
    """Prompts for every length the kind can draw, by length, each counted exact."""
    where = spec.where("input_tokens")
    chat = spec.kind == "chat"
    lengths = token_lengths(spec.input_tokens)
    overhead = counter.count("", chat)
    _check_lengths(lengths, overhead, counter.max_len, chat, where)
    per_length = max(1, min(MAX_PROMPTS_PER_LENGTH, MAX_POOL_PROMPTS // len(lengths)))
    exact = {}
    for tokens in lengths:
        found: list[str] = []
        for _ in range(per_length + SPARE_WINDOWS):
            if len(found) == per_length:
                break
            if time.monotonic() > deadline:
                raise _too_slow(where)
            window = counter.ids(make_prompt(_CORPUS, tokens + SPARE_WORDS, rng))
            if (text := _fit(counter, chat, window, tokens, overhead)) is not None:
                found.append(text)
        if not found:
            raise InputError(f"{where}: no corpus prompt counts exactly {tokens} tokens")
        exact[tokens] = tuple(found)
    return exact


def _too_slow(where: str) -> InputError:
    return InputError(f"{where}: sizing prompts took longer than {MAX_SIZING_S:g} s")


def _check_lengths(
    lengths: range, overhead: int, max_len: int | None, chat: bool, where: str
) -> None:
    """Lengths no prompt can have, as the one line that says why."""
    if len(lengths) > MAX_DISTINCT_LENGTHS:
        raise InputError(
            f"{where}: draws {len(lengths)} distinct lengths ({lengths.start} to "
            f"{lengths.stop - 1}); at most {MAX_DISTINCT_LENGTHS} are sized exactly: narrow it"
        )
    if lengths.start <= overhead:
        framing = "the chat template" if chat else "the special tokens"
        raise InputError(
            f"{where}: {lengths.start} tokens: {framing} alone take {overhead}; "
            f"a prompt has at least {overhead + 1}"
        )
    if max_len is not None and lengths.stop - 1 >= max_len:
        raise InputError(
            f"{where}: {lengths.stop - 1} tokens: the served model takes {max_len} "
            f"(max_model_len), with room for one token of output: at most {max_len - 1}"
        )


def _fit(counter: _Counter, chat: bool, ids: list[int], tokens: int, overhead: int) -> str | None:
    """The text of the first tokens of `ids` that a request counts as exactly `tokens`, or
    None if this window gives none within MAX_REFITS counts."""
    take = tokens - overhead
    for _ in range(MAX_REFITS):
        if not 0 < take <= len(ids):
            return None
        text = counter.text(ids[:take])
        counted = counter.count(text, chat)
        if counted == tokens:
            return text
        take += tokens - counted
    return None
