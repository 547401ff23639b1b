"""The inference exporter: a canary that asks an OpenAI-compatible server for tokens.

vLLM's own `/metrics` say how the engine saw the requests it got (Prometheus scrapes them
directly; nothing of them is re-exported here). They cannot say whether a client reaches
the server at all, nor what it waits for through every hop in between. So every
`interval_s` this exporter sends one short streamed chat completion (and, when a gateway
is configured, one RAG query) and records what a client saw: time to first token, the gaps
between tokens, total latency, and why a probe failed.

Probes run in their own thread, each bounded by `timeout_s` as a whole; a scrape only
reads metrics, so a hanging target can never hang a scrape. Failure reasons are
label-safe: `connection`, `timeout`, `http_<status>`, `bad_json`, `no_tokens`,
`incomplete_stream`, plus `stream_error` (the server reported an error inside the stream),
`no_model` (no model configured and /v1/models lists none) and `unexpected` (a bug, logged).

Configuration: `--host`/`--port` win over `SLAKIT_INFERENCE_EXPORTER_<FIELD>` environment
variables, which win over the YAML file (`--config`), then defaults (as in every exporter).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from slakit import sse
from slakit.errors import InputError
from slakit.exporters.common import SourceError, serve
from slakit.exporters.settings import ExporterSettings

log = logging.getLogger("slakit.exporters.inference")

DEFAULT_PORT = 19500
PREFIX = "slakit_inference"

# Exposed names (what PromQL sees), for rules and dashboards to take from here.
UP = f"{PREFIX}_up"
PROBE_UP = f"{PREFIX}_probe_up"
PROBES_TOTAL = f"{PREFIX}_probe_total"  # {result="success|failure", reason}
LAST_SUCCESS = f"{PREFIX}_last_success_timestamp_seconds"
TIME_TO_FIRST_TOKEN = f"{PREFIX}_time_to_first_token_seconds"
INTER_TOKEN_LATENCY = f"{PREFIX}_inter_token_latency_seconds"
E2E_LATENCY = f"{PREFIX}_e2e_latency_seconds"
MODEL_INFO = f"{PREFIX}_model_info"  # {model, max_model_len, owned_by}
RAG_PROBE_UP = f"{PREFIX}_rag_probe_up"
RAG_PROBES_TOTAL = f"{PREFIX}_rag_probe_total"  # {result, reason}
RAG_LATENCY = f"{PREFIX}_rag_latency_seconds"
RAG_RETRIEVE = f"{PREFIX}_rag_retrieve_seconds"
RAG_GENERATE = f"{PREFIX}_rag_generate_seconds"
RAG_DOCUMENTS = f"{PREFIX}_rag_documents"
RAG_EMPTY_TOTAL = f"{PREFIX}_rag_empty_retrievals_total"

# 5 ms (a loopback token gap) to 60 s (a cold or saturated engine's first token).
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0,
    1.5, 2.5, 4.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
)  # fmt: skip
FIXED_REASONS = (
    "connection", "timeout", "bad_json", "no_tokens", "incomplete_stream", "stream_error",
    "no_model",
)  # fmt: skip
# A short probe's stream is a few KiB; stop reading a runaway one rather than hold it all.
MAX_STREAM_BYTES = 1 << 20


class InferenceExporterConfig(ExporterSettings):
    """What to probe and how often. The API key is never logged or exported."""

    model_config = SettingsConfigDict(
        env_prefix="SLAKIT_INFERENCE_EXPORTER_", extra="forbid", validate_assignment=True
    )

    openai_url: str = "http://127.0.0.1:18080"  # vLLM itself or the gateway; no /v1
    model: str | None = None  # default: the first model /v1/models lists
    gateway_url: str | None = None  # set to probe the gateway's /rag/query too
    api_key: SecretStr | None = None  # sent as `Authorization: Bearer` to both URLs
    interval_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    prompt: str = Field("Say hello in one short sentence.", min_length=1)
    max_tokens: int = Field(16, ge=1)
    rag_query: str = Field("how to parse json", min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)

    @field_validator("openai_url", "gateway_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("put credentials in api_key, not in the URL (URLs are logged)")
        # OpenAI clients' base URLs end in /v1; the probe adds /v1/... itself.
        return value.rstrip("/").removesuffix("/v1")


load_config = InferenceExporterConfig.load


@dataclass(frozen=True)
class StreamResult:
    """What a streamed chat completion said. `error` is a failure reason, None if it is good.

    `token_chunks[i]` is the index of the input chunk that completed the i-th event carrying
    output text, so a caller that timed each chunk's arrival can time each token.
    """

    token_chunks: tuple[int, ...] = ()
    done: bool = False
    error: str | None = None

    @property
    def tokens(self) -> int:
        return len(self.token_chunks)


def _event_text(event: object) -> tuple[str, str | None]:
    """(output text, failure reason or None) of one decoded stream event."""
    if not isinstance(event, dict):
        return "", "bad_json"
    if "error" in event or event.get("object") == "error":
        return "", "stream_error"
    choices = event.get("choices")
    if not isinstance(choices, list):  # vLLM's usage-only chunk has `choices: []`
        return "", "bad_json"
    text = ""
    for choice in choices:
        delta = (choice.get("delta") or {}) if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            return "", "bad_json"
        # chat content, a reasoning parser's output, or a text completion's text
        for piece in (delta.get("content"), delta.get("reasoning_content"), choice.get("text")):
            if piece is not None and not isinstance(piece, str):
                return "", "bad_json"
            text += piece or ""
    return text, None


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
                    text, error = _event_text(json.loads(payload))
                except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
                    text, error = "", "bad_json"
                if error:
                    return StreamResult(tuple(token_chunks), error=error)
                if text:
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


def _failure(exc: BaseException) -> tuple[str, str]:
    """(reason, detail) for what ended a probe. Details name exception types and URLs,
    never headers, so the API key cannot appear."""
    if isinstance(exc, SourceError):
        return exc.reason, str(exc)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout", "no complete answer within timeout_s"
    if isinstance(exc, httpx.HTTPError):
        return "connection", f"{type(exc).__name__}: {exc}"
    return "unexpected", f"{type(exc).__name__}: {exc}"


class _Health(Collector):
    """`slakit_inference_up{target}` (the last probe's outcome) and the model list, read
    from memory at scrape time: nothing here waits for the target."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._up = False
        self._models: list[ModelCard] = []

    def set_up(self, up: bool) -> None:
        with self._lock:
            self._up = up

    def set_models(self, models: list[ModelCard]) -> None:
        with self._lock:
            self._models = list(models)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            up, models = self._up, list(self._models)
        family = GaugeMetricFamily(UP, "1 if the last canary probe succeeded", labels=["target"])
        family.add_metric([self.target], 1.0 if up else 0.0)
        yield family
        info = InfoMetricFamily(
            MODEL_INFO.removesuffix("_info"), "Models the target lists on /v1/models", labels=[]
        )
        for card in models:
            length = "" if card.max_model_len is None else str(card.max_model_len)
            labels = {"model": card.id, "max_model_len": length, "owned_by": card.owned_by or ""}
            info.add_metric([], labels)
        yield info

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic families: nothing to collect at registration time


def _histogram(name: str, doc: str, registry: CollectorRegistry) -> Histogram:
    return Histogram(name, doc, buckets=LATENCY_BUCKETS, registry=registry)


def _outcomes(name: str, doc: str, registry: CollectorRegistry) -> Counter:
    counter = Counter(name.removesuffix("_total"), doc, ["result", "reason"], registry=registry)
    counter.labels("success", "ok")  # present at 0 from the start, so rate() has a base
    for reason in FIXED_REASONS:
        counter.labels("failure", reason)
    return counter


class Prober:
    """The canary loop and the metrics it keeps; `run` is the probing thread's body."""

    def __init__(self, cfg: InferenceExporterConfig, registry: CollectorRegistry) -> None:
        self.cfg = cfg
        self.health = _Health(cfg.openai_url)
        registry.register(self.health)
        r = registry
        self.ttft = _histogram(TIME_TO_FIRST_TOKEN, "Probe time to first token.", r)
        self.itl = _histogram(INTER_TOKEN_LATENCY, "Probe gaps between output events.", r)
        self.e2e = _histogram(E2E_LATENCY, "Probe request latency, send to end of stream.", r)
        self.probes = _outcomes(PROBES_TOTAL, "Canary probes by result and reason.", r)
        self.last_success = Gauge(LAST_SUCCESS, "When a probe last succeeded.", registry=r)
        self.probe_up = Gauge(PROBE_UP, "1 if the last canary probe succeeded.", registry=r)
        self._last_reason: dict[str, str | None] = {}
        if cfg.gateway_url:
            self.rag_up = Gauge(RAG_PROBE_UP, "1 if the last RAG probe succeeded.", registry=r)
            self.rag_probes = _outcomes(RAG_PROBES_TOTAL, "RAG probes by result and reason.", r)
            self.rag_latency = _histogram(RAG_LATENCY, "RAG probe latency (client side).", r)
            self.rag_retrieve = _histogram(RAG_RETRIEVE, "RAG retrieve stage (gateway's).", r)
            self.rag_generate = _histogram(RAG_GENERATE, "RAG generate stage (gateway's).", r)
            self.rag_documents = Gauge(
                RAG_DOCUMENTS, "Documents the last RAG probe got.", registry=r
            )
            self.rag_empty = Counter(
                RAG_EMPTY_TOTAL.removesuffix("_total"), "RAG probes that got none.", registry=r
            )

    def run(self, stop: threading.Event) -> None:
        """Probe, sleep `interval_s`, repeat until `stop` is set. Never raises."""
        headers: dict[str, str] = {}
        if self.cfg.api_key:  # an empty key (e.g. an empty Secret) is no key
            headers["Authorization"] = f"Bearer {self.cfg.api_key.get_secret_value()}"
        with asyncio.Runner() as runner:
            client = httpx.AsyncClient(headers=headers, timeout=self.cfg.timeout_s)
            try:
                while not stop.is_set():
                    runner.run(self.probe_once(client))
                    stop.wait(self.cfg.interval_s)
            finally:
                runner.run(client.aclose())

    async def probe_once(self, client: httpx.AsyncClient) -> None:
        """One canary probe, then one RAG probe if a gateway is configured."""
        await self._bounded("canary", self._canary(client), self._canary_failed)
        if self.cfg.gateway_url:
            await self._bounded("rag", self._rag(client), self._rag_failed)

    async def _bounded(
        self, kind: str, probe: Coroutine[None, None, None], failed: Callable[[str], None]
    ) -> None:
        try:
            async with asyncio.timeout(self.cfg.timeout_s):
                await probe
        except Exception as exc:  # noqa: BLE001 (every failure is a counted reason)
            reason, detail = _failure(exc)
            if reason == "unexpected":
                log.exception("%s probe: unexpected error", kind)
            failed(reason)
            self._transition(kind, reason, detail)
        else:
            self._transition(kind, None, "")

    def _transition(self, kind: str, reason: str | None, detail: str) -> None:
        """Log when a probe's state changes, not every interval while it stays the same."""
        before = self._last_reason.get(kind, "")
        self._last_reason[kind] = reason
        if reason == before:
            return
        if reason is None:
            log.info("%s probe succeeded%s", kind, " again" if before else "")
        else:
            log.warning("%s probe failed: %s (%s)", kind, reason, detail)

    async def _models(self, client: httpx.AsyncClient) -> str:
        """Refresh the model list; the model to probe."""
        r = await client.get(f"{self.cfg.openai_url}/v1/models")
        if r.status_code != 200:
            raise SourceError(f"http_{r.status_code}", f"/v1/models answered HTTP {r.status_code}")
        cards = parse_models(r.content)
        self.health.set_models(cards)
        if self.cfg.model:
            return self.cfg.model
        if not cards:
            raise SourceError("no_model", "/v1/models lists no model")
        return cards[0].id

    async def _canary(self, client: httpx.AsyncClient) -> None:
        body = {
            "model": await self._models(client),
            "messages": [{"role": "user", "content": self.cfg.prompt}],
            "max_tokens": self.cfg.max_tokens,
            "stream": True,
        }
        chunks: list[bytes] = []
        arrivals: list[float] = []
        url = f"{self.cfg.openai_url}/v1/chat/completions"
        start = time.perf_counter()
        async with client.stream("POST", url, json=body) as response:
            if response.status_code != 200:
                status = response.status_code
                raise SourceError(f"http_{status}", f"{url} answered HTTP {status}")
            try:
                received = 0
                async for chunk in response.aiter_bytes():
                    arrivals.append(time.perf_counter())
                    chunks.append(chunk)
                    received += len(chunk)
                    if received > MAX_STREAM_BYTES:
                        break
            except httpx.TransportError as exc:  # the stream broke after it began
                if isinstance(exc, httpx.TimeoutException):
                    raise
                detail = f"stream broke: {type(exc).__name__}: {exc}"
                raise SourceError("incomplete_stream", detail) from None
        end = time.perf_counter()
        result = parse_stream(chunks)
        if result.error:
            raise SourceError(result.error, f"{url}: {result.tokens} tokens, then {result.error}")
        times = [arrivals[i] for i in result.token_chunks]
        self.ttft.observe(times[0] - start)
        for earlier, later in zip(times, times[1:], strict=False):
            self.itl.observe(later - earlier)
        self.e2e.observe(end - start)
        self.probes.labels("success", "ok").inc()
        self.last_success.set(time.time())
        self.probe_up.set(1)
        self.health.set_up(True)

    def _canary_failed(self, reason: str) -> None:
        self.probes.labels("failure", reason).inc()
        self.probe_up.set(0)
        self.health.set_up(False)

    async def _rag(self, client: httpx.AsyncClient) -> None:
        url = f"{self.cfg.gateway_url}/rag/query"
        start = time.perf_counter()
        r = await client.post(
            url, json={"query": self.cfg.rag_query, "max_tokens": self.cfg.max_tokens}
        )
        if r.status_code != 200:
            raise SourceError(f"http_{r.status_code}", f"{url} answered HTTP {r.status_code}")
        rag = parse_rag(r.content)
        self.rag_latency.observe(time.perf_counter() - start)
        self.rag_retrieve.observe(rag.retrieve_s)
        self.rag_generate.observe(rag.generate_s)
        self.rag_documents.set(rag.documents)
        if not rag.documents:
            self.rag_empty.inc()
        self.rag_probes.labels("success", "ok").inc()
        self.rag_up.set(1)

    def _rag_failed(self, reason: str) -> None:
        self.rag_probes.labels("failure", reason).inc()
        self.rag_up.set(0)


def main(argv: list[str] | None = None) -> int:
    """`python -m slakit.exporters.inference`: probe in a thread, serve /metrics here."""
    parser = argparse.ArgumentParser(
        prog="python -m slakit.exporters.inference", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"listen port (default {DEFAULT_PORT})")
    parser.add_argument("--config", type=Path, help="YAML file with the config's fields")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        cfg = load_config(args.config, **overrides)
    except InputError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return exc.exit_code
    log.info(
        "probing %s every %gs (timeout %gs), model %s, RAG %s, API key %s",
        cfg.openai_url, cfg.interval_s, cfg.timeout_s, cfg.model or "from /v1/models",
        cfg.gateway_url or "off", "set" if cfg.api_key else "not set",
    )  # fmt: skip
    registry = CollectorRegistry()
    prober = Prober(cfg, registry)
    stop = threading.Event()
    threading.Thread(target=prober.run, args=(stop,), name="prober", daemon=True).start()
    try:
        serve(registry, cfg.host, cfg.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", cfg.host, cfg.port, exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
