"""One executor per request kind: build the request, send it through Locust's client,
and fill a Sample with what the client saw (first token, every token arrival, usage).

Locust's own response time for a streamed request is the time to the response headers;
here the request's Locust statistic is corrected to end-to-end before it is reported.

A target is not trusted to end what it starts: each request has a whole-request deadline
(`request_timeout`, not just the socket's idle timeout, so a body trickling a byte a
second still ends), and its body is read within `MAX_LINE_BYTES` per line and
`MAX_BODY_BYTES` in all, yielding to the other greenlets after every receive.
"""

from __future__ import annotations

import functools
import json
import random
import secrets
import time
from collections.abc import Callable

import gevent
from geventhttpclient.response import HTTPConnectionClosed

from slakit.load.conversations import Conversations
from slakit.load.prompts import draw_tokens, make_prompt, search_query
from slakit.load.samples import Sample
from slakit.load.sizing import prompt_pool
from slakit.scenario import EsBulkKind, EsSearchKind, LlmKind, PromptSource, RagKind
from slakit.sse import DONE, SSEDecoder, token_piece
from slakit.target import ResolvedTarget

MAX_LINE_BYTES = 1 << 20
"""Longest body line (an SSE event's line) read; a RAG retrieval event is tens of KB."""
MAX_BODY_BYTES = 8 << 20
"""Most body bytes read per request; a 4096-token stream is about 1.5 MB."""

Executor = Callable[[object, Sample, float], None]
"""(Locust client, sample to fill, request deadline in seconds)."""
_CORPUS = PromptSource()


class Oversized(Exception):
    """The body broke a size bound; the message is the error class."""


class BoundedBody:
    """A response body read as its bytes arrive, within the size bounds.

    geventhttpclient's own readline buffers without limit and searches the whole buffer
    again after every receive, and a greenlet whose socket always has data never yields:
    an endless line ate memory and CPU and starved the run's watch loop, timers and
    Ctrl-C. Here every receive is counted, bounded and followed by a yield.
    """

    def __init__(self, response) -> None:
        self._response = response  # geventhttpclient's HTTPSocketPoolResponse
        self._received = len(response._body_buffer)  # body bytes read with the headers

    def readline(self) -> bytes:
        """The next line with its `\\n` (the last may lack it); b"" at the end."""
        scanned = 0
        while True:
            buffer = self._response._body_buffer
            end = buffer.find(b"\n", scanned)
            if end >= 0:
                return self._take(end + 1)
            scanned = len(buffer)
            if scanned > MAX_LINE_BYTES:
                self._give_up(Oversized("oversized_line"))
            if not self._receive():
                return self._take(scanned)

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        while self._receive():
            pass
        return self._take(len(self._response._body_buffer))

    def _take(self, length: int) -> bytes:
        buffer = self._response._body_buffer
        data = bytes(buffer[:length])
        del buffer[:length]
        return data

    def _receive(self) -> bool:
        """Feed the parser the next bytes from the socket; False once the body is complete."""
        response = self._response
        if response.message_complete:
            return False
        sock = response._sock
        if sock is None:
            self._give_up(HTTPConnectionClosed("connection closed mid-body"))
        try:
            data = sock.recv(response.block_size)
            response.feed(data)
        except BaseException:  # the deadline, a cut, the socket's own errors
            response.release()
            raise
        if not data and not response.message_complete:
            self._give_up(HTTPConnectionClosed("connection closed mid-body"))
        self._received += len(data)
        if self._received > MAX_BODY_BYTES:
            self._give_up(Oversized("oversized_body"))
        gevent.sleep(0)  # a target that floods must not starve the other greenlets
        return True

    def _give_up(self, error: Exception):
        """Fail the read; the connection is closed, never reused half-read."""
        self._response.release()
        raise error


