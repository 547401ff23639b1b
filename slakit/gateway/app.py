"""The RAG gateway: OpenAI-compatible proxy to the engine, plus retrieval-augmented answers.

Streams are relayed as they arrive (never buffered), so the gateway's own time to first
token is the engine's plus a relay hop, and its metrics and spans say how long each stage
took. Errors keep their meaning: engine unreachable is 502, Elasticsearch unreachable 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import elastic_transport
import elasticsearch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from opentelemetry.trace import Span
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slakit import es_auth, sse
from slakit.catalogue.defaults import KEEPALIVE_REUSE_S
from slakit.gateway import rag
from slakit.gateway.auth import KeyGate
from slakit.gateway.metrics import (
    ROUTE_CHAT,
    ROUTE_COMPLETIONS,
    ROUTE_RAG,
    STATUS_CLIENT_GONE,
    STATUS_ENGINE_FAILED,
    GatewayMetrics,
    RequestObservation,
)
from slakit.gateway.request_log import RequestLog
from slakit.gateway.settings import GatewaySettings
from slakit.gateway.tracing import (
    ATTR_COMPLETION_TOKENS,
    ATTR_DOCUMENTS,
    ATTR_INDEX,
    ATTR_MODEL,
    ATTR_PROMPT_TOKENS,
    ATTR_TOP_K,
    Tracing,
    context_headers,
    end_span,
    mark_first_token,
)
from slakit.gateway.upstream import StreamTap
from slakit.stack.openai_errors import error_body, error_response

EVENT_STREAM = "text/event-stream"
ROUTE_MODELS = "/v1/models"
ROUTE_TOKENIZE = "/tokenize"  # vLLM's, outside /v1
ROUTE_DETOKENIZE = "/detokenize"
ENGINE_CONNECT_S = 5.0
ENGINE_ERRORS = (aiohttp.ClientError, TimeoutError)
"""What the engine client raises when the engine cannot be reached or breaks off."""
log = logging.getLogger("slakit.gateway")


class RagQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    top_k: int | None = Field(None, ge=1, le=100)
    max_tokens: int | None = Field(None, ge=1)
    stream: bool = False


class _Call:
    """One engine call: its response, what its stream said, its span and stage time."""

    def __init__(self, obs: RequestObservation, span: Span) -> None:
        self.obs = obs
        self.span = span
        self.upstream: aiohttp.ClientResponse | None = None
        self.tap = StreamTap()
        self.start = time.perf_counter()
        self.start_ns = time.time_ns()  # the same instant on the spans' (epoch) clock
        self.end: float | None = None
        self.status = 0
        self.error: str | None = None

    def close(self, status: int, error: str | None = None) -> int:
        """Record the call's metrics and end its span; return the status to count."""
        if self.end is not None:
            return self.status
        self.end = time.perf_counter()
        self.error = error or self.tap.error
        self.status = STATUS_ENGINE_FAILED if self.error and status < 400 else status
        tap = self.tap
        self.obs.stage("generate", self.end - self.start)
        if tap.first_token_at is not None:
            self.obs.first_token(tap.first_token_at)
            mark_first_token(self.span, self.start_ns, tap.first_token_at - self.start)
        self.obs.tokens(tap.prompt_tokens, tap.completion_tokens)
        if tap.model:
            self.span.set_attribute(ATTR_MODEL, tap.model)
        if tap.prompt_tokens is not None:
            self.span.set_attribute(ATTR_PROMPT_TOKENS, tap.prompt_tokens)
        self.span.set_attribute(ATTR_COMPLETION_TOKENS, tap.completion_tokens)
        end_span(self.span, self.status, self.error)
        return self.status

    def release(self, status: int, error: str | None = None) -> int:
        """Close with `status` unless already closed, and release the engine response (its
        connection is kept only if the response was read to its end)."""
        status = self.close(status, error)
        if self.upstream is not None:
            self.upstream.release()
        return status

    def timings(self, retrieve_s: float) -> dict:
        done = self.end or time.perf_counter()
        first = self.tap.first_token_at
        return {
            "retrieve_ms": round(retrieve_s * 1000, 3),
            "generate_ms": round((done - self.start) * 1000, 3),
            "total_ms": round((time.perf_counter() - self.obs.start) * 1000, 3),
            "ttft_ms": None if first is None else round((first - self.obs.start) * 1000, 3),
        }

    def usage(self) -> dict:
        return {
            "prompt_tokens": self.tap.prompt_tokens,
            "completion_tokens": self.tap.completion_tokens,
        }


