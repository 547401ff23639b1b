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

The same counting makes shared prefixes (`prefix`) exactly their length and keeps the
dataset rows a `tokens` filter asks for (counted as their requests are), so a request that
starts with a prefix, or a dataset row, is reported as sized too. Who counts is
`slakit.load.counters`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from slakit.errors import InputError
from slakit.load.counters import (
    MAX_SIZING_S,
    Counter,
    Local,
    Server,
    fit,
    system_message,
    too_slow,
    with_prefix,
)
from slakit.load.datasets import RowSampler, read_dataset
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
SPARE_WINDOWS = 8
"""Corpus windows tried per length beyond its pool size, for cuts that never fit."""
SPARE_WORDS = 8
"""A window has this many words more than tokens wanted: a word is at least one token."""
_CORPUS = PromptSource()


@dataclass(frozen=True)
class Drawn:
    """One request's prompt: its text, the messages a chat request sends before it (a
    dataset's), the input tokens it was sized to (None: not sized) and the output length
    its dataset row asks for (None: the kind's `output_tokens`)."""

    prompt: str
    tokens: int | None
    context: tuple[dict, ...] = ()
    output_tokens: int | None = None


@dataclass(frozen=True)
class SharedPrefix:
    """A shared prefix: its text, exactly `prefix.tokens` tokens, and the tokens it adds to
    a request as the server counts it (a chat template's system turn included)."""

    text: str
    added: int


@dataclass(frozen=True)
class PromptPool:
    """Where one LLM kind's prompts come from: exact prompts by length, corpus words, a
    dataset's rows, or the source's own text (`sized_by` None: not sized), and the shared
    prefixes its requests start with."""

    source: PromptSource
    tokens: int | Distribution
    sized_by: str | None
    exact: dict[int, tuple[str, ...]] = field(default_factory=dict)
    rows: RowSampler[Drawn] | None = None
    prefixes: tuple[SharedPrefix, ...] = ()

    def draw(self, rng: random.Random, tokens: int | None = None) -> Drawn:
        """`tokens`: this length, not one drawn (a trace row's; sized with the rest)."""
        if self.rows is not None:
            return self.rows.draw(rng)
        if self.source.source == "text":
            return Drawn(make_prompt(self.source, 0, rng), None)
        tokens = draw_tokens(self.tokens, rng) if tokens is None else tokens
        if self.exact:
            return Drawn(rng.choice(self.exact[tokens]), tokens)
        return Drawn(make_prompt(self.source, tokens, rng), tokens)


_POOLS: dict[tuple, PromptPool] = {}
"""Pools built in this process, so a sweep's steps size each kind once."""


def prompt_pool(spec: LlmKind, target: ResolvedTarget, seed: int) -> PromptPool:
    """The kind's prompts, sized the first way that applies (see the module docstring)."""
    key = (spec.model_dump_json(), target.openai, target.model, target.api_key, seed)
    if key not in _POOLS:
        _POOLS[key] = _build(spec, target, random.Random(seed))
    return _POOLS[key]


def _build(spec: LlmKind, target: ResolvedTarget, rng: random.Random) -> PromptPool:
    source = spec.prompt
    if not (source.source == "corpus" or source.tokens or spec.prefix):
        return _pool(None, None, spec, rng, 0.0)  # nothing to count
    deadline = time.monotonic() + MAX_SIZING_S
    with contextlib.closing(Server(target, spec.where("input_tokens"), deadline)) as server:
        if server.probe():
            return _pool(server, SERVER, spec, rng, deadline)
    if spec.tokenizer is not None:
        local = Local(spec.tokenizer, spec.where("tokenizer"))
        return _pool(local, TOKENIZER, spec, rng, deadline)
    return _pool(None, WORDS, spec, rng, deadline)


def _pool(
    counter: Counter | None, sized_by: str | None, spec: LlmKind, rng, deadline: float
) -> PromptPool:
    prefixes = _prefixes(counter, spec, rng, deadline) if spec.prefix else ()
    source = spec.prompt
    if source.source == "dataset":
        rows = RowSampler(_rows(counter, spec, rng, deadline), source.sample == "with_replacement")
        return PromptPool(
            source,
            spec.input_tokens,
            sized_by if source.tokens else None,
            rows=rows,
            prefixes=prefixes,
        )
    if source.source == "text":
        return PromptPool(source, spec.input_tokens, None, prefixes=prefixes)
    exact = _exact(counter, spec, rng, deadline) if counter else {}
    return PromptPool(source, spec.input_tokens, sized_by, exact, prefixes=prefixes)


