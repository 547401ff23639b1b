"""Elasticsearch exporter: cluster, node and index stats under the community exporter's names,
plus what a RAG stack's SLA needs on top: a timed canary search and index freshness.

Dashboards and alerts written for prometheus-community's elasticsearch_exporter (1.5) keep
working: the families both exporters serve have the same names, label sets and values (the
integration test scrapes both side by side). Stats are fetched at scrape time, bounded by
`timeout_s`, and turned into metrics by pure parsers that skip whatever is missing or of the
wrong type instead of failing the scrape. The canary search and the freshness query run on
their own schedule in a background thread, so a slow search never slows a scrape.

Credentials (`password`, `api_key`) come from the environment or the config file; they are
SecretStr, sent only in the Authorization header, and never logged or exported.

    python -m slakit.exporters.elasticsearch --config es-exporter.yaml
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from elasticsearch import (
    ApiError,
    ConnectionTimeout,
    Elasticsearch,
    SerializationError,
    SSLError,
    TransportError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionError as EsConnectionError
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from slakit.errors import InputError
from slakit.exporters.common import BoundedCollector, SourceError
from slakit.exporters.common import serve as serve_registry
from slakit.exporters.settings import ExporterSettings

log = logging.getLogger("slakit.exporters.elasticsearch")

DEFAULT_PORT = 19114
PREFIX = "slakit_es"
# What the community exporter labels index stats with when it cannot read the cluster name.
UNKNOWN_CLUSTER = "unknown_cluster"
CANARY_HITS = 3  # a RAG retriever's top-k: the canary asks for what the gateway asks for
CANARY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Only what the parsers read: `_nodes/stats` with every section is 3x larger (HTTP route
# stats, client lists), and decoding it is most of a scrape's CPU.
NODE_METRICS = "jvm,process,os,fs,thread_pool,indices,breaker,transport,http"
NODE_FILTER = (
    "cluster_name,nodes.*.name,nodes.*.host,nodes.*.roles,nodes.*.attributes,"
    "nodes.*.http.current_open,nodes.*.jvm,nodes.*.process,nodes.*.os,nodes.*.fs,"
    "nodes.*.thread_pool,nodes.*.indices,nodes.*.breakers,nodes.*.transport"
)
INDEX_FILTER = "indices.*.primaries,indices.*.total"


class EsExporterConfig(ExporterSettings):
    """The exporter's settings. Command-line flags win over `SLAKIT_ES_EXPORTER_<FIELD>`
    environment variables, which win over the YAML file (`--config`), then defaults."""

    model_config = SettingsConfigDict(
        env_prefix="SLAKIT_ES_EXPORTER_", extra="forbid", validate_assignment=True
    )

    url: str = "http://127.0.0.1:19200"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_file: FilePath | None = None
    verify_tls: bool = True
    timeout_s: float = Field(5.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    canary_index: str = "slakit-corpus"
    canary_query: str = "parse json document"
    canary_interval_s: float = Field(10, gt=0)
    freshness_index: str | None = None
    freshness_field: str = "indexed_at"

    @field_validator("url")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL of an Elasticsearch node")
        if parts.username or parts.password:
            # The URL is the `target` label and appears in logs: no secrets in it.
            raise ValueError("put credentials in username/password or api_key, not in the URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_credential(self) -> EsExporterConfig:
        if self.api_key is not None and (self.username or self.password is not None):
            raise ValueError("set either api_key or username/password, not both")
        if self.password is not None and not self.username:
            raise ValueError("password is set but username is not")
        return self


load_config = EsExporterConfig.load


# --- pure parsers: JSON of any shape in, metric families out, never an exception --------

GAUGE, COUNTER = "gauge", "counter"
MS = 1000  # ES reports durations in milliseconds; the exported unit is seconds

KeyPath = tuple[str, ...]


def _num(obj: Any, path: KeyPath, divisor: float = 1) -> float | None:
    """The finite number at `path`, divided; None if anything on the way is missing or of
    the wrong type (booleans are not numbers here)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        return None
    try:
        value = float(obj) / divisor
    except OverflowError:  # an integer beyond float range
        return None
    return value if math.isfinite(value) else None


def _text(value: Any) -> str:
    """A label value: strings as they are (non-UTF-8-encodable characters replaced), and
    the empty string for anything else, as the community exporter's zero value."""
    if not isinstance(value, str):
        return ""
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def _dicts(value: Any) -> Iterator[tuple[str, dict]]:
    """(key, value) pairs of a JSON object whose values are objects."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                yield _text(key), item


def _objects(value: Any) -> Iterator[dict]:
    """The objects of a JSON array."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


class _Families:
    """Metric families by name, so every node's or index's samples share one family.

    The community exporter declares some counters without the `_total` suffix; the Python
    client would render a counter as `<name>_total`, which breaks the name, so those are
    untyped (`rate()` works on them the same). Counters whose name ends in `_total` stay
    counters."""

    def __init__(self) -> None:
        self._by_name: dict[str, Metric] = {}

    def add(
        self, name: str, kind: str, doc: str, labels: dict[str, str], value: float | None
    ) -> None:
        if value is None:
            return
        family = self._by_name.get(name)
        if family is None:
            if kind == COUNTER and name.endswith("_total"):
                family = Metric(name.removesuffix("_total"), doc, COUNTER)  # renders as `name`
            else:
                family = Metric(name, doc, "unknown" if kind == COUNTER else kind)
            self._by_name[name] = family
        family.add_sample(name, labels, value)

    def families(self) -> list[Metric]:
        return list(self._by_name.values())


