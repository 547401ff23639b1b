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
from slakit.scenario.fields import Strict


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


class PromptSource(Strict):
    source: Literal["corpus", "text", "jsonl"] = "corpus"
    text: str | None = None
    path: Path | None = Field(None, description='JSONL file, one {"prompt": ...} per line')

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> PromptSource:
        if self.source == "text" and not self.text:
            raise ValueError("source 'text' needs `text`")
        if self.source == "jsonl" and not self.path:
            raise ValueError("source 'jsonl' needs `path`")
        return self


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
