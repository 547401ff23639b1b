"""The canary search and the freshness query: a RAG stack's SLA needs on top of the stats.

They run on their own schedule in the prober thread (with the cluster info's refresh), so a
slow search never slows a scrape; a scrape reads what they last measured.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from elasticsearch import Elasticsearch
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from slakit.exporters.common import SourceError, repeat
from slakit.exporters.elasticsearch.client import call
from slakit.exporters.elasticsearch.cluster_info import ClusterInfo
from slakit.exporters.elasticsearch.families import (
    CANARY_FAILURES,
    CANARY_SEARCH_SECONDS,
    FRESHNESS_FAILURES,
    INDEX_FRESHNESS,
)
from slakit.exporters.elasticsearch.parsers import number
from slakit.exporters.elasticsearch.settings import EsExporterConfig

log = logging.getLogger("slakit.exporters.elasticsearch")

CANARY_HITS = 3  # a RAG retriever's top-k: the canary asks for what the gateway asks for
CANARY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Prober:
    """The canary search and the freshness query, on their own schedule in a thread.

    The canary runs `canary_query` on `canary_index` as the RAG retriever would; its
    latency (successes only) goes into a histogram and its failures are counted by
    reason (`no_hits` when the query matched nothing: an empty or broken index;
    `index_closed`; `http_404` when it is gone). The
    freshness query reads the newest `freshness_field` of `freshness_index`; the gauge is
    now minus that, computed at scrape time, and absent until a query has succeeded (or
    after one failed, since the newest document is then unknown)."""

    def __init__(
        self,
        es: Elasticsearch,
        cfg: EsExporterConfig,
        registry: CollectorRegistry,
        cluster_info: ClusterInfo,
    ):
        self.es = es
        self.cfg = cfg
        self.cluster_info = cluster_info
        self.search_seconds = Histogram(
            *CANARY_SEARCH_SECONDS, ["index"], buckets=CANARY_BUCKETS, registry=registry
        )
        self.search_seconds.labels(cfg.canary_index)
        self.canary_failures = Counter(*CANARY_FAILURES, ["index", "reason"], registry=registry)
        self.freshness_failures = Counter(
            *FRESHNESS_FAILURES, ["index", "reason"], registry=registry
        )
        self.newest: float | None = None  # epoch seconds of the newest document
        self._failing: dict[str, str] = {}  # probe -> reason, while it fails
        registry.register(self)

    def canary(self) -> None:
        index = self.cfg.canary_index
        query = {"simple_query_string": {"query": self.cfg.canary_query}}
        start = time.perf_counter()
        try:
            body = call(
                "canary search",
                lambda: self.es.search(
                    index=index, query=query, size=CANARY_HITS, track_total_hits=False
                ),
            )
        except SourceError as exc:
            self._failed("canary search", self.canary_failures, index, exc.reason)
            return
        seconds = time.perf_counter() - start
        hits = body.get("hits")
        found = hits.get("hits") if isinstance(hits, dict) else None
        if body.get("timed_out") is True:
            self._failed("canary search", self.canary_failures, index, "search_timed_out")
        elif not isinstance(found, list) or not found:
            self._failed("canary search", self.canary_failures, index, "no_hits")
        else:
            self.search_seconds.labels(index).observe(seconds)
            self._recovered("canary search")

    def freshness(self, index: str) -> None:
        aggs = {"newest": {"max": {"field": self.cfg.freshness_field}}}
        try:
            body = call(
                "freshness query",
                lambda: self.es.search(index=index, size=0, aggs=aggs, track_total_hits=False),
            )
        except SourceError as exc:
            self.newest = None
            self._failed("freshness query", self.freshness_failures, index, exc.reason)
            return
        millis = number(body, ("aggregations", "newest", "value"))
        self.newest = None if millis is None else millis / 1000
        if millis is None:
            self._failed("freshness query", self.freshness_failures, index, "no_documents")
        else:
            self._recovered("freshness query")

    def _failed(self, probe: str, counter: Counter, index: str, reason: str) -> None:
        """Count a failure; log only when the probe starts failing or its reason changes."""
        counter.labels(index, reason).inc()
        if self._failing.get(probe) != reason:
            log.warning("%s on %s failing: %s", probe, index, reason)
            self._failing[probe] = reason

    def _recovered(self, probe: str) -> None:
        if self._failing.pop(probe, None) is not None:
            log.info("%s succeeds again", probe)

    def run_once(self) -> None:
        self.cluster_info.refresh_if_due()
        self.canary()
        if self.cfg.freshness_index:
            self.freshness(self.cfg.freshness_index)

    def collect(self) -> Iterable[Metric]:
        newest = self.newest
        if newest is None or not self.cfg.freshness_index:
            return []
        family = GaugeMetricFamily(*INDEX_FRESHNESS, labels=["index"])
        family.add_metric([self.cfg.freshness_index], time.time() - newest)
        return [family]

    def describe(self) -> Iterable[Metric]:
        return []

    def run(self, stop: threading.Event) -> None:
        """The prober thread's body: both probes every `canary_interval_s` (and the cluster
        info when due) until `stop`."""
        repeat(stop, self.cfg.canary_interval_s, self.run_once, "canary/freshness probe")
