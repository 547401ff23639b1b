"""Server-sent events as OpenAI-compatible servers use them: `data: <payload>` + blank line.

One encoder and one incremental decoder, shared by the simulated engine, the gateway and
the load generator, so every part of slakit frames and parses streams the same way.
"""

from __future__ import annotations

import json

DONE = "[DONE]"
"""The payload that ends an OpenAI-style stream."""

DONE_EVENT = b"data: [DONE]\n\n"


def encode(payload: object) -> bytes:
    """One SSE event; `payload` is JSON-encoded unless it is already a string."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return b"data: " + text.encode() + b"\n\n"


class SSEDecoder:
    """Incremental parser: feed byte chunks as they arrive, get back complete `data` payloads.

    Chunks may split events (or even a UTF-8 character) anywhere. Only `data:` fields
    matter here; comments, `event:`, `id:` and `retry:` lines are skipped. Several `data:`
    lines in one event are joined with newlines, as the SSE specification says.
    """

    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Return the payloads of the events completed by `chunk`, in order."""
        buffer = self._buffer + chunk
        events: list[str] = []
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data).decode())
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        self._buffer = buffer[start:]
        return events


def token_piece(event: dict) -> str | None:
    """The text one OpenAI-style stream event adds for a token, or None if it carries none.

    A token's text may be `""`: a byte-level tokenizer's token that ends inside a UTF-8
    character is held back by the detokenizer, but the chunk still marks a token's arrival
    (vLLM's own benchmark times it too). Not tokens: the usage-only chunk (`choices: []`),
    chat's role announcement (`delta: {role, content: ""}`) and an empty closing delta.
    """
    choices = event.get("choices")
    if not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    if "text" in choice:  # /v1/completions
        return choice["text"] or ""
    delta = choice.get("delta") or {}
    content = delta.get("content")
    if content is None or ("role" in delta and not content):
        return None
    return content
