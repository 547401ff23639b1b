"""What every slakit exporter shares: bounded collection, health, and the HTTP server.

A `Source` gathers metric families from one target. `BoundedCollector` runs it at scrape
time in a worker thread with a timeout, so a scrape never hangs and never crashes the
process: whatever happens, the scrape answers with `<prefix>_up`, the collection's
duration and a cumulative count of errors by reason. Probers that must measure on their
own schedule (the canaries) are a `Background`: a thread body around `repeat`, whose
metrics are registered alongside and read from memory at scrape time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from socketserver import ThreadingMixIn
from typing import Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("slakit.exporters")


class SourceError(Exception):
    """A collection failure with a short, label-safe reason (e.g. `connection`, `http_500`,
    `bad_json`, `nvml_missing`). Never carries credentials."""

    def __init__(self, reason: str, detail: str = "", partial: Iterable[Metric] = ()) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.partial = list(partial)  # what the parts that did answer gave, still served


class Source(Protocol):
    """One target's metrics. `collect` may raise SourceError (whose `partial` families are
    still served); anything else is a bug that is counted as reason `unexpected` and
    logged, never raised into the scrape."""

    target: str

    def collect(self) -> Iterable[Metric]: ...


class Background(Protocol):
    """A prober's thread body: measure until `stop` is set, never raise."""

    def run(self, stop: threading.Event) -> None: ...


def repeat(stop: threading.Event, interval_s: float, step: Callable[[], None], what: str) -> None:
    """`step()`, then wait `interval_s`, until `stop` is set; a bug in one step is logged
    and the next one runs (a prober must outlive it)."""
    while not stop.is_set():
        try:
            step()
        except Exception:  # noqa: BLE001
            log.exception("%s failed unexpectedly", what)
        stop.wait(interval_s)


class BoundedCollector(Collector):
    """Collect `source` at scrape time, bounded by `timeout_s`."""

    def __init__(self, prefix: str, source: Source, timeout_s: float = 5.0) -> None:
        self.prefix = prefix
        self.source = source
        self.timeout_s = timeout_s
        self.errors: Counter[str] = Counter()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=prefix)
        self._lock = threading.Lock()

    def _gather(self) -> tuple[list[Metric], str | None, float]:
        start = time.perf_counter()
        future = self._pool.submit(lambda: list(self.source.collect()))
        try:
            return future.result(timeout=self.timeout_s), None, time.perf_counter() - start
        except FutureTimeout:
            reason = "timeout"
        except SourceError as exc:
            log.warning("%s: %s: %s", self.source.target, exc.reason, exc)
            return exc.partial, exc.reason, time.perf_counter() - start
        except Exception:  # noqa: BLE001 (a scrape must never crash the exporter)
            reason = "unexpected"
            log.exception("%s: unexpected error while collecting", self.source.target)
        return [], reason, time.perf_counter() - start

    def collect(self) -> Iterable[Metric]:
        families, reason, seconds = self._gather()
        with self._lock:
            if reason:
                self.errors[reason] += 1
            errors = dict(self.errors)
        yield from families
        yield from self.health(reason is None, seconds, errors)

    def health(self, up: bool, seconds: float, errors: dict[str, int]) -> Iterable[Metric]:
        p = self.prefix
        up_family = GaugeMetricFamily(
            f"{p}_up", "1 if the last collection succeeded", labels=["target"]
        )
        up_family.add_metric([self.source.target], 1.0 if up else 0.0)
        duration = GaugeMetricFamily(
            f"{p}_scrape_duration_seconds", "how long the last collection took", labels=["target"]
        )
        duration.add_metric([self.source.target], seconds)
        failures = CounterMetricFamily(
            f"{p}_scrape_errors", "failed collections by reason", labels=["target", "reason"]
        )
        for why, count in sorted(errors.items()):
            failures.add_metric([self.source.target, why], count)
        return [up_family, duration, failures]

    def describe(self) -> Iterable[Metric]:
        return []  # families are dynamic; no collection at registration time


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt: str, *args: object) -> None:
        log.debug("http: " + fmt, *args)


def serve(metrics: Callable, host: str, port: int) -> None:
    """Serve `/metrics` (the WSGI app `metrics`) and `/health` (liveness, for readiness
    probes) until stopped."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/health":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return metrics(environ, start_response)

    server = make_server(host, port, app, _ThreadingWSGIServer, handler_class=_QuietHandler)
    log.info("serving /metrics and /health on http://%s:%d", host, port)
    server.serve_forever()
