"""What the load sends: prompts for LLM kinds and queries for search kinds.

Here a corpus prompt is one corpus word per requested token; `slakit.load.sizing` makes
LLM prompts exact in the served model's tokens wherever the target or the scenario can
count them. The files a workload names are checked before any load (`check_sources`).
"""

from __future__ import annotations

import functools
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from slakit.catalogue.defaults import CORPUS_DOCS
from slakit.errors import InputError
from slakit.load.datasets import read_dataset
from slakit.scenario import Distribution, PromptSource, RequestKind, Scenario
from slakit.yamlconf import read_text

# Query files are held in memory whole; a bigger file is not one of them.
MAX_QUERY_FILE_BYTES = 256 * 1024 * 1024


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
        if isinstance(source, PromptSource) and source.source == "dataset":
            yield source.where("path"), functools.partial(read_dataset, source.path, source.format)
        elif isinstance(source, Path):
            yield kind.where("queries"), functools.partial(_query_file, source)
    if tokenizer := getattr(kind, "tokenizer", None):
        yield kind.where("tokenizer"), functools.partial(_tokenizer_dir, tokenizer)


def _tokenizer_dir(path: Path) -> None:
    """A tokenizer is read only if the server cannot count, but a wrong path is wrong now."""
    if not path.is_dir():
        raise InputError(f"{path}: not a directory (expected a HuggingFace tokenizer directory)")


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
    if source.source == "dataset":
        return rng.choice(read_dataset(source.path, source.format)).prompt
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
    queries = tuple(q for q in read_text(path, MAX_QUERY_FILE_BYTES).splitlines() if q.strip())
    if not queries:
        raise InputError(f"{path}: no queries in the file")
    return queries


def for_step(scenario: Scenario, index: int) -> Scenario:
    """The scenario as a sweep's step `index` (0 the first) sends it: an LLM kind with
    `prompt.fresh_per_step` draws its prompts with its seed plus `index`; any other resends
    the earlier steps' prompts, which the server's prefix cache may still hold, so its
    later steps can look better than cold traffic (vllm-project/vllm#54227): said once,
    at the second step. Other load modes run one step: the scenario as it is."""
    if scenario.load.sweep is None:
        return scenario
    workload = []
    for kind, name in zip(scenario.workload, scenario.kind_names(), strict=True):
        source = getattr(kind, "prompt", None)
        if source is not None and source.fresh_per_step:
            fresh = source.model_copy(update={"seed": source.seed + index})
            kind = kind.model_copy(update={"prompt": fresh})
        elif source is not None and index == 1:
            print(
                f"slakit: warning: {name}: sweep steps after the first resend the first "
                "step's prompts, which vLLM's prefix cache may hold (results look better than "
                "cold traffic, vllm-project/vllm#54227); set `prompt: {fresh_per_step: true}`",
                file=sys.stderr,
                flush=True,
            )
        workload.append(kind)
    return scenario.model_copy(update={"workload": workload})