class _Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self.tracing = Tracing(settings.spans_file)
        self.tracing.provider.add_span_processor(RequestLog())
        self.gate = KeyGate(settings.api_keys, settings.rate_limit_rps)
        self.engine_url = settings.engine_url.rstrip("/")
        self.client: aiohttp.ClientSession
        self.es: elasticsearch.AsyncElasticsearch
        self.es_said: str | None = None  # the last Elasticsearch problem logged

    async def open(self) -> None:
        s = self.settings
        # aiohttp, not httpx: its C parser and lighter request path halved the time before
        # forwarding (wire, simulated engine: p50 1.25 -> 0.63 ms) and cut the CPU of a
        # streamed chat by a third. No pool cap: a queue inside the gateway would add
        # latency nobody measures; an idle connection is dropped before the engine's
        # keep-alive timeout can close it under a request.
        self.client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_REUSE_S),
            timeout=aiohttp.ClientTimeout(
                sock_connect=ENGINE_CONNECT_S, sock_read=s.engine_timeout_s
            ),
        )
        self.es = elasticsearch.AsyncElasticsearch(
            s.es_url,
            node_class="aiohttp",
            request_timeout=s.es_timeout_s,
            **s.es.client_options(s.es_url),
        )

    async def close(self) -> None:
        await self.client.close()
        await self.es.close()
        self.tracing.shutdown()

    def admit(self, request: Request, route: str) -> Response | None:
        """Auth and rate limit; a rejection is counted here."""
        client = request.client.host if request.client else ""
        denied = self.gate.check(request.headers.get("authorization"), client)
        if denied is not None:
            self.metrics.reject(route, denied.status_code)
        return denied

    async def forward(self, request: Request, route: str) -> Response:
        """A small request passed to the engine as it came (after auth and rate limit), and
        the engine's answer passed back as it is."""
        if denied := self.admit(request, route):
            return denied
        kind = request.headers.get("content-type")
        try:
            async with self.client.request(
                request.method,
                self.engine_url + route,
                data=await request.body(),
                headers={"content-type": kind} if kind else {},
            ) as upstream:
                content = await upstream.read()
        except ENGINE_ERRORS as exc:
            return error_response(
                STATUS_ENGINE_FAILED, "BadGatewayError", f"engine unreachable: {type(exc).__name__}"
            )
        return Response(content, upstream.status, media_type=upstream.headers.get("content-type"))

    async def open_engine(self, path: str, content: bytes, headers: dict) -> aiohttp.ClientResponse:
        """The engine's response to a POST, once its headers are in (the body not read)."""
        return await self.client.post(self.engine_url + path, data=content, headers=headers)

    async def relay(self, call: _Call, raw: bool) -> AsyncIterator[bytes]:
        """Pass the engine's stream on chunk by chunk: `raw` keeps its bytes as they are,
        otherwise each event is re-framed. Closes `call` when the stream ends or breaks."""
        upstream = call.upstream
        assert upstream is not None
        try:
            async for chunk in upstream.content.iter_any():
                payloads = call.tap.feed(chunk)
                if raw:
                    yield chunk
                else:
                    for payload in payloads:
                        yield sse.encode(payload)
        except ENGINE_ERRORS as exc:
            call.close(STATUS_ENGINE_FAILED, f"engine stream broke: {type(exc).__name__}")
            if raw:
                raise  # the client sees the stream cut, as it was
        else:
            call.close(upstream.status)

    async def proxy(self, request: Request, route: str) -> Response:
        if denied := self.admit(request, route):
            return denied
        body = await request.body()
        obs = self.metrics.observe(route)
        span = self.tracing.server_span("generate", request.headers, route)
        call = _Call(obs, span)
        trace_headers = context_headers(span)
        content_type = request.headers.get("content-type", "application/json")
        try:
            call.upstream = upstream = await self.open_engine(
                route, body, {"content-type": content_type, **trace_headers}
            )
            headers = {"content-type": upstream.headers.get("content-type", ""), **trace_headers}
            if headers["content-type"].startswith(EVENT_STREAM):

                async def stream() -> AsyncIterator[bytes]:
                    try:
                        async for chunk in self.relay(call, raw=True):
                            yield chunk
                    finally:
                        obs.finish(call.release(STATUS_CLIENT_GONE))

                return StreamingResponse(stream(), upstream.status, headers=headers)
            content = await upstream.read()
        except ENGINE_ERRORS as exc:
            message = f"engine unreachable: {type(exc).__name__}"
            obs.finish(call.release(STATUS_ENGINE_FAILED, message))
            return error_response(
                STATUS_ENGINE_FAILED, "BadGatewayError", message, headers=trace_headers
            )
        if upstream.status == 200:
            call.tap.take_body(content)
        obs.finish(call.release(upstream.status))
        return Response(content, status_code=upstream.status, headers=headers)

    async def rag_query(self, request: Request) -> Response:
        if denied := self.admit(request, ROUTE_RAG):
            return denied
        try:
            query = RagQuery.model_validate_json(await request.body())
        except ValidationError as exc:
            self.metrics.reject(ROUTE_RAG, 422)
            message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return error_response(422, "UnprocessableEntityError", message)
        s = self.settings
        top_k = query.top_k or s.top_k
        obs = self.metrics.observe(ROUTE_RAG)
        root = self.tracing.server_span("rag.query", request.headers, ROUTE_RAG)
        trace_headers = context_headers(root)

        def fail(status: int, err_type: str, message: str) -> JSONResponse:
            obs.finish(status)
            end_span(root, status, message)
            return error_response(status, err_type, message, headers=trace_headers)

        span = self.tracing.child_span("retrieve", root)
        span.set_attributes({ATTR_TOP_K: top_k, ATTR_INDEX: s.index})
        try:
            documents = await rag.retrieve(self.es, s.index, query.query, top_k)
        except (elasticsearch.ApiError, elastic_transport.TransportError) as exc:
            message = f"retrieval failed: {es_auth.reason(exc)}"
            end_span(span, 503, message)
            return fail(503, "ServiceUnavailableError", message)
        retrieve_s = time.perf_counter() - obs.start
        span.set_attribute(ATTR_DOCUMENTS, len(documents))
        span.end()
        obs.stage("retrieve", retrieve_s)
        self.metrics.retrieved.observe(len(documents))
        if not documents:
            self.metrics.empty_retrievals.inc()

        call = _Call(obs, self.tracing.child_span("generate", root))
        payload = {
            "model": s.model,
            "messages": rag.messages(query.query, documents, s.passage_words),
            "max_tokens": query.max_tokens or s.max_tokens,
            "stream": True,  # always: the gateway measures time to first token
            "stream_options": {"include_usage": True},
        }
        headers = {"content-type": "application/json", **context_headers(call.span)}
        try:
            call.upstream = upstream = await self.open_engine(
                ROUTE_CHAT, json.dumps(payload).encode(), headers
            )
            if upstream.status != 200:  # the engine's own error, passed on as it said it
                content = await upstream.read()
        except ENGINE_ERRORS as exc:
            message = f"engine unreachable: {type(exc).__name__}"
            call.release(STATUS_ENGINE_FAILED, message)
            return fail(STATUS_ENGINE_FAILED, "BadGatewayError", message)
        if upstream.status != 200:
            status = call.release(upstream.status, "engine refused the request")
            obs.finish(status)
            end_span(root, status, "engine refused the request")
            media = upstream.headers.get("content-type", "application/json")
            return Response(content, status_code=status, media_type=media, headers=trace_headers)

        def finish() -> None:
            status = call.release(STATUS_CLIENT_GONE)
            obs.finish(status)
            end_span(root, status, call.error)

        if query.stream:
            events = self._rag_events(call, documents, retrieve_s, finish)
            return StreamingResponse(events, media_type=EVENT_STREAM, headers=trace_headers)
        try:
            async for _ in self.relay(call, raw=False):
                pass
        finally:
            finish()
        if call.error:
            return error_response(call.status, "BadGatewayError", call.error, headers=trace_headers)
        answer = {
            "answer": call.tap.text,
            "model": call.tap.model or s.model,
            "documents": documents,
            "usage": call.usage(),
            "timings": call.timings(retrieve_s),
        }
        return JSONResponse(answer, headers=trace_headers)

    async def _rag_events(
        self,
        call: _Call,
        documents: list[dict],
        retrieve_s: float,
        finish: Callable[[], None],
    ) -> AsyncIterator[bytes]:
        """retrieval event, the engine's chunks as they come, then done (or error), [DONE]."""
        try:
            yield sse.encode({"type": "retrieval", "documents": documents})
            async for event in self.relay(call, raw=False):
                yield event
            if call.error:
                body = error_body(call.status, "BadGatewayError", call.error)
                yield sse.encode({"type": "error", **body})
            else:
                done = {"type": "done", "timings": call.timings(retrieve_s), "usage": call.usage()}
                yield sse.encode(done)
            yield sse.DONE_EVENT
        finally:
            finish()

    async def ready(self) -> JSONResponse:
        """200 only when Elasticsearch reports its health and the engine lists its models."""
        es, engine = await asyncio.gather(self._es_state(), self._engine_state())
        status = 200 if es == engine == "ok" else 503
        return JSONResponse({"elasticsearch": es, "engine": engine}, status_code=status)

    async def _es_state(self) -> str:
        # Cluster health, not ping: ping is `HEAD /`, which the integ-test-zip answers 405.
        try:
            health = await self.es.options(
                request_timeout=self.settings.ready_timeout_s
            ).cluster.health()
        except (elasticsearch.ApiError, elastic_transport.TransportError) as exc:
            reason = es_auth.reason(exc)  # "authentication failed (401)", "TLS: ..."
            if reason != self.es_said:  # one line per new problem, not one per probe
                log.warning(es_auth.problem("gateway", self.settings.es_url, exc))
                self.es_said = reason
            return reason
        self.es_said = None
        status = health.get("status")
        return "ok" if status in ("green", "yellow") else f"cluster status {status}"

    async def _engine_state(self) -> str:
        timeout = aiohttp.ClientTimeout(total=self.settings.ready_timeout_s)
        try:
            async with self.client.get(self.engine_url + ROUTE_MODELS, timeout=timeout) as r:
                status = r.status
        except ENGINE_ERRORS as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok" if status == 200 else f"/v1/models answered HTTP {status}"