def _error_class(resp) -> str:
    """`http_<status>` when the server answered, else what kept it from answering."""
    if resp.status_code:
        return f"http_{resp.status_code}"
    error = getattr(resp, "error", None)
    error = getattr(error, "original", None) or error  # geventhttpclient wraps the cause
    name = type(error).__name__.lower()
    if "timeout" in name or "timed out" in str(error):
        return "timeout"
    if isinstance(error, ConnectionError) or "connection" in name or "refused" in str(error):
        return "connection"
    return name


def _finish(resp, sample: Sample, error: str | None) -> None:
    sample.finish()
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


def _stream(body: BoundedBody, sample: Sample, reply: list[str] | None = None) -> str | None:
    """Read an SSE body, recording first-token time and every inter-token gap (and each
    token's text in `reply`, for a conversation's history)."""
    decoder = SSEDecoder()
    last = None
    count = 0
    done = False
    usage = None
    # Each line is returned the moment it arrives, which is what token timing needs.
    while line := body.readline():
        now = sample.elapsed()
        for payload in decoder.feed(line):
            if payload == DONE:
                done = True
                continue
            event = json.loads(payload)
            usage = event.get("usage") or usage
            if (piece := token_piece(event)) is None:
                continue
            if reply is not None:
                reply.append(piece)
            if last is None:
                sample.ttft_s = now
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


def _read_completion(
    body: BoundedBody, sample: Sample, reply: list[str] | None = None
) -> str | None:
    payload = json.loads(body.read())
    _usage(sample, payload.get("usage"), 0)
    if reply is not None and "error" not in payload:
        reply.append(payload["choices"][0]["message"]["content"])
    if "error" in payload:
        return "server_error"
    return None if sample.tokens_out else "no_tokens"


def _read_bulk(body: BoundedBody, sample: Sample) -> str | None:
    return "bulk_item_errors" if json.loads(body.read()).get("errors") else None


def _read_any(body: BoundedBody, sample: Sample) -> str | None:
    """Any 200 is a success; the body is still read, so latency includes it."""
    body.read()
    return None


def _judge(read, resp, sample: Sample, deadline: gevent.Timeout) -> str | None:
    """`read`'s verdict on the body of a 200; what went wrong while reading, as a class."""
    try:
        return read(BoundedBody(resp._response), sample)
    except gevent.Timeout as exc:
        if exc is not deadline:
            raise
        return "timeout"
    except Oversized as exc:
        return str(exc)
    except (ValueError, KeyError, TypeError, AttributeError):
        return "bad_response"
    except Exception as exc:  # noqa: BLE001 (the client's many connection errors)
        return "timeout" if "timed out" in str(exc) else "connection"


def _send(client, sample: Sample, url: str, headers: dict, timeout_s: float, read, **body):
    """POST through Locust's client, timing from just before the send, the whole exchange
    within `timeout_s`; `read` judges the body of a 200. The body is always streamed (and
    never compressed), so it is read within the bounds. Whatever the connection does is
    an error class, never a crash."""
    sample.begin()
    deadline = gevent.Timeout(timeout_s)  # before the headers, Locust reports it itself
    deadline.start()
    try:
        with client.request(
            "POST",
            url,
            headers={**headers, "Accept-Encoding": "identity"},
            stream=True,
            catch_response=True,
            name=sample.kind,
            **body,
        ) as resp:
            sample.status = resp.status_code or 0
            if sample.status != 200:
                return _finish(resp, sample, _error_class(resp))
            _finish(resp, sample, _judge(read, resp, sample, deadline))
    finally:
        deadline.close()


def _generate(
    client, sample, url, target, rng, timeout_s, stream: bool, body: dict, reply=None
) -> None:
    """A generation request (LLM or RAG) with the target's headers and a fresh traceparent:
    streamed and timed token by token, or read whole; the reply's text into `reply`."""
    headers = _headers(target, _traceparent(sample))
    read = functools.partial(_stream if stream else _read_completion, reply=reply)
    _send(client, sample, url, headers, timeout_s, read, json=body)