def _rows(counter: Counter | None, spec: LlmKind, rng, deadline: float) -> tuple[Drawn, ...]:
    """The dataset's rows as prompts; with a `tokens` filter, only the rows of that length
    (counted as their requests are: with the chat template and their context), at most
    MAX_POOL_PROMPTS of them, taken in a seeded random order."""
    source, chat = spec.prompt, spec.kind == "chat"
    rows = [
        Drawn(r.prompt, None, r.context if chat else (), r.output_tokens)
        for r in read_dataset(source.path, source.format)
    ]
    if source.tokens is None:
        return tuple(rows)
    where = source.where("tokens")
    low, high = source.tokens.min or 1, source.tokens.max or math.inf
    kept = []
    for row in rng.sample(rows, len(rows)):
        if len(kept) == MAX_POOL_PROMPTS:
            break
        if time.monotonic() > deadline:
            raise too_slow(where)
        if counter is None:
            count = len(row.prompt.split())
        else:
            count = counter.count(row.prompt, chat, row.context)
        if low <= count <= high:
            kept.append(replace(row, tokens=count))
    if not kept:
        raise InputError(f"{where}: no row of {source.path} has {low:g} to {high:g} tokens")
    return tuple(kept)


def _prefixes(
    counter: Counter | None, spec: LlmKind, rng: random.Random, deadline: float
) -> tuple[SharedPrefix, ...]:
    """`prefix.groups` distinct corpus texts of exactly `prefix.tokens` tokens each (corpus
    words when nothing counts), with what each adds to a request."""
    groups, length, where = spec.prefix.groups, spec.prefix.tokens, spec.where("prefix")
    if counter is None:
        return tuple(SharedPrefix(make_prompt(_CORPUS, length, rng), length) for _ in range(groups))
    if counter.max_len is not None and length >= counter.max_len:
        raise InputError(
            f"{where}: {length} tokens: the served model takes {counter.max_len} (max_model_len)"
        )
    chat = spec.kind == "chat"
    question = make_prompt(_CORPUS, SPARE_WORDS, rng)  # a prefix adds the same to any question
    alone = counter.count(question, chat)
    found: dict[str, SharedPrefix] = {}
    raw = _fitted(counter, lambda t: len(counter.ids(t)), length, 0, groups, rng, deadline, where)
    for text in raw:
        if text in found:
            continue
        if chat:
            counted = counter.count(question, chat, [system_message(text)])
        else:
            counted = counter.count(with_prefix(text, question), chat)
        found[text] = SharedPrefix(text, counted - alone)
        if len(found) == groups:
            break
    if len(found) < groups:
        raise InputError(f"{where}: found {len(found)} corpus texts of exactly {length} tokens")
    return tuple(found.values())


def _exact(
    counter: Counter, spec: LlmKind, rng: random.Random, deadline: float
) -> dict[int, tuple[str, ...]]:
    """Prompts for every length the kind can draw, by length, each counted exact."""
    where = spec.where("input_tokens")
    chat = spec.kind == "chat"
    lengths = token_lengths(spec.input_tokens)
    overhead = counter.count("", chat)
    _check_lengths(lengths, overhead, counter.max_len, chat, where)
    per_length = max(1, min(MAX_PROMPTS_PER_LENGTH, MAX_POOL_PROMPTS // len(lengths)))
    exact = {}

    def counted(text: str) -> int:
        return counter.count(text, chat)

    for tokens in lengths:
        fitted = _fitted(counter, counted, tokens, overhead, per_length, rng, deadline, where)
        found = list(itertools.islice(fitted, per_length))
        if not found:
            raise InputError(f"{where}: no corpus prompt counts exactly {tokens} tokens")
        exact[tokens] = tuple(found)
    return exact


def _fitted(
    counter: Counter,
    count: Callable[[str], int],
    tokens: int,
    overhead: int,
    wanted: int,
    rng: random.Random,
    deadline: float,
    where: str,
) -> Iterator[str]:
    """Corpus texts that `count` makes exactly `tokens` (`fit`), one per window that gives
    one, from at most `wanted + SPARE_WINDOWS` windows; stop taking once enough are had."""
    for _ in range(wanted + SPARE_WINDOWS):
        if time.monotonic() > deadline:
            raise too_slow(where)
        window = counter.ids(make_prompt(_CORPUS, tokens + SPARE_WORDS, rng))
        text = fit(counter, count, window, tokens, overhead)
        if text is not None:
            yield text


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
