"""A hostile OpenAI-compatible target for tests: `python -m tests.hostile_target`.

A real HTTP server (starlette on uvicorn) whose behaviour is chosen by the first path
segment, so one process serves every case: a target file's `openai:` is
`http://127.0.0.1:PORT/<behaviour>`, and `/<behaviour>/v1/models` answers like a real
engine so the pre-flight check passes. Every stream it sends is bounded in bytes and
time (`MAX_STREAM_S`), so a client that never hangs up cannot keep it busy forever.

Behaviours: `ok` (a short, well-formed stream), `trickle` (one byte a second, forever),
`endless-line` (`data: xxxx...` without a newline), `huge-body` (a non-streamed JSON
body of `HUGE_BODY_BYTES`), `every-4th-hangs` (every 4th request trickles, the others are
`ok`), `stall` (`/v1/models` itself answers only after `STALL_S`). `GET /hits` counts
requests per behaviour and path.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from slakit import sse

MAX_STREAM_S = 120
TRICKLE_EVERY_S = 1.0
LINE_CHUNK = b"x" * 65536
ENDLESS_LINE_BYTES = 1 << 30
HUGE_BODY_BYTES = 64 << 20
STALL_S = 20
OK_TOKENS = 4

hits: Counter[str] = Counter()


def _ok_events() -> list[bytes]:
    """A complete chat stream: a few tokens, the usage chunk, [DONE]."""
    events = [sse.encode({"choices": [{"delta": {"content": f"t{i} "}}]}) for i in range(OK_TOKENS)]
    usage = {"prompt_tokens": 3, "completion_tokens": OK_TOKENS, "total_tokens": OK_TOKENS + 3}
    return [*events, sse.encode({"choices": [], "usage": usage}), sse.DONE_EVENT]


async def _ok() -> AsyncIterator[bytes]:
    for event in _ok_events():
        yield event


async def _trickle() -> AsyncIterator[bytes]:
    """Headers at once, then a byte a second: never idle long enough for a socket timeout."""
    deadline = time.monotonic() + MAX_STREAM_S
    while time.monotonic() < deadline:
        yield b":"
        await asyncio.sleep(TRICKLE_EVERY_S)


async def _huge_body() -> AsyncIterator[bytes]:
    """A JSON body far larger than any answer: a bounded client stops reading it."""
    yield b'{"pad": "'
    for _ in range(HUGE_BODY_BYTES // len(LINE_CHUNK)):
        yield LINE_CHUNK
    yield b'"}'


async def _endless_line() -> AsyncIterator[bytes]:
    """One SSE line that never ends, as fast as the client reads it."""
    yield b"data: "
    for _ in range(ENDLESS_LINE_BYTES // len(LINE_CHUNK)):
        yield LINE_CHUNK


def _stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream")


async def models(request: Request) -> Response:
    behaviour = request.path_params["behaviour"]
    hits[f"{behaviour}/v1/models"] += 1
    if behaviour == "stall":
        await asyncio.sleep(STALL_S)
    return JSONResponse({"object": "list", "data": [{"id": "hostile", "object": "model"}]})


async def chat(request: Request) -> Response:
    behaviour = request.path_params["behaviour"]
    hits[f"{behaviour}/v1/chat/completions"] += 1
    await request.body()
    if behaviour == "huge-body":
        return StreamingResponse(_huge_body(), media_type="application/json")
    if behaviour == "trickle" or (
        behaviour == "every-4th-hangs" and hits[f"{behaviour}/v1/chat/completions"] % 4 == 0
    ):
        return _stream(_trickle())
    if behaviour == "endless-line":
        return _stream(_endless_line())
    return _stream(_ok())


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def count(request: Request) -> Response:
    return JSONResponse(dict(hits))


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/hits", count),
        Route("/{behaviour}/v1/models", models),
        Route("/{behaviour}/v1/chat/completions", chat, methods=["POST"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
