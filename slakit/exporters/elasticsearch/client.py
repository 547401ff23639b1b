"""The Elasticsearch exporter's client: one call, one answer or one label-safe reason.

The client never retries (the next scrape is the retry), times out at `timeout_s` and never
dumps what it sends or receives into the logs; every failure becomes a label-safe reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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

from slakit import es_auth
from slakit.exporters.common import SourceError
from slakit.exporters.elasticsearch.http_node import HttpClientNode
from slakit.exporters.elasticsearch.settings import EsExporterConfig

BAD_JSON = "bad_json"  # the answer is not JSON (or not of the expected shape)
INDEX_CLOSED = "index_closed"


def error_reason(exc: Exception) -> str:
    """A short, label-safe reason for an Elasticsearch client failure."""
    if isinstance(exc, ConnectionTimeout):
        return "timeout"
    if isinstance(exc, SSLError):
        return "tls"
    if isinstance(exc, EsConnectionError):
        return "connection"
    if isinstance(exc, SerializationError):
        return BAD_JSON
    if isinstance(exc, UnsupportedProductError):
        return "not_elasticsearch"
    if isinstance(exc, ApiError):
        # A search on a closed index answers 400 like a malformed query would.
        return INDEX_CLOSED if exc.error == "index_closed_exception" else f"http_{exc.meta.status}"
    return "transport"


def call(what: str, request: Callable[[], Any], shape: type = dict) -> Any:
    """The JSON object (or array: `shape`) an API call answered, or SourceError with a
    reason. The detail names the request and the reason only: an error body may echo
    request headers."""
    try:
        body = request().body
    except (TransportError, ApiError) as exc:
        reason = error_reason(exc)
        # The label-safe reason, then what it means ("authentication failed (401)").
        raise SourceError(reason, f"{what}: {es_auth.reason(exc)}") from None
    if not isinstance(body, shape):
        raise SourceError(BAD_JSON, f"{what}: expected a JSON {shape.__name__}")
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
        "node_class": HttpClientNode,
    }
    return Elasticsearch(cfg.url, **options, **cfg.client_options(cfg.url))