def llm_executor(spec: LlmKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    """Sizes the kind's prompts now, before any request is timed (`sizing.prompt_pool`
    asks the target's tokenizer), then sends one turn of a conversation per request."""
    chat = spec.kind == "chat"
    url = f"{target.openai}{'/v1/chat/completions' if chat else '/v1/completions'}"
    prompts = prompt_pool(spec, target, seed=rng.getrandbits(32) + spec.prompt.seed)
    conversations = Conversations(spec, prompts, rng)

    def execute(client, sample: Sample, timeout_s: float, lengths=None) -> None:
        """`lengths`: (input, output) tokens of this request, when its due time says (a
        trace row's)."""
        turn = conversations.next_turn(lengths[0] if lengths else None)
        sample.tokens_in_requested, sample.tokens_in_sized_by = turn.tokens, prompts.sized_by
        if turn.conversation.id is not None:
            sample.conversation, sample.turn = turn.conversation.id, turn.number
        body = {
            "model": target.model,
            "max_tokens": lengths[1]
            if lengths
            else turn.drawn.output_tokens or draw_tokens(spec.output_tokens, rng),
            "stream": spec.stream,
            "ignore_eos": spec.ignore_eos,
            **turn.body(chat),
        }
        if spec.stream:
            body["stream_options"] = {"include_usage": True}
        # Only a conversation keeps the reply: it is the next turn's history.
        reply: list[str] | None = [] if spec.conversation else None
        _generate(client, sample, url, target, rng, timeout_s, spec.stream, body, reply)
        conversations.answered(turn, None if sample.error or reply is None else "".join(reply))

    return execute


def rag_executor(spec: RagKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    url = f"{target.gateway}/rag/query"

    def execute(client, sample: Sample, timeout_s: float) -> None:
        query = make_prompt(spec.queries, 6, rng)  # six corpus words, or the given text
        body = {
            "query": query,
            "top_k": spec.top_k,
            "stream": spec.stream,
            "max_tokens": draw_tokens(spec.output_tokens, rng),
        }
        _generate(client, sample, url, target, rng, timeout_s, spec.stream, body)

    return execute


def es_search_executor(spec: EsSearchKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    url = f"{target.elasticsearch}/{spec.index}/_search"
    auth = _es_authorization(target)

    def execute(client, sample: Sample, timeout_s: float) -> None:
        body = {"query": {"match": {"text": search_query(spec.queries, rng)}}, "size": spec.size}
        headers = {"traceparent": _traceparent(sample), **auth}
        _send(client, sample, url, headers, timeout_s, _read_any, json=body)

    return execute


def es_bulk_executor(spec: EsBulkKind, target: ResolvedTarget, rng: random.Random) -> Executor:
    url = f"{target.elasticsearch}/{spec.index}/_bulk"
    header = json.dumps({"index": {}})
    auth = _es_authorization(target)

    def execute(client, sample: Sample, timeout_s: float) -> None:
        lines = []
        for _ in range(spec.docs_per_request):
            doc = {"text": make_prompt(_CORPUS, 40, rng), "indexed_at": int(time.time() * 1000)}
            lines += [header, json.dumps(doc)]
        headers = {
            "Content-Type": "application/x-ndjson",
            "traceparent": _traceparent(sample),
            **auth,
        }
        _send(client, sample, url, headers, timeout_s, _read_bulk, data="\n".join(lines) + "\n")

    return execute


def _es_authorization(target: ResolvedTarget) -> dict[str, str]:
    """The Authorization header of the target's Elasticsearch credential (none without)."""
    return target.es_auth.authorization() if target.es_auth else {}


def _traceparent(sample: Sample) -> str:
    """A fresh W3C traceparent, its trace id kept in the sample. From the OS's randomness,
    not the scenario's seeded generator: a seeded run repeated sent the same trace ids, so
    a trace backend merged the requests of both runs into one trace."""
    sample.trace_id = secrets.token_hex(16)
    return f"00-{sample.trace_id}-{secrets.token_hex(8)}-01"


EXECUTORS = {
    "chat": llm_executor,
    "completions": llm_executor,
    "rag": rag_executor,
    "es_search": es_search_executor,
    "es_bulk": es_bulk_executor,
}
