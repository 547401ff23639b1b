"""What is sent: request kinds (LLM, RAG, Elasticsearch) and their token lengths and prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from slakit.catalogue.defaults import INDEX
from slakit.scenario.fields import Duration, Strict
from slakit.yamlconf import FieldProblem


class Distribution(Strict):
    """Token counts drawn per request."""

    dist: Literal["uniform", "normal"]
    min: int | None = Field(None, ge=1)
    max: int | None = Field(None, ge=1)
    mean: float | None = Field(None, gt=0)
    stddev: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        if self.dist == "uniform" and (self.min is None or self.max is None):
            raise ValueError("a uniform distribution needs min and max")
        if self.dist == "uniform" and self.min > self.max:
            raise ValueError("min must not exceed max")
        if self.dist == "normal" and (self.mean is None or self.stddev is None):
            raise ValueError("a normal distribution needs mean and stddev")
        return self


def _tokens_shape(value: object) -> str | None:
    """A mapping is a distribution, a number a count: only that reading's problem is
    reported, not pydantic's attempt at each (`constrained-int`, `function-after[...]`)."""
    if isinstance(value, dict | Distribution):
        return "distribution"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "count"
    return None


Tokens = Annotated[
    Annotated[int, Field(ge=1), Tag("count")] | Annotated[Distribution, Tag("distribution")],
    Discriminator(
        _tokens_shape,
        custom_error_type="tokens",
        custom_error_message="expected a token count like 64 or a distribution like "
        "{dist: uniform, min: 16, max: 128}",
    ),
]


DATASET_FORMATS = ("sharegpt", "openai", "jsonl", "csv")
"""Dataset files slakit reads (`slakit.load.datasets`; scenarios/data/README.md shows each)."""


class TokenRange(Strict):
    """Keep only dataset prompts of this many tokens (as the served model counts them)."""

    min: int | None = Field(None, ge=1)
    max: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> TokenRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class PromptSource(Strict):
    source: Literal["corpus", "text", "jsonl", "dataset"] = "corpus"
    text: str | None = None
    path: Path | None = Field(
        None, description='a `jsonl` file, one {"prompt": ...} per line, or a `dataset` file'
    )
    format: Literal[DATASET_FORMATS] | None = Field(
        None, description="a dataset's format: sharegpt, openai, jsonl (`jsonl` source), csv"
    )
    sample: Literal["with_replacement", "without_replacement"] = Field(
        "with_replacement",
        description="a dataset's rows drawn at random (seeded) with or without replacement; "
        "without, the rows are reshuffled once all were sent",
    )
    tokens: TokenRange | None = Field(
        None, description="a dataset's rows kept by prompt length in the served model's tokens"
    )
    seed: int = Field(
        0, ge=0, description="added to the scenario's seed for this kind's prompts (LLM kinds)"
    )
    fresh_per_step: bool = Field(
        False,
        description="a sweep's every step draws its own prompts (`seed` plus the step's "
        "index), so a step does not find earlier steps' prompts in the server's prefix cache",
    )

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> PromptSource:
        if self.source == "jsonl":  # today's `jsonl` source is the dataset format of that name
            self.source, self.format = "dataset", self.format or "jsonl"
        if self.source == "text" and not self.text:
            raise ValueError("source 'text' needs `text`")
        if self.source == "dataset" and not (self.path and self.format):
            raise ValueError(
                f"source 'dataset' needs `path` and `format` ({', '.join(DATASET_FORMATS)})"
            )
        if self.source != "dataset" and (self.format or self.tokens):
            raise ValueError("`format` and `tokens` are for source 'dataset'")
        return self


class Prefix(Strict):
    """Shared system prompts, as inference-perf's shared-prefix workload: every request
    starts with one of `groups` prompts of exactly `tokens` tokens (the served model's)."""

    groups: int = Field(ge=1, le=64)
    tokens: int = Field(ge=1, le=4096)


class Conversation(Strict):
    """Multi-turn chat: each conversation sends its history (the user's prompts and the
    assistant's streamed replies) with every turn, so later turns reuse cached prefixes."""

    turns: Tokens = Field(description="turns per conversation: a count or a distribution")
    think_time: Duration = Field(
        0.0, description="a conversation's next turn is sent at least this long after a reply"
    )


class _Kind(Strict):
    weight: float = Field(1.0, gt=0)
    name: str | None = Field(None, description="label in reports; defaults to the kind")


class LlmKind(_Kind):
    kind: Literal["chat", "completions"]
    stream: bool = True
    prompt: PromptSource = PromptSource()
    input_tokens: Tokens = Field(
        64,
        description="prompt length in the served model's tokens (corpus prompts): sized "
        "with the server's /tokenize, else with `tokenizer`, else in corpus words",
    )
    output_tokens: Tokens = 32
    ignore_eos: bool = True
    tokenizer: Path | None = Field(
        None,
        description="the served model's HuggingFace tokenizer directory, to size corpus "
        "prompts when the server has no /tokenize (needs `transformers`)",
    )
    prefix: Prefix | None = None
    conversation: Conversation | None = Field(None, description="chat only")

    @model_validator(mode="after")
    def _conversations_are_chats(self) -> LlmKind:
        if self.conversation is not None and self.kind != "chat":
            raise FieldProblem(("conversation",), "a conversation needs `kind: chat`")
        return self


class RagKind(_Kind):
    kind: Literal["rag"]
    stream: bool = True
    top_k: int = Field(3, ge=1, le=20)
    output_tokens: Tokens = 32
    queries: PromptSource = PromptSource()


class EsSearchKind(_Kind):
    kind: Literal["es_search"]
    index: str = INDEX
    queries: Literal["corpus_terms"] | Path = "corpus_terms"
    size: int = Field(10, ge=1, le=100)


class EsBulkKind(_Kind):
    kind: Literal["es_bulk"]
    index: str = "slakit-bulk"
    docs_per_request: int = Field(50, ge=1, le=5000)


RequestKind = Annotated[LlmKind | RagKind | EsSearchKind | EsBulkKind, Field(discriminator="kind")]