# fmt: off
# (key in the response = the name after `elasticsearch_cluster_health_`, help)
HEALTH_GAUGES = (
    ("active_primary_shards", "The number of primary shards in your cluster."),
    ("active_shards", "Aggregate total of all shards across all indices, replicas included."),
    ("delayed_unassigned_shards", "Shards delayed to reduce reallocation overhead"),
    ("initializing_shards", "Count of shards that are being freshly created."),
    ("number_of_data_nodes", "Number of data nodes in the cluster."),
    ("number_of_in_flight_fetch", "The number of ongoing shard info requests."),
    ("number_of_nodes", "Number of nodes in the cluster."),
    ("number_of_pending_tasks", "Cluster level changes which have not yet been executed"),
    ("relocating_shards", "The number of shards moving from one node to another."),
    ("task_max_waiting_in_queue_millis", "Tasks max time waiting in queue."),
    ("unassigned_shards", "The number of shards that are not allocated to any node."),
)
# fmt: on
HEALTH_COLORS = ("green", "yellow", "red")


def parse_cluster_health(data: Any) -> list[Metric]:
    """`GET _cluster/health` -> `elasticsearch_cluster_health_*{cluster}` gauges."""
    if not isinstance(data, dict):
        return []
    out = _Families()
    labels = {"cluster": _text(data.get("cluster_name"))}
    for key, doc in HEALTH_GAUGES:
        out.add(f"elasticsearch_cluster_health_{key}", GAUGE, doc, labels, _num(data, (key,)))
    status = data.get("status")
    if isinstance(status, str):
        for color in HEALTH_COLORS:
            out.add(
                "elasticsearch_cluster_health_status",
                GAUGE,
                "Whether all primary and replica shards are allocated.",
                {**labels, "color": color},
                1.0 if status == color else 0.0,
            )
    return out.families()


