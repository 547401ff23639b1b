"""What the load sends: prompts for LLM kinds and queries for search kinds.

Token lengths are approximate on the way out (one corpus word per requested token); the
report uses the server's own `usage` counts wherever the server sends them. The files a
workload names are checked before any load (`check_sources`).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from slakit.errors import InputError
from slakit.scenario import Distribution, PromptSource, RequestKind, Scenario
from slakit.yamlconf import read_text

# Prompt and query files are held in memory whole; a bigger file is not one of them.
MAX_PROMPT_FILE_BYTES = 256 * 1024 * 1024


@functools.cache
def _corpus_words() -> tuple[str, ...]:
    from slakit.stack.corpus import passages

    return tuple(w for p in passages(3000) for w in p.text.split())


def check_sources(scenario: Scenario) -> None:
    """Read every prompt and query file the workload names, before any load: a missing,
    empty or broken file is bad input, reported once at the line that names it, not a
    traceback in every request that draws from it."""
    problems = []
    for kind in scenario.workload:
        for where, read in _files(kind):
            try:
                read()
            except InputError as exc:
                problems.extend(f"{where}: {problem}" for problem in exc.problems)
    if problems:
        raise InputError(*problems)


def _files(kind: RequestKind) -> Iterator[tuple[str, Callable[[], tuple[str, ...]]]]:
    """(`file:line: field` naming the file, its reader) for each file `kind` draws from."""
    for source in (getattr(kind, "prompt", None), getattr(kind, "queries", None)):
        if isinstance(source, PromptSource) and source.source == "jsonl":
            yield source.where("path"), functools.partial(_jsonl, source.path)
        elif isinstance(source, Path):
            yield kind.where("queries"), functools.partial(_query_file, source)


@functools.cache
def _jsonl(path: Path) -> tuple[str, ...]:
    prompts = []
    for number, line in enumerate(read_text(path, MAX_PROMPT_FILE_BYTES).splitlines(), 1):
        if not line.strip():
            continue
        try:
            prompt = json.loads(line)["prompt"]
        except (ValueError, KeyError, TypeError, RecursionError):  # ValueError: bad JSON too
            prompt = None
        if not isinstance(prompt, str):
            raise InputError(f'{path}:{number}: expected a JSON object like {{"prompt": "..."}}')
        prompts.append(prompt)
    if not prompts:
        raise InputError(f"{path}: no prompts in the file")
    return tuple(prompts)


def warm_prompt_sources() -> None:
    """Build the corpus word list before the run, so no request pays for it."""
    _query_terms()


def draw_tokens(spec: int | Distribution, rng: random.Random) -> int:
    """A token count from a fixed value or a distribution (at least 1)."""
    if isinstance(spec, int):
        return spec
    if spec.dist == "uniform":
        return rng.randint(spec.min, spec.max)
    value = round(rng.gauss(spec.mean, spec.stddev))
    if spec.min is not None:
        value = max(spec.min, value)
    if spec.max is not None:
        value = min(spec.max, value)
    return max(1, value)


def make_prompt(source: PromptSource, tokens: int, rng: random.Random) -> str:
    """A prompt of about `tokens` words from the configured source."""
    if source.source == "text":
        return source.text
    if source.source == "jsonl":
        return rng.choice(_jsonl(source.path))
    words = _corpus_words()
    start = rng.randrange(0, len(words) - tokens) if len(words) > tokens else 0
    return " ".join(words[start : start + tokens])


@functools.cache
def _query_terms() -> tuple[str, ...]:
    return tuple(
        sorted(
            {w.strip(".,:;()[]'\"`").lower() for w in _corpus_words() if len(w) > 5 and w.isalpha()}
        )
    )


def search_query(source: str | Path, rng: random.Random) -> str:
    """Two corpus terms, or a line from a query file."""
    if source == "corpus_terms":
        return " ".join(rng.sample(_query_terms(), 2))
    return rng.choice(_query_file(Path(source)))


@functools.cache
def _query_file(path: Path) -> tuple[str, ...]:
    queries = tuple(q for q in read_text(path, MAX_PROMPT_FILE_BYTES).splitlines() if q.strip())
    if not queries:
        raise InputError(f"{path}: no queries in the file")
    return queries
