"""The ES exporter's http.client node against a real local HTTP server: keep-alive
connections are reused, one the server has closed while idle is replaced without a failed
request, and failures reach the exporter as the client's errors (reasons)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest
from elasticsearch import Elasticsearch

from slakit.exporters.common import SourceError
from slakit.exporters.elasticsearch import EsExporterConfig
from slakit.exporters.elasticsearch.client import call, make_client
from slakit.exporters.elasticsearch.http_node import HttpClientNode
from tests.servers import HOST, free_port, serve_handler

HEALTH = json.dumps({"cluster_name": "slakit", "status": "green"}).encode()


class _Elasticsearch(BaseHTTPRequestHandler):
    """Answers health as Elasticsearch does; counts connections; closes each connection
    after its answer when `close_idle` (a server-side idle timeout, without saying so)."""

    protocol_version = "HTTP/1.1"
    connections = 0
    close_idle = False

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1

    def do_GET(self) -> None:
        body = HEALTH
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if self.close_idle:
            self.close_connection = True

    def log_message(self, fmt: str, *args: object) -> None:
        pass


@contextmanager
def elasticsearch(close_idle: bool) -> Iterator[str]:
    _Elasticsearch.connections, _Elasticsearch.close_idle = 0, close_idle
    with serve_handler(_Elasticsearch) as url:
        yield url


def _health(url: str, times: int, pause_s: float = 0) -> list[str]:
    es = make_client(EsExporterConfig(url=url, timeout_s=2))
    names = []
    for _ in range(times):
        names.append(call("_cluster/health", es.cluster.health)["cluster_name"])
        time.sleep(pause_s)
    return names


def test_keep_alive_connection_reused() -> None:
    with elasticsearch(close_idle=False) as url:
        assert _health(url, 5) == ["slakit"] * 5
        assert _Elasticsearch.connections == 1


def test_connection_closed_while_idle_is_replaced_not_failed() -> None:
    with elasticsearch(close_idle=True) as url:
        assert _health(url, 4, pause_s=0.1) == ["slakit"] * 4
        assert _Elasticsearch.connections == 4


def test_refused_connection_is_reason_connection() -> None:
    es = make_client(EsExporterConfig(url=f"http://{HOST}:{free_port()}", timeout_s=2))
    with pytest.raises(SourceError) as caught:
        call("_cluster/health", es.cluster.health)
    assert caught.value.reason == "connection"


def test_gzipped_answer_decoded_when_http_compress_asks_for_it() -> None:
    """elastic_transport's BaseNode sends Accept-Encoding: gzip with `http_compress`."""
    with elasticsearch(close_idle=False) as url:
        es = Elasticsearch(url, node_class=HttpClientNode, http_compress=True, max_retries=0)
        assert call("_cluster/health", es.cluster.health)["cluster_name"] == "slakit"
