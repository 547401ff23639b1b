"""An elastic_transport node on the standard library's `http.client`, for the exporter's
client: the default urllib3 node (urllib3-future here) costs 0.5-1 ms of CPU per request,
`http.client` 0.2 ms, and a scrape makes five. The client above it is unchanged: headers,
credentials, product check, errors and logging are elastic_transport's and the client's.
"""

from __future__ import annotations

import gzip
import http.client
import select
import ssl
import threading
import time
from typing import Any

from elastic_transport import (
    ApiResponseMeta,
    BaseNode,
    ConnectionError,
    ConnectionTimeout,
    HttpHeaders,
    NodeConfig,
    TlsError,
)
from elastic_transport._node._base import NodeApiResponse, ssl_context_from_node_config
from elastic_transport.client_utils import DEFAULT


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection the server has closed reads as ready (EOF)."""
    return conn.sock is None or bool(select.select([conn.sock], [], [], 0)[0])


class HttpClientNode(BaseNode):
    """Keep-alive connections to one node, reused most recent first, one per request in
    flight (the exporter's sections and its prober run at once)."""

    _CLIENT_META_HTTP_CLIENT = ("hc", "1")

    def __init__(self, config: NodeConfig) -> None:
        super().__init__(config)
        self._context = None
        if config.scheme == "https":
            self._context = ssl_context_from_node_config(config)
            if config.verify_certs and not config.ssl_context:
                self._context.check_hostname = True  # an address too: Python matches IP SANs
                if config.ca_certs:
                    self._context.load_verify_locations(config.ca_certs)
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _dropped(conn):
                    conn.sock.settimeout(timeout)
                    return conn
                conn.close()
        if self._context is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self._context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: Any = DEFAULT,
    ) -> NodeApiResponse:
        target = f"{self.path_prefix}{target}"
        timeout = self.config.request_timeout if request_timeout is DEFAULT else request_timeout
        request_headers = self.headers.copy()
        if headers:
            request_headers.update(headers)
        if body and self._http_compress:
            body = gzip.compress(body)
            request_headers["content-encoding"] = "gzip"
        start = time.time()
        conn = self._connection(timeout)
        try:
            conn.request(method, target, body=body, headers=dict(request_headers.items()))
            response = conn.getresponse()
            data = response.read()
            # BaseNode asks for gzip with `http_compress`; urllib3's node decodes it, and so
            # must this one.
            if response.getheader("content-encoding") == "gzip":
                data = gzip.decompress(data)
        except Exception as exc:  # noqa: BLE001 (every failure becomes the client's error)
            conn.close()
            err = _transport_error(exc)
            self._log_request(
                method=method, target=target, headers=request_headers, body=body, exception=err
            )
            raise err from exc
        if response.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        meta = ApiResponseMeta(
            node=self.config,
            duration=time.time() - start,
            http_version="1.1",
            status=response.status,
            headers=HttpHeaders(response.getheaders()),
        )
        self._log_request(
            method=method,
            target=target,
            headers=request_headers,
            body=body,
            meta=meta,
            response=data,
        )
        return NodeApiResponse(meta, data)

    def close(self) -> None:
        with self._lock:
            for conn in self._idle:
                conn.close()
            self._idle.clear()


def _transport_error(exc: Exception) -> Exception:
    if isinstance(exc, TimeoutError):
        return ConnectionTimeout("Connection timed out during request", errors=(exc,))
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return TlsError(str(exc), errors=(exc,))
    return ConnectionError(str(exc), errors=(exc,))
