"""The inference exporter's prober: one streamed chat completion (and one RAG query, when a
gateway is configured) every `interval_s`, timed as a client sees it.

Each probe is bounded by `timeout_s` as a whole and runs in the prober thread; a scrape
only reads metrics from memory, so a hanging target can never hang a scrape.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterable

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from slakit.exporters.common import SourceError, repeat
from slakit.exporters.inference import families as names
from slakit.exporters.inference.parsers import ModelCard, parse_models, parse_rag, parse_stream
from slakit.exporters.inference.settings import InferenceExporterConfig

log = logging.getLogger("slakit.exporters.inference")

# A short probe's stream is a few KiB; stop reading a runaway one rather than hold it all.
MAX_STREAM_BYTES = 1 << 20


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
        family = GaugeMetricFamily(names.UP, names.HELP[names.UP], labels=["target"])
        family.add_metric([self.target], 1.0 if up else 0.0)
        yield family
        info = InfoMetricFamily(
            names.MODEL_INFO.removesuffix("_info"), names.HELP[names.MODEL_INFO], labels=[]
        )
        for card in models:
            length = "" if card.max_model_len is None else str(card.max_model_len)
            labels = {"model": card.id, "max_model_len": length, "owned_by": card.owned_by or ""}
            info.add_metric([], labels)
        yield info

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic families: nothing to collect at registration time


def _histogram(name: str, registry: CollectorRegistry) -> Histogram:
    return Histogram(name, names.HELP[name], buckets=names.LATENCY_BUCKETS, registry=registry)


def _gauge(name: str, registry: CollectorRegistry) -> Gauge:
    return Gauge(name, names.HELP[name], registry=registry)


def _outcomes(name: str, registry: CollectorRegistry) -> Counter:
    labels = ["result", "reason"]
    counter = Counter(name.removesuffix("_total"), names.HELP[name], labels, registry=registry)
    counter.labels("success", "ok")  # present at 0 from the start, so rate() has a base
    for reason in names.FIXED_REASONS:
        counter.labels("failure", reason)
    return counter


class Prober:
    """The canary loop and the metrics it keeps; `run` is the probing thread's body."""

    def __init__(self, cfg: InferenceExporterConfig, registry: CollectorRegistry) -> None:
        self.cfg = cfg
        self.health = _Health(cfg.openai_url)
        registry.register(self.health)
        r = registry
        self.ttft = _histogram(names.TIME_TO_FIRST_TOKEN, r)
        self.itl = _histogram(names.INTER_TOKEN_LATENCY, r)
        self.e2e = _histogram(names.E2E_LATENCY, r)
        self.probes = _outcomes(names.PROBES_TOTAL, r)
        self.last_success = _gauge(names.LAST_SUCCESS, r)
        self.probe_up = _gauge(names.PROBE_UP, r)
        self._last_reason: dict[str, str | None] = {}
        if cfg.gateway_url:
            self.rag_up = _gauge(names.RAG_PROBE_UP, r)
            self.rag_probes = _outcomes(names.RAG_PROBES_TOTAL, r)
            self.rag_latency = _histogram(names.RAG_LATENCY, r)
            self.rag_retrieve = _histogram(names.RAG_RETRIEVE, r)
            self.rag_generate = _histogram(names.RAG_GENERATE, r)
            self.rag_documents = _gauge(names.RAG_DOCUMENTS, r)
            self.rag_empty = Counter(
                names.RAG_EMPTY_TOTAL.removesuffix("_total"),
                names.HELP[names.RAG_EMPTY_TOTAL],
                registry=r,
            )

    def run(self, stop: threading.Event) -> None:
        """Probe, sleep `interval_s`, repeat until `stop` is set. Never raises."""
        headers: dict[str, str] = {}
        if self.cfg.api_key:  # an empty key (e.g. an empty Secret) is no key
            headers["Authorization"] = f"Bearer {self.cfg.api_key.get_secret_value()}"
        with asyncio.Runner() as runner:
            client = httpx.AsyncClient(headers=headers, timeout=self.cfg.timeout_s)
            try:
                repeat(
                    stop, self.cfg.interval_s, lambda: runner.run(self.probe_once(client)), "probe"
                )
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