# fmt: off
# (name, kind, help, path under one node of `_nodes/stats`, divisor)
NODE_VALUES: tuple[tuple[str, str, str, KeyPath, float], ...] = tuple(
    (f"elasticsearch_{name}", kind, doc, tuple(path.split(".")), divisor)
    for name, kind, doc, path, divisor in (
        ("os_load1", GAUGE, "Shortterm load average", "os.cpu.load_average.1m", 1),
        ("os_load5", GAUGE, "Midterm load average", "os.cpu.load_average.5m", 1),
        ("os_load15", GAUGE, "Longterm load average", "os.cpu.load_average.15m", 1),
        ("os_cpu_percent", GAUGE, "Percent CPU used by OS", "os.cpu.percent", 1),
        ("os_mem_free_bytes", GAUGE, "Amount of free physical memory in bytes",
         "os.mem.free_in_bytes", 1),
        ("os_mem_used_bytes", GAUGE, "Amount of used physical memory in bytes",
         "os.mem.used_in_bytes", 1),
        ("indices_fielddata_memory_size_bytes", GAUGE, "Field data cache memory usage in bytes",
         "indices.fielddata.memory_size_in_bytes", 1),
        ("indices_fielddata_evictions", COUNTER, "Evictions from field data",
         "indices.fielddata.evictions", 1),
        ("indices_completion_size_in_bytes", COUNTER, "Completion in bytes",
         "indices.completion.size_in_bytes", 1),
        ("indices_query_cache_memory_size_bytes", GAUGE, "Query cache memory usage in bytes",
         "indices.query_cache.memory_size_in_bytes", 1),
        ("indices_query_cache_evictions", COUNTER, "Evictions from query cache",
         "indices.query_cache.evictions", 1),
        ("indices_query_cache_total", COUNTER, "Query cache total count",
         "indices.query_cache.total_count", 1),
        ("indices_query_cache_cache_size", GAUGE, "Query cache cache size",
         "indices.query_cache.cache_size", 1),
        ("indices_query_cache_cache_total", COUNTER, "Query cache cache count",
         "indices.query_cache.cache_count", 1),
        ("indices_request_cache_memory_size_bytes", GAUGE, "Request cache memory usage in bytes",
         "indices.request_cache.memory_size_in_bytes", 1),
        ("indices_request_cache_evictions", COUNTER, "Evictions from request cache",
         "indices.request_cache.evictions", 1),
        ("indices_translog_operations", COUNTER, "Total translog operations",
         "indices.translog.operations", 1),
        ("indices_translog_size_in_bytes", COUNTER, "Total translog size in bytes",
         "indices.translog.size_in_bytes", 1),
        ("indices_get_time_seconds", COUNTER, "Total get time in seconds",
         "indices.get.time_in_millis", MS),
        ("indices_get_total", COUNTER, "Total get", "indices.get.total", 1),
        ("indices_get_missing_time_seconds", COUNTER, "Total time of get missing in seconds",
         "indices.get.missing_time_in_millis", MS),
        ("indices_get_missing_total", COUNTER, "Total get missing", "indices.get.missing_total", 1),
        ("indices_get_exists_time_seconds", COUNTER, "Total time get exists in seconds",
         "indices.get.exists_time_in_millis", MS),
        ("indices_get_exists_total", COUNTER, "Total get exists operations",
         "indices.get.exists_total", 1),
        ("indices_refresh_time_seconds_total", COUNTER, "Total time spent refreshing in seconds",
         "indices.refresh.total_time_in_millis", MS),
        ("indices_refresh_total", COUNTER, "Total refreshes", "indices.refresh.total", 1),
        ("indices_search_query_time_seconds", COUNTER, "Total search query time in seconds",
         "indices.search.query_time_in_millis", MS),
        ("indices_search_query_total", COUNTER, "Total number of queries",
         "indices.search.query_total", 1),
        ("indices_search_fetch_time_seconds", COUNTER, "Total search fetch time in seconds",
         "indices.search.fetch_time_in_millis", MS),
        ("indices_search_fetch_total", COUNTER, "Total number of fetches",
         "indices.search.fetch_total", 1),
        ("indices_search_suggest_total", COUNTER, "Total number of suggests",
         "indices.search.suggest_total", 1),
        ("indices_search_suggest_time_seconds", COUNTER, "Total suggest time in seconds",
         "indices.search.suggest_time_in_millis", MS),
        ("indices_search_scroll_total", COUNTER, "Total number of scrolls",
         "indices.search.scroll_total", 1),
        ("indices_search_scroll_time_seconds", COUNTER, "Total scroll time in seconds",
         "indices.search.scroll_time_in_millis", MS),
        ("indices_docs", GAUGE, "Count of documents on this node", "indices.docs.count", 1),
        ("indices_docs_deleted", GAUGE, "Count of deleted documents on this node",
         "indices.docs.deleted", 1),
        ("indices_store_size_bytes", GAUGE, "Current size of stored index data in bytes",
         "indices.store.size_in_bytes", 1),
        ("indices_segments_memory_bytes", GAUGE, "Current memory size of segments in bytes",
         "indices.segments.memory_in_bytes", 1),
        ("indices_segments_count", GAUGE, "Count of index segments on this node",
         "indices.segments.count", 1),
        ("indices_segments_terms_memory_in_bytes", GAUGE, "Count of terms in memory for this node",
         "indices.segments.terms_memory_in_bytes", 1),
        ("indices_segments_index_writer_memory_in_bytes", GAUGE,
         "Count of memory for index writer on this node",
         "indices.segments.index_writer_memory_in_bytes", 1),
        ("indices_segments_norms_memory_in_bytes", GAUGE, "Count of memory used by norms",
         "indices.segments.norms_memory_in_bytes", 1),
        ("indices_segments_stored_fields_memory_in_bytes", GAUGE, "Count of stored fields memory",
         "indices.segments.stored_fields_memory_in_bytes", 1),
        ("indices_segments_doc_values_memory_in_bytes", GAUGE, "Count of doc values memory",
         "indices.segments.doc_values_memory_in_bytes", 1),
        ("indices_segments_fixed_bit_set_memory_in_bytes", GAUGE, "Count of fixed bit set",
         "indices.segments.fixed_bit_set_memory_in_bytes", 1),
        ("indices_segments_term_vectors_memory_in_bytes", GAUGE,
         "Term vectors memory usage in bytes", "indices.segments.term_vectors_memory_in_bytes", 1),
        ("indices_segments_points_memory_in_bytes", GAUGE, "Point values memory usage in bytes",
         "indices.segments.points_memory_in_bytes", 1),
        ("indices_segments_version_map_memory_in_bytes", GAUGE,
         "Version map memory usage in bytes", "indices.segments.version_map_memory_in_bytes", 1),
        ("indices_flush_total", COUNTER, "Total flushes", "indices.flush.total", 1),
        ("indices_flush_time_seconds", COUNTER, "Cumulative flush time in seconds",
         "indices.flush.total_time_in_millis", MS),
        ("indices_warmer_total", COUNTER, "Total warmer count", "indices.warmer.total", 1),
        ("indices_warmer_time_seconds_total", COUNTER, "Total warmer time in seconds",
         "indices.warmer.total_time_in_millis", MS),
        ("indices_indexing_index_time_seconds_total", COUNTER, "Cumulative index time in seconds",
         "indices.indexing.index_time_in_millis", MS),
        ("indices_indexing_index_total", COUNTER, "Total index calls",
         "indices.indexing.index_total", 1),
        ("indices_indexing_delete_time_seconds_total", COUNTER,
         "Total time indexing delete in seconds", "indices.indexing.delete_time_in_millis", MS),
        ("indices_indexing_delete_total", COUNTER, "Total indexing deletes",
         "indices.indexing.delete_total", 1),
        ("indices_indexing_throttle_time_seconds_total", COUNTER,
         "Cumulative indexing throttling time", "indices.indexing.throttle_time_in_millis", MS),
        ("indices_merges_total", COUNTER, "Total merges", "indices.merges.total", 1),
        ("indices_merges_current", GAUGE, "Current merges", "indices.merges.current", 1),
        ("indices_merges_current_size_in_bytes", GAUGE, "Size of a current merges in bytes",
         "indices.merges.current_size_in_bytes", 1),
        ("indices_merges_docs_total", COUNTER, "Cumulative docs merged",
         "indices.merges.total_docs", 1),
        ("indices_merges_total_size_bytes_total", COUNTER, "Total merge size in bytes",
         "indices.merges.total_size_in_bytes", 1),
        ("indices_merges_total_time_seconds_total", COUNTER, "Total time spent merging in seconds",
         "indices.merges.total_time_in_millis", MS),
        ("indices_merges_total_throttled_time_seconds_total", COUNTER,
         "Total throttled time of merges in seconds",
         "indices.merges.total_throttled_time_in_millis", MS),
        ("process_cpu_percent", GAUGE, "Percent CPU used by process", "process.cpu.percent", 1),
        ("process_mem_virtual_size_bytes", GAUGE, "Total virtual memory used in bytes",
         "process.mem.total_virtual_in_bytes", 1),
        ("process_open_files_count", GAUGE, "Open file descriptors",
         "process.open_file_descriptors", 1),
        ("process_max_files_descriptors", GAUGE, "Max file descriptors",
         "process.max_file_descriptors", 1),
        ("process_cpu_seconds_total", COUNTER, "Process CPU time in seconds",
         "process.cpu.total_in_millis", MS),
        ("transport_rx_packets_total", COUNTER, "Count of packets received",
         "transport.rx_count", 1),
        ("transport_rx_size_bytes_total", COUNTER, "Total number of bytes received",
         "transport.rx_size_in_bytes", 1),
        ("transport_tx_packets_total", COUNTER, "Count of packets sent", "transport.tx_count", 1),
        ("transport_tx_size_bytes_total", COUNTER, "Total number of bytes sent",
         "transport.tx_size_in_bytes", 1),
    )
)
# (name, kind, help, key under jvm.mem, area label)
JVM_AREAS: tuple[tuple[str, str, str, str, str], ...] = (
    ("elasticsearch_jvm_memory_used_bytes", GAUGE, "JVM memory currently used by area",
     "heap_used_in_bytes", "heap"),
    ("elasticsearch_jvm_memory_used_bytes", GAUGE, "JVM memory currently used by area",
     "non_heap_used_in_bytes", "non-heap"),
    ("elasticsearch_jvm_memory_max_bytes", GAUGE, "JVM memory max", "heap_max_in_bytes", "heap"),
    ("elasticsearch_jvm_memory_committed_bytes", GAUGE, "JVM memory currently committed by area",
     "heap_committed_in_bytes", "heap"),
    ("elasticsearch_jvm_memory_committed_bytes", GAUGE, "JVM memory currently committed by area",
     "non_heap_committed_in_bytes", "non-heap"),
)
JVM_POOLS = ("young", "survivor", "old")
JVM_POOL_VALUES = (
    ("elasticsearch_jvm_memory_pool_used_bytes", GAUGE, "JVM memory currently used by pool",
     "used_in_bytes"),
    ("elasticsearch_jvm_memory_pool_max_bytes", COUNTER, "JVM memory max by pool", "max_in_bytes"),
    ("elasticsearch_jvm_memory_pool_peak_used_bytes", COUNTER, "JVM memory peak used by pool",
     "peak_used_in_bytes"),
    ("elasticsearch_jvm_memory_pool_peak_max_bytes", COUNTER, "JVM memory peak max by pool",
     "peak_max_in_bytes"),
)
BUFFER_POOLS = ("direct", "mapped")
GC_VALUES = (
    ("elasticsearch_jvm_gc_collection_seconds_count", "Count of JVM GC runs",
     "collection_count", 1),
    ("elasticsearch_jvm_gc_collection_seconds_sum", "GC run time in seconds",
     "collection_time_in_millis", MS),
)
BREAKER_VALUES = (
    ("elasticsearch_breakers_estimated_size_bytes", GAUGE, "Estimated size in bytes of breaker",
     "estimated_size_in_bytes"),
    ("elasticsearch_breakers_limit_size_bytes", GAUGE, "Limit size in bytes for breaker",
     "limit_size_in_bytes"),
    ("elasticsearch_breakers_tripped", COUNTER, "tripped for breaker", "tripped"),
    ("elasticsearch_breakers_overhead", COUNTER, "Overhead of circuit breakers", "overhead"),
)
THREAD_POOL_VALUES = (
    ("elasticsearch_thread_pool_completed_count", COUNTER, "Thread Pool operations completed",
     "completed"),
    ("elasticsearch_thread_pool_rejected_count", COUNTER, "Thread Pool operations rejected",
     "rejected"),
    ("elasticsearch_thread_pool_active_count", GAUGE, "Thread Pool threads active", "active"),
    ("elasticsearch_thread_pool_largest_count", GAUGE, "Thread Pool largest threads count",
     "largest"),
    ("elasticsearch_thread_pool_queue_count", GAUGE, "Thread Pool operations queued", "queue"),
    ("elasticsearch_thread_pool_threads_count", GAUGE, "Thread Pool current threads count",
     "threads"),
)
FS_DATA_VALUES = (
    ("elasticsearch_filesystem_data_available_bytes", "Available space on block device in bytes",
     "available_in_bytes"),
    ("elasticsearch_filesystem_data_free_bytes", "Free space on block device in bytes",
     "free_in_bytes"),
    ("elasticsearch_filesystem_data_size_bytes", "Size of block device in bytes",
     "total_in_bytes"),
)
FS_IO_VALUES = (
    ("elasticsearch_filesystem_io_stats_device_operations_count", "Count of disk operations",
     "operations"),
    ("elasticsearch_filesystem_io_stats_device_read_operations_count",
     "Count of disk read operations", "read_operations"),
    ("elasticsearch_filesystem_io_stats_device_write_operations_count",
     "Count of disk write operations", "write_operations"),
    ("elasticsearch_filesystem_io_stats_device_read_size_kilobytes_sum",
     "Total kilobytes read from disk", "read_kilobytes"),
    ("elasticsearch_filesystem_io_stats_device_write_size_kilobytes_sum",
     "Total kilobytes written to disk", "write_kilobytes"),
)
# (label, key under indices.*_cache, help) of the cache hit/miss counters
CACHE_COUNTS = (
    ("elasticsearch_indices_query_cache_count", "hit", "query_cache", "hit_count",
     "Query cache count"),
    ("elasticsearch_indices_query_miss_count", "miss", "query_cache", "miss_count",
     "Query miss count"),
    ("elasticsearch_indices_request_cache_count", "hit", "request_cache", "hit_count",
     "Request cache count"),
    ("elasticsearch_indices_request_miss_count", "miss", "request_cache", "miss_count",
     "Request miss count"),
)
# fmt: on
# The roles the community exporter (1.5) turns into `es_<role>_node` labels and
# `elasticsearch_nodes_roles`; `client` means "serves HTTP".
ROLES = ("master", "data", "ingest")


