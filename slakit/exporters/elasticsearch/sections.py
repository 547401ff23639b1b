"""The stats a scrape reads: one Elasticsearch request per section, fetched in parallel.

A section that fails is skipped, never fatal: the others are still served, and each of the
community exporter's collectors reports its own `_up`, `_total_scrapes` and
`_json_parse_failures` as it does (its counters, without `_total`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from elasticsearch import Elasticsearch
from prometheus_client.core import Metric

from slakit.exporters.common import SourceError
from slakit.exporters.elasticsearch.client import BAD_JSON, call
from slakit.exporters.elasticsearch.families import (
    CLUSTER_HEALTH,
    COLLECTOR_HEALTH,
    COUNTER,
    GAUGE,
    INDEX_STATS,
    JSON_PARSE_FAILURES_HELP,
    JSON_PARSED,
    NODE_SHARDS,
    NODE_STATS,
    UNKNOWN_CLUSTER,
)
from slakit.exporters.elasticsearch.index_families import INDEX_SECTIONS, SHARD_VALUES
from slakit.exporters.elasticsearch.parsers import (
    Families,
    label_text,
    parse_cat_shards,
    parse_cluster_health,
    parse_indices_stats,
    parse_nodes_stats,
    parse_resolved_indices,
)

# Only what the parsers read: `_nodes/stats` with every section is 3x larger (HTTP route
# stats, client lists), and `_stats?level=shards` repeats every index's stats per shard
# copy; decoding them is most of a scrape's CPU.
NODE_METRICS = "jvm,process,os,fs,thread_pool,indices,breaker,transport,http"
NODE_FILTER = (
    "cluster_name,nodes.*.name,nodes.*.host,nodes.*.roles,nodes.*.attributes,"
    "nodes.*.http.current_open,nodes.*.jvm,nodes.*.process,nodes.*.os,nodes.*.fs,"
    "nodes.*.thread_pool,nodes.*.indices,nodes.*.breakers,nodes.*.transport"
)
INDEX_FILTER = ",".join(
    [
        *(f"indices.*.{part}.{'.'.join(path)}" for part, path, _ in INDEX_SECTIONS),
        "indices.*.shards.*.routing.node",
        "indices.*.shards.*.routing.primary",
        *(f"indices.*.shards.*.{'.'.join(path)}" for _, _, path in SHARD_VALUES),
    ]
)


@dataclass(frozen=True)
class Section:
    """One request and its parser (given the answer and the cluster's name)."""

    key: str  # the community exporter's collector it stands for, or slakit's own name
    what: str  # the request, for logs
    request: Callable[[Elasticsearch], Any]
    parse: Callable[[Any, str], list[Metric]]
    shape: type = dict  # what the answer's JSON must be


SECTIONS = (
    Section(
        CLUSTER_HEALTH,
        "_cluster/health",
        lambda es: es.cluster.health(),
        lambda body, _: parse_cluster_health(body),
    ),
    Section(
        NODE_STATS,
        "_nodes/stats",
        lambda es: es.nodes.stats(metric=NODE_METRICS, filter_path=NODE_FILTER),
        lambda body, _: parse_nodes_stats(body),
    ),
    Section(
        INDEX_STATS,
        "_stats",
        lambda es: es.indices.stats(level="shards", filter_path=INDEX_FILTER),
        parse_indices_stats,
    ),
    Section(
        NODE_SHARDS,
        "_cat/shards",
        lambda es: es.cat.shards(format="json", h="node"),
        lambda body, _: parse_cat_shards(body),
        list,
    ),
    # Aliases and index state (closed indices have no stats): names only, no stats.
    Section(
        "indices",
        "_resolve/index",
        lambda es: es.indices.resolve_index(name="*", expand_wildcards="all"),
        parse_resolved_indices,
    ),
)


class EsSource:
    """Every section, fetched in parallel at scrape time; their families and the
    community exporter's health of each collector."""

    def __init__(self, es: Elasticsearch, target: str) -> None:
        self.es = es
        self.target = target
        self.scrapes: Counter[str] = Counter()
        self.parse_failures: Counter[str] = Counter()
        self._lock = threading.Lock()  # a timed-out collection may still be finishing
        self._pool = ThreadPoolExecutor(len(SECTIONS), thread_name_prefix="slakit-es-fetch")

    def collect(self) -> list[Metric]:
        futures = [
            self._pool.submit(call, s.what, partial(s.request, self.es), s.shape) for s in SECTIONS
        ]
        answers: dict[str, Any] = {}
        failures: list[SourceError] = []
        for section, future in zip(SECTIONS, futures, strict=True):
            try:
                answers[section.key] = future.result()
            except SourceError as exc:
                failures.append(exc)
                if exc.reason == BAD_JSON:
                    with self._lock:
                        self.parse_failures[section.key] += 1
        with self._lock:
            self.scrapes.update(s.key for s in SECTIONS)
        name = answers.get(CLUSTER_HEALTH, {}).get("cluster_name")
        cluster = label_text(name) if isinstance(name, str) else UNKNOWN_CLUSTER
        families = [
            family
            for section in SECTIONS
            if section.key in answers
            for family in section.parse(answers[section.key], cluster)
        ]
        families += self._health(answers)
        if failures:
            detail = "; ".join(str(exc) for exc in failures)
            raise SourceError(failures[0].reason, detail, partial=families)
        return families

    def _health(self, answered: dict[str, Any]) -> list[Metric]:
        out = Families()
        with self._lock:
            for key, up_help, scrapes_help in COLLECTOR_HEALTH:
                up = 1.0 if key in answered else 0.0
                out.add(f"elasticsearch_{key}_up", GAUGE, up_help, {}, up)
                scrapes = self.scrapes[key]
                out.add(f"elasticsearch_{key}_total_scrapes", COUNTER, scrapes_help, {}, scrapes)
            for key in JSON_PARSED:
                failures = self.parse_failures[key]
                name = f"elasticsearch_{key}_json_parse_failures"
                out.add(name, COUNTER, JSON_PARSE_FAILURES_HELP, {}, failures)
        return out.families()
