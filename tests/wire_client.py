"""A small streaming chat client for the wire arbiter's tests: httpx, one keep-alive
connection, samples in slakit's own format (`samples-client.jsonl` in the run directory).

It can be told to stall: sleep between reading the first token and timestamping it, the
fault the arbiter must see as measurement error of that size.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import httpx

from slakit.load.samples import Sample, SampleWriter
from slakit.sse import DONE, SSEDecoder, token_piece

MODEL = "slakit-tiny"
TIMEOUT_S = 10.0


def stream_chats(
    url: str,
    run_dir: Path,
    count: int,
    max_tokens: int,
    stall_s: float = 0.0,
    traceparent: bool = True,
) -> list[Sample]:
    """`count` streamed chat completions one after another, each recorded as a Sample."""
    rng = random.Random(count)
    writer = SampleWriter(run_dir / "samples-client.jsonl")
    samples = []
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        for _ in range(count):
            sample = Sample(kind="chat", start=0.0)
            headers = {}
            if traceparent:
                sample.trace_id = f"{rng.getrandbits(128):032x}"
                headers["traceparent"] = f"00-{sample.trace_id}-{rng.getrandbits(64):016x}-01"
            _stream(client, sample, headers, max_tokens, stall_s)
            writer.write(sample)
            samples.append(sample)
    writer.close()
    return samples


def _stream(client: httpx.Client, sample: Sample, headers: dict, max_tokens: int, stall_s: float):
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "tell the wire a story"}],
        "max_tokens": max_tokens,
        "stream": True,
    }
    decoder = SSEDecoder()
    last = None
    sample.begin()
    with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        sample.status = response.status_code
        for chunk in response.iter_raw():
            for payload in decoder.feed(chunk):
                if payload == DONE or token_piece(json.loads(payload)) is None:
                    continue
                now = sample.elapsed()
                if last is None:
                    time.sleep(stall_s)  # the stall: the token is read, its time taken late
                    now = sample.elapsed()
                    sample.ttft_s = now
                else:
                    sample.itl_s.append(now - last)
                last = now
                sample.tokens_out = (sample.tokens_out or 0) + 1
    sample.finish()
    if sample.status != 200:
        sample.error = f"http_{sample.status}"