def _roles(node: dict) -> dict[str, bool]:
    """Which of ROLES (and `client`) a node has, decided as the community exporter does:
    from `roles` when the node lists any, else from `node.<role>` attributes (pre-5.x)."""
    roles = node.get("roles")
    listed = {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
    if listed:
        found = {role: role in listed for role in ROLES}
    else:
        attributes = node.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        found = {role: role in attributes and attributes[role] != "false" for role in ROLES}
    http = node.get("http")
    found["client"] = isinstance(http, dict) and bool(http)
    return found


def _bool(value: bool) -> str:
    return "true" if value else "false"


def parse_nodes_stats(data: Any) -> list[Metric]:
    """`GET _nodes/stats` -> per-node `elasticsearch_{os,jvm,process,indices,thread_pool,
    breakers,filesystem,transport}_*` families labelled like the community exporter's."""
    if not isinstance(data, dict):
        return []
    out = _Families()
    cluster = _text(data.get("cluster_name"))
    for _node_id, node in _dicts(data.get("nodes")):
        roles = _roles(node)
        who = {"cluster": cluster, "host": _text(node.get("host")), "name": _text(node.get("name"))}
        for role in ("client", *ROLES):
            if roles[role]:
                out.add(
                    "elasticsearch_nodes_roles",
                    GAUGE,
                    "Node default roles",
                    {**who, "role": role},
                    1.0,
                )
        labels = {
            **who,
            "es_master_node": _bool(roles["master"]),
            "es_data_node": _bool(roles["data"]),
            "es_ingest_node": _bool(roles["ingest"]),
            "es_client_node": _bool(roles["client"]),
        }
        _node_values(out, node, labels)
        _jvm(out, node.get("jvm"), labels)
        _keyed(out, node.get("thread_pool"), labels, "type", THREAD_POOL_VALUES)
        _keyed(out, node.get("breakers"), labels, "breaker", BREAKER_VALUES)
        _filesystem(out, node.get("fs"), labels)
    return out.families()


def _node_values(out: _Families, node: dict, labels: dict[str, str]) -> None:
    for name, kind, doc, path, divisor in NODE_VALUES:
        out.add(name, kind, doc, labels, _num(node, path, divisor))
    out.add(
        "elasticsearch_indices_indexing_is_throttled",
        GAUGE,
        "Indexing throttling",
        labels,
        _flag(node, ("indices", "indexing", "is_throttled")),
    )
    for name, cache, section, key, doc in CACHE_COUNTS:
        out.add(
            name, COUNTER, doc, {**labels, "cache": cache}, _num(node, ("indices", section, key))
        )


def _flag(obj: Any, path: KeyPath) -> float | None:
    """A JSON boolean at `path` as 1/0; None if missing or not a boolean."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return float(obj) if isinstance(obj, bool) else None


def _jvm(out: _Families, jvm: Any, labels: dict[str, str]) -> None:
    if not isinstance(jvm, dict):
        return
    # The community exporter labels uptime with type="mapped" (a copy-paste slip it ships
    # with); kept, so queries written against it match.
    out.add(
        "elasticsearch_jvm_uptime_seconds",
        GAUGE,
        "JVM process uptime in seconds",
        {**labels, "type": "mapped"},
        _num(jvm, ("uptime_in_millis",), MS),
    )
    mem = jvm.get("mem")
    for name, kind, doc, key, area in JVM_AREAS:
        out.add(name, kind, doc, {**labels, "area": area}, _num(mem, (key,)))
    pools = mem.get("pools") if isinstance(mem, dict) else None
    for pool in JVM_POOLS:
        for name, kind, doc, key in JVM_POOL_VALUES:
            out.add(name, kind, doc, {**labels, "pool": pool}, _num(pools, (pool, key)))
    for pool in BUFFER_POOLS:
        out.add(
            "elasticsearch_jvm_buffer_pool_used_bytes",
            GAUGE,
            "JVM buffer currently used",
            {**labels, "type": pool},
            _num(jvm, ("buffer_pools", pool, "used_in_bytes")),
        )
    gc = jvm.get("gc")
    for collector, stats in _dicts(gc.get("collectors") if isinstance(gc, dict) else None):
        for name, doc, key, divisor in GC_VALUES:
            out.add(name, COUNTER, doc, {**labels, "gc": collector}, _num(stats, (key,), divisor))


def _keyed(
    out: _Families,
    section: Any,
    labels: dict[str, str],
    label: str,
    values: tuple[tuple[str, str, str, str], ...],
) -> None:
    """Families of a section keyed by name (thread pools, breakers): one sample per key."""
    for key, stats in _dicts(section):
        for name, kind, doc, field in values:
            out.add(name, kind, doc, {**labels, label: key}, _num(stats, (field,)))


def _filesystem(out: _Families, fs: Any, labels: dict[str, str]) -> None:
    if not isinstance(fs, dict):
        return
    for data in _objects(fs.get("data")):
        where = {**labels, "mount": _text(data.get("mount")), "path": _text(data.get("path"))}
        for name, doc, key in FS_DATA_VALUES:
            out.add(name, GAUGE, doc, where, _num(data, (key,)))
    io_stats = fs.get("io_stats")
    for device in _objects(io_stats.get("devices") if isinstance(io_stats, dict) else None):
        where = {**labels, "device": _text(device.get("device_name"))}
        for name, doc, key in FS_IO_VALUES:
            out.add(name, COUNTER, doc, where, _num(device, (key,)))


# fmt: off
# (name, kind, help, "primaries" or "total", path under it, divisor)
INDEX_VALUES: tuple[tuple[str, str, str, str, KeyPath, float], ...] = tuple(
    (f"elasticsearch_{name}", kind, doc, part, tuple(path.split(".")), divisor)
    for name, kind, doc, part, path, divisor in (
        ("indices_docs_primary", GAUGE, "Count of documents with only primary shards",
         "primaries", "docs.count", 1),
        ("indices_deleted_docs_primary", GAUGE,
         "Count of deleted documents with only primary shards", "primaries", "docs.deleted", 1),
        ("indices_docs_total", GAUGE, "Total count of documents", "total", "docs.count", 1),
        ("indices_deleted_docs_total", GAUGE, "Total count of deleted documents", "total",
         "docs.deleted", 1),
        ("indices_store_size_bytes_primary", GAUGE,
         "Current total size of stored index data in bytes with only primary shards on all "
         "nodes", "primaries", "store.size_in_bytes", 1),
        ("indices_store_size_bytes_total", GAUGE,
         "Current total size of stored index data in bytes with all shards on all nodes",
         "total", "store.size_in_bytes", 1),
        ("indices_segment_count_primary", GAUGE,
         "Current number of segments with only primary shards on all nodes", "primaries",
         "segments.count", 1),
        ("indices_segment_count_total", GAUGE,
         "Current number of segments with all shards on all nodes", "total", "segments.count", 1),
        ("indices_segment_memory_bytes_primary", GAUGE,
         "Current size of segments with only primary shards on all nodes in bytes", "primaries",
         "segments.memory_in_bytes", 1),
        ("indices_segment_memory_bytes_total", GAUGE,
         "Current size of segments with all shards on all nodes in bytes", "total",
         "segments.memory_in_bytes", 1),
        ("indices_segment_terms_memory_primary", GAUGE,
         "Current size of terms with only primary shards on all nodes in bytes", "primaries",
         "segments.terms_memory_in_bytes", 1),
        ("indices_segment_terms_memory_total", GAUGE,
         "Current number of terms with all shards on all nodes in bytes", "total",
         "segments.terms_memory_in_bytes", 1),
        ("indices_segment_fields_memory_bytes_primary", GAUGE,
         "Current size of fields with only primary shards on all nodes in bytes", "primaries",
         "segments.stored_fields_memory_in_bytes", 1),
        ("indices_segment_fields_memory_bytes_total", GAUGE,
         "Current size of fields with all shards on all nodes in bytes", "total",
         "segments.stored_fields_memory_in_bytes", 1),
        ("indices_segment_term_vectors_memory_primary_bytes", GAUGE,
         "Current size of term vectors with only primary shards on all nodes in bytes",
         "primaries", "segments.term_vectors_memory_in_bytes", 1),
        ("indices_segment_term_vectors_memory_total_bytes", GAUGE,
         "Current size of term vectors with all shards on all nodes in bytes", "total",
         "segments.term_vectors_memory_in_bytes", 1),
        ("indices_segment_norms_memory_bytes_primary", GAUGE,
         "Current size of norms with only primary shards on all nodes in bytes", "primaries",
         "segments.norms_memory_in_bytes", 1),
        ("indices_segment_norms_memory_bytes_total", GAUGE,
         "Current size of norms with all shards on all nodes in bytes", "total",
         "segments.norms_memory_in_bytes", 1),
        ("indices_segment_points_memory_bytes_primary", GAUGE,
         "Current size of points with only primary shards on all nodes in bytes", "primaries",
         "segments.points_memory_in_bytes", 1),
        ("indices_segment_points_memory_bytes_total", GAUGE,
         "Current size of points with all shards on all nodes in bytes", "total",
         "segments.points_memory_in_bytes", 1),
        ("indices_segment_doc_values_memory_bytes_primary", GAUGE,
         "Current size of doc values with only primary shards on all nodes in bytes",
         "primaries", "segments.doc_values_memory_in_bytes", 1),
        ("indices_segment_doc_values_memory_bytes_total", GAUGE,
         "Current size of doc values with all shards on all nodes in bytes", "total",
         "segments.doc_values_memory_in_bytes", 1),
        ("indices_segment_index_writer_memory_bytes_primary", GAUGE,
         "Current size of index writer with only primary shards on all nodes in bytes",
         "primaries", "segments.index_writer_memory_in_bytes", 1),
        ("indices_segment_index_writer_memory_bytes_total", GAUGE,
         "Current size of index writer with all shards on all nodes in bytes", "total",
         "segments.index_writer_memory_in_bytes", 1),
        ("indices_segment_version_map_memory_bytes_primary", GAUGE,
         "Current size of version map with only primary shards on all nodes in bytes",
         "primaries", "segments.version_map_memory_in_bytes", 1),
        ("indices_segment_version_map_memory_bytes_total", GAUGE,
         "Current size of version map with all shards on all nodes in bytes", "total",
         "segments.version_map_memory_in_bytes", 1),
        ("indices_segment_fixed_bit_set_memory_bytes_primary", GAUGE,
         "Current size of fixed bit with only primary shards on all nodes in bytes",
         "primaries", "segments.fixed_bit_set_memory_in_bytes", 1),
        ("indices_segment_fixed_bit_set_memory_bytes_total", GAUGE,
         "Current size of fixed bit with all shards on all nodes in bytes", "total",
         "segments.fixed_bit_set_memory_in_bytes", 1),
        ("indices_completion_bytes_primary", GAUGE,
         "Current size of completion with only primary shards on all nodes in bytes",
         "primaries", "completion.size_in_bytes", 1),
        ("indices_completion_bytes_total", GAUGE,
         "Current size of completion with all shards on all nodes in bytes", "total",
         "completion.size_in_bytes", 1),
        ("index_stats_search_query_time_seconds_total", COUNTER,
         "Total search query time in seconds", "total", "search.query_time_in_millis", MS),
        ("search_active_queries", GAUGE, "The number of currently active queries", "total",
         "search.query_current", 1),
        ("index_stats_search_query_total", COUNTER, "Total number of queries", "total",
         "search.query_total", 1),
        ("index_stats_search_fetch_time_seconds_total", COUNTER,
         "Total search fetch time in seconds", "total", "search.fetch_time_in_millis", MS),
        ("index_stats_search_fetch_total", COUNTER, "Total search fetch count", "total",
         "search.fetch_total", 1),
        ("index_stats_search_scroll_time_seconds_total", COUNTER,
         "Total search scroll time in seconds", "total", "search.scroll_time_in_millis", MS),
        ("index_stats_search_scroll_current", GAUGE, "Current search scroll count", "total",
         "search.scroll_current", 1),
        ("index_stats_search_scroll_total", COUNTER, "Total search scroll count", "total",
         "search.scroll_total", 1),
        ("index_stats_search_suggest_time_seconds_total", COUNTER,
         "Total search suggest time in seconds", "total", "search.suggest_time_in_millis", MS),
        ("index_stats_search_suggest_total", COUNTER, "Total search suggest count", "total",
         "search.suggest_total", 1),
        ("index_stats_indexing_index_time_seconds_total", COUNTER,
         "Total indexing index time in seconds", "total", "indexing.index_time_in_millis", MS),
        ("index_stats_index_current", GAUGE,
         "The number of documents currently being indexed to an index", "total",
         "indexing.index_current", 1),
        ("index_stats_indexing_index_total", COUNTER, "Total indexing index count", "total",
         "indexing.index_total", 1),
        ("index_stats_indexing_delete_time_seconds_total", COUNTER,
         "Total indexing delete time in seconds", "total", "indexing.delete_time_in_millis", MS),
        ("index_stats_indexing_delete_total", COUNTER, "Total indexing delete count", "total",
         "indexing.delete_total", 1),
        ("index_stats_indexing_noop_update_total", COUNTER, "Total indexing no-op update count",
         "total", "indexing.noop_update_total", 1),
        ("index_stats_indexing_throttle_time_seconds_total", COUNTER,
         "Total indexing throttle time in seconds", "total", "indexing.throttle_time_in_millis",
         MS),
        ("index_stats_get_time_seconds_total", COUNTER, "Total get time in seconds", "total",
         "get.time_in_millis", MS),
        ("index_stats_get_total", COUNTER, "Total get count", "total", "get.total", 1),
        ("index_stats_merge_time_seconds_total", COUNTER, "Total merge time in seconds", "total",
         "merges.total_time_in_millis", MS),
        ("index_stats_merge_total", COUNTER, "Total merge count", "total", "merges.total", 1),
        ("index_stats_merge_throttle_time_seconds_total", COUNTER,
         "Total merge I/O throttle time in seconds", "total",
         "merges.total_throttled_time_in_millis", MS),
        ("index_stats_merge_stopped_time_seconds_total", COUNTER,
         "Total large merge stopped time in seconds, allowing smaller merges to complete",
         "total", "merges.total_stopped_time_in_millis", MS),
        ("index_stats_merge_auto_throttle_bytes_total", COUNTER,
         "Total bytes that were auto-throttled during merging", "total",
         "merges.total_auto_throttle_in_bytes", 1),
        ("index_stats_refresh_time_seconds_total", COUNTER, "Total refresh time in seconds",
         "total", "refresh.total_time_in_millis", MS),
        ("index_stats_refresh_total", COUNTER, "Total refresh count", "total", "refresh.total",
         1),
        ("index_stats_flush_time_seconds_total", COUNTER, "Total flush time in seconds", "total",
         "flush.total_time_in_millis", MS),
        ("index_stats_flush_total", COUNTER, "Total flush count", "total", "flush.total", 1),
        ("index_stats_warmer_time_seconds_total", COUNTER, "Total warmer time in seconds",
         "total", "warmer.total_time_in_millis", MS),
        ("index_stats_warmer_total", COUNTER, "Total warmer count", "total", "warmer.total", 1),
        ("index_stats_query_cache_memory_bytes_total", COUNTER,
         "Total query cache memory bytes", "total", "query_cache.memory_size_in_bytes", 1),
        ("index_stats_query_cache_size", GAUGE, "Total query cache size", "total",
         "query_cache.cache_size", 1),
        ("index_stats_query_cache_hits_total", COUNTER, "Total query cache hits count", "total",
         "query_cache.hit_count", 1),
        ("index_stats_query_cache_misses_total", COUNTER, "Total query cache misses count",
         "total", "query_cache.miss_count", 1),
        ("index_stats_query_cache_caches_total", COUNTER, "Total query cache caches count",
         "total", "query_cache.cache_count", 1),
        ("index_stats_query_cache_evictions_total", COUNTER, "Total query cache evictions count",
         "total", "query_cache.evictions", 1),
        ("index_stats_request_cache_memory_bytes_total", COUNTER,
         "Total request cache memory bytes", "total", "request_cache.memory_size_in_bytes", 1),
        ("index_stats_request_cache_hits_total", COUNTER, "Total request cache hits count",
         "total", "request_cache.hit_count", 1),
        ("index_stats_request_cache_misses_total", COUNTER, "Total request cache misses count",
         "total", "request_cache.miss_count", 1),
        ("index_stats_request_cache_evictions_total", COUNTER,
         "Total request cache evictions count", "total", "request_cache.evictions", 1),
        ("index_stats_fielddata_memory_bytes_total", COUNTER, "Total fielddata memory bytes",
         "total", "fielddata.memory_size_in_bytes", 1),
        ("index_stats_fielddata_evictions_total", COUNTER, "Total fielddata evictions count",
         "total", "fielddata.evictions", 1),
    )
)
# fmt: on


def parse_indices_stats(data: Any, cluster: str = UNKNOWN_CLUSTER) -> list[Metric]:
    """`GET _stats` -> per-index `elasticsearch_indices_*` / `elasticsearch_index_stats_*`
    families labelled {index, cluster}. `_stats` does not name the cluster: the caller
    passes the name `_cluster/health` reported."""
    if not isinstance(data, dict):
        return []
    out = _Families()
    for index, stats in _dicts(data.get("indices")):
        labels = {"cluster": cluster, "index": index}
        for name, kind, doc, part, path, divisor in INDEX_VALUES:
            out.add(name, kind, doc, labels, _num(stats.get(part), path, divisor))
    return out.families()


# --- collection ------------------------------------------------------------------------


def error_reason(exc: Exception) -> str:
    """A short, label-safe reason for an Elasticsearch client failure."""
    if isinstance(exc, ConnectionTimeout):
        return "timeout"
    if isinstance(exc, SSLError):
        return "tls"
    if isinstance(exc, EsConnectionError):
        return "connection"
    if isinstance(exc, SerializationError):
        return "bad_json"
    if isinstance(exc, UnsupportedProductError):
        return "not_elasticsearch"
    if isinstance(exc, ApiError):
        return f"http_{exc.meta.status}"
    return "transport"


def _call(what: str, request: Callable[[], Any]) -> dict:
    """The JSON object an API call answered, or SourceError with a reason. The detail names
    the request and the reason only: an error body may echo request headers."""
    try:
        body = request().body
    except (TransportError, ApiError) as exc:
        reason = error_reason(exc)
        raise SourceError(reason, f"{what}: {reason}") from None
    if not isinstance(body, dict):
        raise SourceError("bad_json", f"{what}: expected a JSON object")
    return body


class _NoWireDumps(logging.Filter):
    """Drops the client's DEBUG dumps of requests and responses: a response body may echo
    the credentials back (some proxies do) and holds documents' text."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def make_client(cfg: EsExporterConfig) -> Elasticsearch:
    """A client that never retries (the next scrape is the retry), times out at `timeout_s`
    and never dumps what it sends or receives into the logs."""
    wire = logging.getLogger("elastic_transport.node")
    if not any(isinstance(f, _NoWireDumps) for f in wire.filters):
        wire.addFilter(_NoWireDumps())
    options: dict[str, Any] = {
        "request_timeout": cfg.timeout_s,
        "max_retries": 0,
        "retry_on_timeout": False,
    }
    if cfg.api_key is not None:
        options["api_key"] = cfg.api_key.get_secret_value()
    elif cfg.username:
        secret = cfg.password.get_secret_value() if cfg.password is not None else ""
        options["basic_auth"] = (cfg.username, secret)
    if cfg.url.startswith("https:"):
        options["verify_certs"] = cfg.verify_tls
        options["ssl_show_warn"] = cfg.verify_tls
        if cfg.ca_file is not None:
            options["ca_certs"] = str(cfg.ca_file)
    return Elasticsearch(cfg.url, **options)


class EsSource:
    """Cluster health, node stats and index stats, fetched in parallel at scrape time."""

    def __init__(self, es: Elasticsearch, target: str) -> None:
        self.es = es
        self.target = target
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="slakit-es-fetch")

    def collect(self) -> list[Metric]:
        requests = (
            ("_cluster/health", self.es.cluster.health),
            (
                "_nodes/stats",
                lambda: self.es.nodes.stats(metric=NODE_METRICS, filter_path=NODE_FILTER),
            ),
            ("_stats", lambda: self.es.indices.stats(filter_path=INDEX_FILTER)),
        )
        futures = [self._pool.submit(_call, what, request) for what, request in requests]
        health, nodes, indices = (future.result() for future in futures)
        cluster = health.get("cluster_name")
        cluster = _text(cluster) if isinstance(cluster, str) else UNKNOWN_CLUSTER
        return [
            *parse_cluster_health(health),
            *parse_nodes_stats(nodes),
            *parse_indices_stats(indices, cluster),
        ]