def create_app(settings: GatewaySettings) -> FastAPI:
    """The gateway app; clients open with the app's lifespan and close with it."""
    gw = _Gateway(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await gw.open()
        try:
            yield
        finally:
            await gw.close()

    # With keys set, the API's description is no more public than the API: /docs, /redoc and
    # /openapi.json are not served (404). Behind the key they would be of no use, since a
    # browser loads the docs page and its schema without one. Without keys, all is open.
    docs = {"docs_url": None, "redoc_url": None, "openapi_url": None} if settings.api_keys else {}
    app = FastAPI(title="slakit RAG gateway", lifespan=lifespan, **docs)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        return await gw.ready()

    @app.get(ROUTE_MODELS)
    async def models(request: Request) -> Response:
        """The engine's model list, so the gateway is a complete OpenAI-compatible base URL."""
        return await gw.forward(request, ROUTE_MODELS)

    @app.post(ROUTE_TOKENIZE)
    async def tokenize(request: Request) -> Response:
        """The engine's token count, so a client can size prompts in the served model's
        tokens through the gateway (slakit does, before its load)."""
        return await gw.forward(request, ROUTE_TOKENIZE)

    @app.post(ROUTE_DETOKENIZE)
    async def detokenize(request: Request) -> Response:
        return await gw.forward(request, ROUTE_DETOKENIZE)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(ROUTE_CHAT)
    async def chat_completions(request: Request) -> Response:
        return await gw.proxy(request, ROUTE_CHAT)

    @app.post(ROUTE_COMPLETIONS)
    async def completions(request: Request) -> Response:
        return await gw.proxy(request, ROUTE_COMPLETIONS)

    @app.post(ROUTE_RAG)
    async def rag_query(request: Request) -> Response:
        return await gw.rag_query(request)

    return app
