"""Elasticsearch exporter: cluster, node, index and shard stats under the community
exporter's names, plus what a RAG stack's SLA needs on top: a timed canary search, index
freshness and index state (a closed index has no stats, so it shows nowhere else).

Dashboards and alerts written for prometheus-community's elasticsearch_exporter (1.5) keep
working: the families both exporters serve have the same names, types, label sets and
values (the integration test scrapes both side by side). `families` and `index_families`
hold them as data, `parsers` turns Elasticsearch's JSON into them, `sections` fetches at
scrape time (bounded by `timeout_s`), `prober` runs the canary and freshness queries and
`cluster_info`'s `GET /` in the background, `count_queries` counts what the config asks
(log lines by level, say) at scrape time, `exposition` writes the text format.

    python -m slakit.exporters.elasticsearch --config es-exporter.yaml
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, disable_created_metrics

from slakit.catalogue import metrics as names
from slakit.exporters.common import BoundedCollector
from slakit.exporters.elasticsearch.client import make_client
from slakit.exporters.elasticsearch.cluster_info import ClusterInfo
from slakit.exporters.elasticsearch.count_queries import CountQueries
from slakit.exporters.elasticsearch.exposition import make_app
from slakit.exporters.elasticsearch.families import PREFIX
from slakit.exporters.elasticsearch.parsers import (
    parse_cat_shards,
    parse_cluster_health,
    parse_indices_stats,
    parse_nodes_stats,
    parse_resolved_indices,
    version_labels,
)
from slakit.exporters.elasticsearch.prober import Prober
from slakit.exporters.elasticsearch.sections import EsSource
from slakit.exporters.elasticsearch.settings import DEFAULT_PORT, EsExporterConfig, load_config
from slakit.exporters.entry import Exporter
from slakit.exporters.entry import main as run

__all__ = [
    "DEFAULT_PORT",
    "EsExporterConfig",
    "Prober",
    "build_registry",
    "load_config",
    "main",
    "parse_cat_shards",
    "parse_cluster_health",
    "parse_indices_stats",
    "parse_nodes_stats",
    "parse_resolved_indices",
    "version_labels",
]


def build_registry(cfg: EsExporterConfig) -> tuple[CollectorRegistry, Prober]:
    """The registry a scrape reads (stats + `slakit_es_up` and friends) and the prober that
    feeds its canary, freshness and cluster info metrics (not started)."""
    es = make_client(cfg)
    registry = CollectorRegistry()
    # A little over the client's own timeout, so a hung request surfaces as the client's
    # `timeout` (freeing the worker) and this bound is only the backstop.
    registry.register(BoundedCollector(PREFIX, EsSource(es, cfg.url), cfg.timeout_s + 0.5))
    if cfg.count_queries:
        counts = CountQueries(es, cfg.url, cfg.count_queries)
        bound = cfg.timeout_s * len(cfg.count_queries) + 0.5  # they run one after the other
        registry.register(BoundedCollector(names.COUNT_QUERY_COLLECTOR, counts, bound))
    cluster_info = ClusterInfo(es, cfg.url, cfg.clusterinfo_interval_s)
    registry.register(cluster_info)
    return registry, Prober(es, cfg, registry, cluster_info)


def _setup() -> None:
    # The client logs every request at INFO and every failure at WARNING; the exporter
    # already logs each failed collection once, with its reason.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    disable_created_metrics()  # `_created` samples are noise in the text format Prometheus reads


EXPORTER = Exporter(
    module=__name__,
    about="Serve Elasticsearch metrics (community exporter names) plus a canary search and "
    "index freshness on /metrics.",
    settings=EsExporterConfig,
    build=build_registry,
    started=lambda cfg: (
        f"exporting {cfg.url} (canary: {cfg.canary_query!r} on {cfg.canary_index} "
        f"every {cfg.canary_interval_s:g} s)"
    ),
    setup=_setup,
    metrics_app=make_app,
)


def main(argv: list[str] | None = None) -> int:
    """`python -m slakit.exporters.elasticsearch` and `slakit-es-exporter`."""
    return run(EXPORTER, argv)
