"""Configured count queries: documents matching a query over the last `window`, as gauges.

For what Elasticsearch holds beside its stats, e.g. log lines by `log.level` over the last
minute (the ERROR-rate alert reads that one). Each query is counted at scrape time, so
Prometheus sees the count as of its scrape; `group_by` splits it by a keyword field's
values (a terms aggregation; a value seen in the index but not in the window counts 0).
A query that fails leaves the others served and sets `slakit_es_count_query_up` to 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from elasticsearch import Elasticsearch
from prometheus_client.core import GaugeMetricFamily, Metric

from slakit.catalogue import metrics as names
from slakit.exporters.common import SourceError
from slakit.exporters.elasticsearch.client import call
from slakit.exporters.elasticsearch.settings import CountQuery

GROUPS = 50  # at most this many values of `group_by` per query (a terms aggregation's size)


def time_range(field: str, since: float, until: float | None = None) -> dict[str, Any]:
    """A filter of `field` from `since` (to `until`), epoch seconds, to the millisecond
    (Elasticsearch's date math has no milliseconds)."""
    bounds: dict[str, Any] = {"gte": round(since * 1000), "format": "epoch_millis"}
    if until is not None:
        bounds["lte"] = round(until * 1000)
    return {"range": {field: bounds}}


def search(q: CountQuery) -> dict[str, Any]:
    """The search's fields: no hits, the count and, grouped, one bucket per value."""
    matching = {"query_string": {"query": q.query}} if isinstance(q.query, str) else q.query
    since = time_range(q.time_field, time.time() - q.window)
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": [since, matching]}},
    }
    if q.group_by:
        terms = {"field": q.group_by, "size": GROUPS, "min_doc_count": 0}
        body["aggs"] = {"groups": {"terms": terms}}
    return body


class CountQueries:
    """The configured queries as one `Source` (run by a `BoundedCollector`)."""

    def __init__(self, es: Elasticsearch, target: str, queries: list[CountQuery]) -> None:
        self.es = es
        self.target = target
        self.queries = queries

    def collect(self) -> Iterable[Metric]:
        query = names.COUNT_QUERY_LABEL
        hits = GaugeMetricFamily(
            names.ES_COUNT_QUERY_HITS,
            "Documents the count query matched over its window",
            labels=[query, "index", names.COUNT_GROUP_LABEL],
        )
        window = GaugeMetricFamily(
            names.ES_COUNT_QUERY_WINDOW, "The count query's window", labels=[query]
        )
        failures = []
        for q in self.queries:
            window.add_metric([q.name], q.window)
            try:
                body = call(
                    f"count query {q.name}", lambda q=q: self.es.search(index=q.index, **search(q))
                )
            except SourceError as exc:
                failures.append(exc)
                continue
            for group, count in _counts(q, body):
                hits.add_metric([q.name, q.index, group], count)
        if failures:
            detail = "; ".join(str(f) for f in failures)
            raise SourceError(failures[0].reason, detail, partial=[hits, window])
        return [hits, window]


def _counts(q: CountQuery, body: dict) -> list[tuple[str, float]]:
    """(group, count) pairs of a search's answer; group "" for an ungrouped query."""
    if not q.group_by:
        total = body.get("hits", {}).get("total", {})
        return [("", float(total.get("value", 0)))]
    buckets = body.get("aggregations", {}).get("groups", {}).get("buckets", [])
    return [(str(b["key"]), float(b["doc_count"])) for b in buckets]
