"""Keep-alive connections the load never sends on after the server may have closed them.

A server closes an idle keep-alive connection once its timeout passes
(`catalogue.defaults.KEEPALIVE_S`: uvicorn's 5 s, in the gateway and vLLM). A close that
has already reached the client shows as a readable idle socket, and geventhttpclient's
pool drops such a socket before sending. A close that has not reached it cannot be seen:
a server that does not get the CPU when its timer falls due closes the connection late,
on top of a request already sent (measured: a server stalled from 4.8 s to 5.3 s after
its last response reset a request sent at 4.9 s). That request was never the target's
failure, yet it counted as a `connection` error. So a connection idle for longer than
`KEEPALIVE_REUSE_S` is closed and a new one opened before anything is sent: the only
retry that cannot send a request twice.
"""

from __future__ import annotations

import time
import weakref

from geventhttpclient.client import HTTPClientPool

from slakit.catalogue.defaults import KEEPALIVE_REUSE_S


class IdleLimit:
    """One host's connection pool, whose connections idle past KEEPALIVE_REUSE_S are closed
    when taken (geventhttpclient hands out the most recently returned first, so each
    stale one found is older than the last)."""

    def __init__(self, pool) -> None:
        self._pool = pool  # geventhttpclient's ConnectionPool or SSLConnectionPool
        self._returned: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.size = pool.size

    def get_socket(self):
        while True:
            sock = self._pool.get_socket()  # alive as far as the socket can tell
            returned = self._returned.pop(sock, None)
            if returned is None or time.monotonic() - returned <= KEEPALIVE_REUSE_S:
                return sock  # new, or idle briefly enough to be open at the server
            self._pool.release_socket(sock)

    def return_socket(self, sock) -> None:
        self._returned[sock] = time.monotonic()
        self._pool.return_socket(sock)

    def release_socket(self, sock) -> None:
        self._returned.pop(sock, None)
        self._pool.release_socket(sock)

    def close(self) -> None:
        self._pool.close()


class FreshClients(HTTPClientPool):
    """Locust's per-user client pool (one client per host), each client's connections
    behind an IdleLimit."""

    def get_client(self, url):
        client = super().get_client(url)
        if not isinstance(client._connection_pool, IdleLimit):
            client._connection_pool = IdleLimit(client._connection_pool)
        return client


def limit_idle_connections(session) -> None:
    """Give a FastHttpUser's session (before its first request) FreshClients, built with
    the arguments its own pool was given."""
    agent = session.client  # Locust's LocustUserAgent
    agent.clientpool = FreshClients(**agent.clientpool.client_args)