class Prober:
    """The canary search and the freshness query, on their own schedule in a thread.

    The canary runs `canary_query` on `canary_index` as the RAG retriever would; its
    latency (successes only) goes into a histogram and its failures are counted by
    reason (`no_hits` when the query matched nothing: an empty or broken index). The
    freshness query reads the newest `freshness_field` of `freshness_index`; the gauge is
    now minus that, computed at scrape time, and absent until a query has succeeded (or
    after one failed, since the newest document is then unknown)."""

    def __init__(self, es: Elasticsearch, cfg: EsExporterConfig, registry: CollectorRegistry):
        self.es = es
        self.cfg = cfg
        self.search_seconds = Histogram(
            f"{PREFIX}_canary_search_seconds",
            "Latency of the canary search (successful searches only)",
            ["index"],
            buckets=CANARY_BUCKETS,
            registry=registry,
        )
        self.search_seconds.labels(cfg.canary_index)
        self.canary_failures = Counter(
            f"{PREFIX}_canary_failures",
            "Failed canary searches by reason",
            ["index", "reason"],
            registry=registry,
        )
        self.freshness_failures = Counter(
            f"{PREFIX}_freshness_failures",
            "Failed freshness queries by reason",
            ["index", "reason"],
            registry=registry,
        )
        self.newest: float | None = None  # epoch seconds of the newest document
        self._failing: dict[str, str] = {}  # probe -> reason, while it fails
        registry.register(self)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def canary(self) -> None:
        index = self.cfg.canary_index
        query = {"simple_query_string": {"query": self.cfg.canary_query}}
        start = time.perf_counter()
        try:
            body = _call(
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
            body = _call(
                "freshness query",
                lambda: self.es.search(index=index, size=0, aggs=aggs, track_total_hits=False),
            )
        except SourceError as exc:
            self.newest = None
            self._failed("freshness query", self.freshness_failures, index, exc.reason)
            return
        millis = _num(body, ("aggregations", "newest", "value"))
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
        self.canary()
        if self.cfg.freshness_index:
            self.freshness(self.cfg.freshness_index)

    def collect(self) -> Iterable[Metric]:
        newest = self.newest
        if newest is None or not self.cfg.freshness_index:
            return []
        family = GaugeMetricFamily(
            f"{PREFIX}_index_freshness_seconds",
            "Seconds since the newest document's timestamp field (now minus its maximum)",
            labels=["index"],
        )
        family.add_metric([self.cfg.freshness_index], time.time() - newest)
        return [family]

    def describe(self) -> Iterable[Metric]:
        return []

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 (the prober must outlive a bug in one probe)
                log.exception("canary/freshness probe failed unexpectedly")
            self._stop.wait(self.cfg.canary_interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="slakit-es-prober", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.cfg.timeout_s + 1)


def build_registry(cfg: EsExporterConfig) -> tuple[CollectorRegistry, Prober]:
    """The registry a scrape reads (stats + `slakit_es_up` and friends) and the prober that
    feeds its canary and freshness metrics (not started)."""
    es = make_client(cfg)
    registry = CollectorRegistry()
    # A little over the client's own timeout, so a hung request surfaces as the client's
    # `timeout` (freeing the worker) and this bound is only the backstop.
    registry.register(BoundedCollector(PREFIX, EsSource(es, cfg.url), cfg.timeout_s + 0.5))
    return registry, Prober(es, cfg, registry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m slakit.exporters.elasticsearch",
        description="Serve Elasticsearch metrics (community exporter names) plus a canary "
        "search and index freshness on /metrics.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--config", type=Path, help="YAML file with the same fields")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The client logs every request at INFO and every failure at WARNING; the exporter
    # already logs each failed collection once, with its reason.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    disable_created_metrics()  # `_created` samples are noise in the text format Prometheus reads
    flags = {name: getattr(args, name) for name in ("host", "port")}
    try:
        cfg = load_config(args.config, **{k: v for k, v in flags.items() if v is not None})
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_code
    registry, prober = build_registry(cfg)
    log.info(
        "exporting %s (canary: %r on %s every %g s)",
        cfg.url,
        cfg.canary_query,
        cfg.canary_index,
        cfg.canary_interval_s,
    )
    prober.start()
    try:
        serve_registry(registry, cfg.host, cfg.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", cfg.host, cfg.port, exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        prober.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
