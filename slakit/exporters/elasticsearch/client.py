"""The Elasticsearch exporter's client and source: stats fetched in parallel at scrape time.

The client never retries (the next scrape is the retry), times out at `timeout_s` and never
dumps what it sends or receives into the logs; every failure becomes a label-safe reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
from prometheus_client.core import Metric

from slakit.exporters.common import SourceError
from slakit.exporters.elasticsearch.families import UNKNOWN_CLUSTER
from slakit.exporters.elasticsearch.parsers import (
    label_text,
    parse_cluster_health,
    parse_indices_stats,
    parse_nodes_stats,
)
from slakit.exporters.elasticsearch.settings import EsExporterConfig

# Only what the parsers read: `_nodes/stats` with every section is 3x larger (HTTP route
# stats, client lists), and decoding it is most of a scrape's CPU.
NODE_METRICS = "jvm,process,os,fs,thread_pool,indices,breaker,transport,http"
NODE_FILTER = (
    "cluster_name,nodes.*.name,nodes.*.host,nodes.*.roles,nodes.*.attributes,"
    "nodes.*.http.current_open,nodes.*.jvm,nodes.*.process,nodes.*.os,nodes.*.fs,"
    "nodes.*.thread_pool,nodes.*.indices,nodes.*.breakers,nodes.*.transport"
)
INDEX_FILTER = "indices.*.primaries,indices.*.total"


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


def call(what: str, request: Callable[[], Any]) -> dict:
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
        futures = [self._pool.submit(call, what, request) for what, request in requests]
        health, nodes, indices = (future.result() for future in futures)
        cluster = health.get("cluster_name")
        cluster = label_text(cluster) if isinstance(cluster, str) else UNKNOWN_CLUSTER
        return [
            *parse_cluster_health(health),
            *parse_nodes_stats(nodes),
            *parse_indices_stats(indices, cluster),
        ]
