"""`GET /` every `clusterinfo_interval_s`, as the community exporter's cluster info
retriever: its `elasticsearch_clusterinfo_*` families and `elasticsearch_version`.

Refreshed by the prober thread, not at scrape time: the version changes only on an upgrade.
Until `GET /` has answered (an Elasticsearch without the `rest-root` module, like the
embedded one, answers 405) there is no version to report, so none is: the community
exporter reports version "0.0.0" with empty labels then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from elasticsearch import Elasticsearch
from prometheus_client.core import Metric

from slakit.exporters.common import SourceError
from slakit.exporters.elasticsearch.client import call
from slakit.exporters.elasticsearch.families import (
    CLUSTERINFO_FAILURE_TS,
    CLUSTERINFO_SUCCESS_TS,
    CLUSTERINFO_UP,
    CLUSTERINFO_VERSION,
    VERSION,
    VERSION_LABELS,
)
from slakit.exporters.elasticsearch.parsers import Families, version_labels


class ClusterInfo:
    """The last `GET /`: whether it answered, when it last did and failed, the version."""

    def __init__(self, es: Elasticsearch, url: str, interval_s: float) -> None:
        self.es = es
        self.url = url
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._up: float | None = None  # None until the first retrieval
        self._success_ts: float | None = None
        self._failure_ts: float | None = None
        self._version: tuple[str, ...] | None = None
        self._due = 0.0  # monotonic time of the next retrieval

    def refresh_if_due(self) -> None:
        """Retrieve `GET /` if `interval_s` has passed since the last retrieval."""
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.interval_s
        try:
            labels = version_labels(call("cluster info", self.es.info))
        except SourceError:
            labels = None
        with self._lock:
            if labels is None:
                self._up, self._failure_ts = 0.0, float(int(time.time()))
            else:
                self._up, self._success_ts, self._version = 1.0, float(int(time.time())), labels

    def collect(self) -> Iterable[Metric]:
        out = Families()
        where = {"url": self.url}
        with self._lock:
            if self._up is not None:
                out.add(*CLUSTERINFO_UP, where, self._up)
            out.add(*CLUSTERINFO_SUCCESS_TS, where, self._success_ts)
            out.add(*CLUSTERINFO_FAILURE_TS, where, self._failure_ts)
            if self._version is not None:
                labels = dict(zip(VERSION_LABELS, self._version, strict=True))
                out.add(*CLUSTERINFO_VERSION, labels, 1.0)
                out.add(*VERSION, labels, 1.0)
        return out.families()

    def describe(self) -> Iterable[Metric]:
        return []
