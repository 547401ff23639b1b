"""One executor per request kind: build the request, send it through Locust's client,
and fill a Sample with what the client saw (first token, every token arrival, usage).

Locust's own response time for a streamed request is the time to the response headers;
here the request's Locust statistic is corrected to end-to-end before it is reported.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable

from slakit.load.prompts import draw_tokens, make_prompt, search_query
from slakit.load.samples import Sample
from slakit.scenario import EsBulkKind, EsSearchKind, LlmKind, PromptSource, RagKind
from slakit.sse import DONE, SSEDecoder, token_piece
from slakit.target import ResolvedTarget

Executor = Callable[[object, Sample], None]
_CORPUS = PromptSource()


def _error_class(resp) -> str:
    """`http_<status>` when the server answered, else what kept it from answering."""
    if resp.status_code:
        return f"http_{resp.status_code}"
    error = getattr(resp, "error", None)
    name = type(error).__name__.lower()
    if "timeout" in name or "timed out" in str(error):
        return "timeout"
    if isinstance(error, ConnectionError) or "connection" in name or "refused" in str(error):
        return "connection"
    return name


def _finish(resp, sample: Sample, error: str | None) -> None:
    sample.end = time.time()
    sample.error = error
    resp.request_meta["response_time"] = (sample.end - sample.start) * 1000
    if error:
        resp.failure(error)
    else:
        resp.success()


def _headers(target: ResolvedTarget, traceparent: str) -> dict[str, str]:
    headers = {"traceparent": traceparent}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    return headers


def _stream(resp, sample: Sample) -> str | None:
    """Read an SSE body, recording first-token time and every inter-token gap."""
    decoder = SSEDecoder()
    last = None
    count = 0
    done = False
    usage = None
    # geventhttpclient's read(n) waits for n bytes; readline returns each SSE line the
    # moment it arrives, which is what token timing needs (Locust keeps it as _response).
    body = resp._response
    while line := body.readline(b"\n"):
        now = time.time()
        for payload in decoder.feed(line):
            if payload == DONE:
                done = True
                continue
            event = json.loads(payload)
            usage = event.get("usage") or usage
            if token_piece(event) is None:
                continue
            if last is None:
                sample.ttft_s = now - sample.start
            else:
                sample.itl_s.append(now - last)
            last = now
            count += 1
    _usage(sample, usage, count)
    if not done:
        return "incomplete_stream"
    return None if count else "no_tokens"


def _usage(sample: Sample, usage: dict | None, counted: int) -> None:
    if usage:
        sample.tokens_in = usage.get("prompt_tokens")
        sample.tokens_out = usage.get("completion_tokens", counted)
    else:
        sample.tokens_out = counted


def _read_completion(resp, sample: Sample) -> str | None:
    payload = resp.json()
    _usage(sample, payload.get("usage"), 0)
    if "error" in payload:
        return "server_error"
    return None if sample.tokens_out else "no_tokens"


def _read_bulk(resp, sample: Sample) -> str | None:
    return "bulk_item_errors" if resp.json().get("errors") else None


def _send(client, sample: Sample, url: str, headers: dict, read=None, stream=False, **body):
    """POST through Locust's client, timing from just before the send; `read` judges the
    body of a 200. Whatever the connection does mid-body is an error class, never a crash."""
    sample.start = time.time()
    with client.request(
        "POST", url, headers=headers, stream=stream, catch_response=True, name=sample.kind, **body
    ) as resp:
        sample.status = resp.status_code or 0
        if sample.status != 200:
            return _finish(resp, sample, _error_class(resp))
        try:
            error = read(resp, sample) if read else None
        except (ValueError, KeyError, TypeError, AttributeError):
            error = "bad_response"
        except Exception as exc:  # noqa: BLE001 (the client's many connection errors)
            error = "timeout" if "timed out" in str(exc) else "connection"
        _finish(resp, sample, error)


def llm_executor(spec: LlmKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    path = "/v1/chat/completions" if spec.kind == "chat" else "/v1/completions"
    url = f"{target.openai}{path}"

    def execute(client, sample: Sample) -> None:
        prompt = make_prompt(spec.prompt, draw_tokens(spec.input_tokens, rng), rng)
        body = {
            "model": target.model,
            "max_tokens": draw_tokens(spec.output_tokens, rng),
            "stream": spec.stream,
            "ignore_eos": spec.ignore_eos,
        }
        if spec.stream:
            body["stream_options"] = {"include_usage": True}
        if spec.kind == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        _send(
            client,
            sample,
            url,
            _headers(target, _traceparent(sample, rng)),
            read=_stream if spec.stream else _read_completion,
            stream=spec.stream,
            json=body,
        )

    return execute


def rag_executor(spec: RagKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    url = f"{target.gateway}/rag/query"

    def execute(client, sample: Sample) -> None:
        query = make_prompt(spec.queries, 6, rng)  # six corpus words, or the given text
        body = {
            "query": query,
            "top_k": spec.top_k,
            "stream": spec.stream,
            "max_tokens": draw_tokens(spec.output_tokens, rng),
        }
        _send(
            client,
            sample,
            url,
            _headers(target, _traceparent(sample, rng)),
            read=_stream if spec.stream else _read_completion,
            stream=spec.stream,
            json=body,
        )

    return execute


def es_search_executor(spec: EsSearchKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    url = f"{target.elasticsearch}/{spec.index}/_search"

    def execute(client, sample: Sample) -> None:
        body = {"query": {"match": {"text": search_query(spec.queries, rng)}}, "size": spec.size}
        _send(client, sample, url, {"traceparent": _traceparent(sample, rng)}, json=body)

    return execute


def es_bulk_executor(spec: EsBulkKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    url = f"{target.elasticsearch}/{spec.index}/_bulk"
    header = json.dumps({"index": {}})

    def execute(client, sample: Sample) -> None:
        lines = []
        for _ in range(spec.docs_per_request):
            doc = {"text": make_prompt(_CORPUS, 40, rng), "indexed_at": int(time.time() * 1000)}
            lines += [header, json.dumps(doc)]
        headers = {"Content-Type": "application/x-ndjson", "traceparent": _traceparent(sample, rng)}
        _send(client, sample, url, headers, read=_read_bulk, data="\n".join(lines) + "\n")

    return execute


def _traceparent(sample: Sample, rng: random.Random) -> str:
    sample.trace_id = f"{rng.getrandbits(128):032x}"
    return f"00-{sample.trace_id}-{rng.getrandbits(64):016x}-01"


EXECUTORS = {
    "chat": llm_executor,
    "completions": llm_executor,
    "rag": rag_executor,
    "es_search": es_search_executor,
    "es_bulk": es_bulk_executor,
}
