"""Pure parsers of what an OpenAI-compatible server and the gateway answer: the stream, the
model list, the RAG answer. Whatever the bytes say, they give a result or a SourceError
with a label-safe reason, never another exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from slakit import sse
from slakit.exporters.common import SourceError


@dataclass(frozen=True)
class StreamResult:
    """What a streamed chat completion said. `error` is a failure reason, None if it is good.

    `token_chunks[i]` is the index of the input chunk that completed the i-th token event
    (`sse.token_piece`: held-back `""` tokens included, chat's role announcement not), so a
    caller that timed each chunk's arrival can time each token.
    """

    token_chunks: tuple[int, ...] = ()
    done: bool = False
    error: str | None = None

    @property
    def tokens(self) -> int:
        return len(self.token_chunks)


def _problem(event: object) -> str | None:
    """The failure reason of one decoded stream event, None if its shape is good (so that
    `sse.token_piece` can read it)."""
    if not isinstance(event, dict):
        return "bad_json"
    if "error" in event or event.get("object") == "error":
        return "stream_error"
    choices = event.get("choices")
    if not isinstance(choices, list):  # vLLM's usage-only chunk has `choices: []`
        return "bad_json"
    for choice in choices:
        delta = (choice.get("delta") or {}) if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            return "bad_json"
        # chat content, a reasoning parser's output, or a text completion's text
        for piece in (delta.get("content"), delta.get("reasoning_content"), choice.get("text")):
            if piece is not None and not isinstance(piece, str):
                return "bad_json"
    return None


def parse_stream(chunks: Iterable[bytes]) -> StreamResult:
    """Judge an OpenAI-style SSE stream from its raw byte chunks. Pure; never raises on
    what the bytes say (garbage, broken JSON, missing fields give a result with `error`)."""
    decoder = sse.SSEDecoder()
    token_chunks: list[int] = []
    # Fed line by line, each decoder call completes at most one event: an event that is not
    # UTF-8 raises inside `feed` and must not take the good events before it along.
    for index, chunk in enumerate(chunks):
        for line in chunk.splitlines(keepends=True):
            try:
                payloads = decoder.feed(line)
            except UnicodeDecodeError:
                return StreamResult(tuple(token_chunks), error="bad_json")
            for payload in payloads:
                if payload == sse.DONE:
                    error = None if token_chunks else "no_tokens"
                    return StreamResult(tuple(token_chunks), done=True, error=error)
                try:
                    event = json.loads(payload)
                except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
                    return StreamResult(tuple(token_chunks), error="bad_json")
                if error := _problem(event):
                    return StreamResult(tuple(token_chunks), error=error)
                if sse.token_piece(event) is not None:  # the load generator's rule
                    token_chunks.append(index)
    return StreamResult(tuple(token_chunks), error="incomplete_stream")


@dataclass(frozen=True)
class ModelCard:
    id: str
    max_model_len: int | None
    owned_by: str | None


def parse_models(body: bytes) -> list[ModelCard]:
    """The cards of a /v1/models answer; SourceError `bad_json` if it is not one."""
    try:
        data = json.loads(body)["data"]
        cards = [
            ModelCard(
                card["id"],
                card.get("max_model_len") if type(card.get("max_model_len")) is int else None,
                card.get("owned_by") if isinstance(card.get("owned_by"), str) else None,
            )
            for card in data
        ]
    except (ValueError, RecursionError, LookupError, TypeError, AttributeError):
        raise SourceError("bad_json", "/v1/models did not answer a model list") from None
    if not all(isinstance(card.id, str) and card.id for card in cards):
        raise SourceError("bad_json", "/v1/models listed a model without an id")
    return cards


@dataclass(frozen=True)
class RagResult:
    retrieve_s: float
    generate_s: float
    documents: int


def parse_rag(body: bytes) -> RagResult:
    """The stage timings and document count of a /rag/query answer; SourceError `bad_json`."""
    try:
        answer = json.loads(body)
        timings, documents = answer["timings"], answer["documents"]
        stages = [timings["retrieve_ms"], timings["generate_ms"]]
    except (ValueError, RecursionError, LookupError, TypeError):
        raise SourceError("bad_json", "/rag/query did not answer timings and documents") from None
    numeric = all(type(v) in (int, float) and math.isfinite(v) and v >= 0 for v in stages)
    if not numeric or not isinstance(documents, list):
        raise SourceError("bad_json", "/rag/query timings or documents have the wrong type")
    return RagResult(stages[0] / 1000, stages[1] / 1000, len(documents))
