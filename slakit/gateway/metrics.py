"""The gateway's Prometheus metrics as prometheus_client objects, in their own registry.

The names, stages and buckets are the catalogue's (`slakit/catalogue/metrics.py`), where
alert rules, dashboards and SLIs read them too. `status` is the HTTP status sent, except
for streams that broke after `200` went out: `502` when the engine failed or sent an error
mid-stream, `499` when the client left. An SLO on errors must count those, and a `200`
label would hide them.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from slakit.catalogue import metrics as m

ROUTE_CHAT = "/v1/chat/completions"
ROUTE_COMPLETIONS = "/v1/completions"
ROUTE_RAG = "/rag/query"
STATUS_CLIENT_GONE = 499
STATUS_ENGINE_FAILED = 502


def _name(exposed: str) -> str:
    # prometheus_client appends `_total` to counters itself.
    return exposed.removesuffix("_total")


class GatewayMetrics:
    """The gateway's metrics in their own registry (several apps may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            _name(m.GATEWAY_REQUESTS_TOTAL), "Requests answered, by route and status.",
            ("route", "status"), registry=r,
        )  # fmt: skip
        self.stage_latency = Histogram(
            m.GATEWAY_STAGE_LATENCY, "Time spent per stage (retrieve, generate, total).",
            ("stage", "route"), buckets=m.GATEWAY_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            m.GATEWAY_TIME_TO_FIRST_TOKEN, "From request arrival to the first generated token.",
            ("route",), buckets=m.GATEWAY_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            _name(m.GATEWAY_TOKENS_TOTAL),
            "Tokens in (prompt) and out (completion), as the engine reports.",
            ("direction", "route"), registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            m.GATEWAY_IN_FLIGHT, "Requests being served, streams included until their last byte.",
            ("route",), registry=r,
        )  # fmt: skip
        self.retrieved = Histogram(
            m.GATEWAY_RETRIEVED_DOCUMENTS, "Documents retrieved per RAG query.",
            buckets=m.GATEWAY_DOCUMENT_BUCKETS, registry=r,
        )  # fmt: skip
        self.empty_retrievals = Counter(
            _name(m.GATEWAY_EMPTY_RETRIEVALS_TOTAL),
            "RAG queries that retrieved no document.",
            registry=r,
        )
        for route in (ROUTE_CHAT, ROUTE_COMPLETIONS, ROUTE_RAG):
            self.in_flight.labels(route)  # exported at 0 from the start

    def reject(self, route: str, status: int) -> None:
        """Count a request turned away before any work (auth, rate limit, bad body)."""
        self.requests.labels(route, str(status)).inc()

    def observe(self, route: str) -> RequestObservation:
        return RequestObservation(self, route)


class RequestObservation:
    """One request's metrics: in flight while open, then recorded once by `finish`."""

    __slots__ = ("_metrics", "route", "start", "_done")

    def __init__(self, metrics: GatewayMetrics, route: str) -> None:
        self._metrics = metrics
        self.route = route
        self.start = time.perf_counter()
        self._done = False
        metrics.in_flight.labels(route).inc()

    def stage(self, stage: str, seconds: float) -> None:
        self._metrics.stage_latency.labels(stage, self.route).observe(seconds)

    def first_token(self, at: float) -> None:
        self._metrics.ttft.labels(self.route).observe(at - self.start)

    def tokens(self, prompt: int | None, completion: int | None) -> None:
        if prompt:
            self._metrics.tokens.labels("in", self.route).inc(prompt)
        if completion:
            self._metrics.tokens.labels("out", self.route).inc(completion)

    def finish(self, status: int) -> None:
        if self._done:
            return
        self._done = True
        self._metrics.in_flight.labels(self.route).dec()
        self._metrics.requests.labels(self.route, str(status)).inc()
        self.stage("total", time.perf_counter() - self.start)
