"""Reading the engine's OpenAI-style stream while it is relayed, without buffering it."""

from __future__ import annotations

import json
import time

from slakit import sse


class StreamTap:
    """Watches relayed bytes: first-token time, token chunks, text, usage, model, errors.

    `feed` returns the payloads worth forwarding to a client that gets its own framing:
    everything except `[DONE]` and the usage-only chunk (choices empty).
    Without a usage chunk, completion tokens are counted as token chunks (vLLM
    sends one token per chunk unless stop strings hold some back).
    """

    __slots__ = ("_decoder", "first_token_at", "chunks", "pieces", "usage", "model", "error")

    def __init__(self) -> None:
        self._decoder = sse.SSEDecoder()
        self.first_token_at: float | None = None
        self.chunks = 0
        self.pieces: list[str] = []
        self.usage: dict | None = None
        self.model: str | None = None
        self.error: str | None = None

    def feed(self, chunk: bytes) -> list[str]:
        forward: list[str] = []
        for payload in self._decoder.feed(chunk):
            if payload == sse.DONE:
                continue
            try:
                event = json.loads(payload)
            except ValueError:
                self.error = "engine sent a non-JSON event"
                continue
            self.model = self.model or event.get("model")
            if event.get("usage"):
                self.usage = event["usage"]
            if "error" in event:
                self.error = str((event["error"] or {}).get("message", "engine error"))
            choices = event.get("choices")
            if choices == [] and self.usage is not None:
                continue
            piece = sse.token_piece(event)
            if piece is not None:
                self.first_token_at = self.first_token_at or time.perf_counter()
                self.chunks += 1
                self.pieces.append(piece)
            forward.append(payload)
        return forward

    def take_body(self, body: bytes) -> None:
        """Same bookkeeping for a non-streamed JSON response."""
        try:
            event = json.loads(body)
        except ValueError:
            return
        if isinstance(event, dict):
            self.model = event.get("model")
            self.usage = event.get("usage")

    @property
    def prompt_tokens(self) -> int | None:
        return (self.usage or {}).get("prompt_tokens")

    @property
    def completion_tokens(self) -> int:
        return (self.usage or {}).get("completion_tokens") or self.chunks

    @property
    def text(self) -> str:
        return "".join(self.pieces)
