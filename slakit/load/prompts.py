"""What the load sends: prompts for LLM kinds and queries for search kinds.

Here a corpus prompt is one corpus word per requested token; `slakit.load.sizing` makes
LLM prompts exact in the served model's tokens wherever the target or the scenario can
count them. The files a workload names are checked before any load (`check_sources`).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from slakit.catalogue.defaults import CORPUS_DOCS
from slakit.errors import InputError
from slakit.scenario import Distribution, PromptSource, RequestKind, Scenario
from slakit.yamlconf import read_text

# Prompt and query files are held in memory whole; a bigger file is not one of them.
MAX_PROMPT_FILE_BYTES = 256 * 1024 * 1024


@functools.cache
def _corpus_words() -> tuple[str, ...]:
    from slakit.stack.corpus import passages

    return tuple(w for p in passages(CORPUS_DOCS) for w in p.text.split())


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


def _files(kind: RequestKind) -> Iterator[tuple[str, Callable[[], object]]]:
    """(`file:line: field` naming the file, its reader) for each file `kind` reads."""
    for source in (getattr(kind, "prompt", None), getattr(kind, "queries", None)):
        if isinstance(source, PromptSource) and source.source == "jsonl":
            yield source.where("path"), functools.partial(_jsonl, source.path)
        elif isinstance(source, Path):
            yield kind.where("queries"), functools.partial(_query_file, source)
    if tokenizer := getattr(kind, "tokenizer", None):
        yield kind.where("tokenizer"), functools.partial(_tokenizer_dir, tokenizer)


def _tokenizer_dir(path: Path) -> None:
    """A tokenizer is read only if the server cannot count, but a wrong path is wrong now."""
    if not path.is_dir():
        raise InputError(f"{path}: not a directory (expected a HuggingFace tokenizer directory)")


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


NORMAL_REACH_SD = 4
"""A normal length is drawn within this many standard deviations of its mean (beyond:
6 in 100,000 draws), so its lengths can all be sized before the load."""


def token_lengths(spec: int | Distribution) -> range:
    """Every token count `draw_tokens` can give for `spec`."""
    if isinstance(spec, int):
        return range(spec, spec + 1)
    if spec.dist == "uniform":
        return range(spec.min, spec.max + 1)
    reach = NORMAL_REACH_SD * spec.stddev
    low = max(spec.min or 1, round(spec.mean - reach))
    high = max(low, round(spec.mean + reach))
    if spec.max is not None:  # `max` wins over `min`, as a clamp to both in turn does
        high = min(spec.max, high)
        low = min(low, high)
    return range(low, high + 1)


def draw_tokens(spec: int | Distribution, rng: random.Random) -> int:
    """A token count from a fixed value or a distribution, within `token_lengths`."""
    if isinstance(spec, int):
        return spec
    if spec.dist == "uniform":
        return rng.randint(spec.min, spec.max)
    lengths = token_lengths(spec)
    return min(max(round(rng.gauss(spec.mean, spec.stddev)), lengths.start), lengths.stop - 1)


def make_prompt(source: PromptSource, tokens: int, rng: random.Random) -> str:
    """A prompt from the configured source: for the corpus, `tokens` consecutive words."""
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
