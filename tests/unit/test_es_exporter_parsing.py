"""The Elasticsearch exporter's parsers, config and secret handling, without Elasticsearch.

The fixtures are trimmed by hand from what the embedded Elasticsearch 8.19.7 answers
(`_cluster/health`, `_nodes/stats`, `_stats?level=shards`, `_cat/shards`, `_resolve/index`;
`GET /` as documented, since this build refuses it). The property-based tests feed the parsers
arbitrary JSON, and the fixtures with arbitrary JSON grafted in anywhere: no exception may
escape, and whatever comes out must render. The secret tests run the exporter's collection
and probes against a real local HTTP server that answers 401 and echoes the Authorization
header back, as a careless proxy might.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from slakit.errors import InputError
from slakit.exporters import elasticsearch as es
from slakit.exporters.elasticsearch.exposition import generate
from tests.servers import REPO

HEALTH = {
    "cluster_name": "slakit",
    "status": "yellow",
    "timed_out": False,
    "number_of_nodes": 1,
    "number_of_data_nodes": 1,
    "active_primary_shards": 2,
    "active_shards": 2,
    "relocating_shards": 0,
    "initializing_shards": 0,
    "unassigned_shards": 1,
    "unassigned_primary_shards": 0,
    "delayed_unassigned_shards": 0,
    "number_of_pending_tasks": 0,
    "number_of_in_flight_fetch": 0,
    "task_max_waiting_in_queue_millis": 0,
    "active_shards_percent_as_number": 66.66666666666666,
}

NODE = {
    "timestamp": 1795315390252,
    "name": "slakit-node-1",
    "transport_address": "127.0.0.1:39300",
    "host": "127.0.0.1",
    "ip": "127.0.0.1:39300",
    "roles": ["data", "data_content", "ingest", "master", "ml", "remote_cluster_client"],
    "attributes": {"xpack.installed": "true"},
    "indices": {
        "docs": {"count": 3000, "deleted": 4, "total_size_in_bytes": 1214396},
        "store": {"size_in_bytes": 1214623, "reserved_in_bytes": 0},
        "indexing": {
            "index_total": 3000,
            "index_time_in_millis": 491,
            "index_current": 0,
            "delete_total": 4,
            "delete_time_in_millis": 3,
            "is_throttled": False,
            "throttle_time_in_millis": 0,
        },
        "get": {"total": 7, "time_in_millis": 12, "exists_total": 6, "missing_total": 1},
        "search": {
            "query_total": 120,
            "query_time_in_millis": 1530,
            "query_current": 0,
            "fetch_total": 118,
            "fetch_time_in_millis": 41,
        },
        "query_cache": {"memory_size_in_bytes": 0, "hit_count": 5, "miss_count": 11},
        "request_cache": {"memory_size_in_bytes": 592, "hit_count": 0, "miss_count": 1},
        "segments": {"count": 3, "memory_in_bytes": 0},
    },
    "os": {
        "cpu": {"percent": 47, "load_average": {"1m": 1.1, "5m": 1.08, "15m": 1.02}},
        "mem": {"free_in_bytes": 13604507648, "used_in_bytes": 11671556096},
    },
    "process": {
        "open_file_descriptors": 148,
        "max_file_descriptors": 20000,
        "cpu": {"percent": 0, "total_in_millis": 12630},
        "mem": {"total_virtual_in_bytes": 3279368192},
    },
    "jvm": {
        "uptime_in_millis": 86428,
        "mem": {
            "heap_used_in_bytes": 273328080,
            "heap_committed_in_bytes": 536870912,
            "heap_max_in_bytes": 536870912,
            "non_heap_used_in_bytes": 121146600,
            "non_heap_committed_in_bytes": 123469824,
            "pools": {
                "young": {"used_in_bytes": 247463936, "max_in_bytes": 0},
                "old": {"used_in_bytes": 5325312, "max_in_bytes": 536870912},
                "Metaspace": {"used_in_bytes": 91250912, "max_in_bytes": 0},
            },
        },
        "gc": {
            "collectors": {
                "young": {"collection_count": 9, "collection_time_in_millis": 70},
                "old": {"collection_count": 0, "collection_time_in_millis": 0},
            }
        },
        "buffer_pools": {"direct": {"count": 17, "used_in_bytes": 2323668}},
    },
    "thread_pool": {
        "search": {
            "threads": 3,
            "queue": 2,
            "active": 1,
            "rejected": 5,
            "largest": 3,
            "completed": 118,
        },
        "write": {
            "threads": 2,
            "queue": 0,
            "active": 0,
            "rejected": 0,
            "largest": 2,
            "completed": 6,
        },
    },
    "fs": {
        "data": [
            {
                "path": "/var/lib/slakit/stacks/fea45c39e6/data",
                "mount": "/ (/dev/vda)",
                "type": "ext4",
                "total_in_bytes": 270553174016,
                "free_in_bytes": 236973236224,
                "available_in_bytes": 64213356544,
            }
        ],
        "io_stats": {
            "devices": [
                {
                    "device_name": "vda",
                    "operations": 9489,
                    "read_operations": 3710,
                    "write_operations": 5779,
                    "read_kilobytes": 154644,
                    "write_kilobytes": 6185260,
                }
            ]
        },
    },
    "transport": {"rx_count": 0, "rx_size_in_bytes": 0, "tx_count": 0, "tx_size_in_bytes": 0},
    "http": {"current_open": 3},
    "breakers": {
        "parent": {
            "limit_size_in_bytes": 510027366,
            "estimated_size_in_bytes": 273328080,
            "overhead": 1.0,
            "tripped": 2,
        },
        "fielddata": {
            "limit_size_in_bytes": 214748364,
            "estimated_size_in_bytes": 0,
            "overhead": 1.03,
            "tripped": 0,
        },
    },
}
NODES = {
    "_nodes": {"total": 1, "successful": 1},
    "cluster_name": "slakit",
    "nodes": {"q1Xa8cRQTSyHk0B4S3n2vA": NODE},
}

INDEX_PART = {
    "docs": {"count": 3000, "deleted": 0},
    "store": {"size_in_bytes": 1214623},
    "indexing": {"index_total": 3000, "index_time_in_millis": 491, "index_current": 0},
    "search": {"query_total": 120, "query_time_in_millis": 1530, "query_current": 1},
    "segments": {"count": 1, "stored_fields_memory_in_bytes": 0},
    "merges": {"total_auto_throttle_in_bytes": 20971520},
}
NODE_ID = "3Zt9JP6MQHKEOZFmiFs8IQ"
SHARD_COPY = {
    "routing": {"state": "STARTED", "primary": True, "node": NODE_ID, "relocating_node": None},
    "docs": {"count": 1545, "deleted": 12, "total_size_in_bytes": 72057},
    "store": {"size_in_bytes": 72396, "total_data_set_size_in_bytes": 72396},
}
STATS = {
    "_shards": {"total": 1, "successful": 1, "failed": 0},
    "indices": {
        "slakit-corpus": {
            "uuid": "3mQ1rI2nQ5uJ1m7e2V0f9A",
            "primaries": INDEX_PART,
            "total": {**INDEX_PART, "docs": {"count": 6000, "deleted": 0}},
            "shards": {
                "0": [SHARD_COPY],
                "1": [{**SHARD_COPY, "routing": {**SHARD_COPY["routing"], "primary": False}}],
            },
        }
    },
}
# `_cat/shards?format=json&h=node`: a replica the single node cannot place has no node.
CAT_SHARDS = [{"node": "slakit-node-1"}, {"node": None}, {"node": "slakit-node-1"}]
RESOLVED = {
    "indices": [
        {"name": "mix-00", "aliases": ["mix-all", "mix-write"], "attributes": ["open"]},
        {"name": "mix-closed", "aliases": ["mix-archive"], "attributes": ["closed"]},
        {"name": "no-alias", "attributes": ["hidden", "open"]},
    ],
    "aliases": [{"name": "mix-all", "indices": ["mix-00"]}],
    "data_streams": [],
}
# `GET /` as Elasticsearch documents it: the embedded build has no `rest-root` module and
# answers 405, so this one is not recorded.
INFO = {
    "name": "slakit-node-1",
    "cluster_name": "slakit",
    "cluster_uuid": "pV2Yw5VBQSKkQ1n7SVxpAw",
    "version": {
        "number": "8.19.7",
        "build_flavor": "default",
        "build_type": "tar",
        "build_hash": "198d86868932741b4e0d184425510217febc27d1",
        "build_date": "2025-11-04T12:21:01.936386922Z",
        "build_snapshot": False,
        "lucene_version": "9.12.2",
    },
    "tagline": "You Know, for Search",
}

NODE_LABELS = {
    "cluster": "slakit",
    "host": "127.0.0.1",
    "name": "slakit-node-1",
    "es_master_node": "true",
    "es_data_node": "true",
    "es_ingest_node": "true",
    "es_client_node": "true",
}


def _registry(families: list[Metric]) -> CollectorRegistry:
    """A registry serving `families`, to render them as a scrape would."""

    class Fixed:
        def collect(self):
            return families

    registry = CollectorRegistry()
    registry.register(Fixed())
    return registry


def samples(families: list[Metric]) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value of every sample."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in families
        for s in family.samples
    }


def value(families: list[Metric], name: str, /, **labels: str) -> float:
    return samples(families)[(name, frozenset(labels.items()))]


def types(families: list[Metric]) -> dict[str, str]:
    return {family.name: family.type for family in families}


# --- recorded shapes -------------------------------------------------------------------


def test_cluster_health_gauges_and_status_colours() -> None:
    got = es.parse_cluster_health(HEALTH)
    cluster = {"cluster": "slakit"}
    assert value(got, "elasticsearch_cluster_health_number_of_nodes", **cluster) == 1
    assert value(got, "elasticsearch_cluster_health_active_shards", **cluster) == 2
    assert value(got, "elasticsearch_cluster_health_unassigned_shards", **cluster) == 1
    status = {
        color: value(got, "elasticsearch_cluster_health_status", cluster="slakit", color=color)
        for color in ("green", "yellow", "red")
    }
    assert status == {"green": 0, "yellow": 1, "red": 0}
    assert set(types(got).values()) == {"gauge"}
    # Fields the community exporter does not export are not exported either.
    assert not any("percent" in family.name for family in got)


def test_node_stats_names_labels_and_units() -> None:
    got = es.parse_nodes_stats(NODES)
    heap = value(got, "elasticsearch_jvm_memory_used_bytes", **NODE_LABELS, area="heap")
    assert heap == 273328080
    assert value(got, "elasticsearch_jvm_memory_max_bytes", **NODE_LABELS, area="heap") == 536870912
    assert value(got, "elasticsearch_jvm_memory_pool_used_bytes", **NODE_LABELS, pool="old") == (
        5325312
    )
    # Milliseconds become seconds, counts stay counts.
    gc = {**NODE_LABELS, "gc": "young"}
    assert value(got, "elasticsearch_jvm_gc_collection_seconds_sum", **gc) == 0.07
    assert value(got, "elasticsearch_jvm_gc_collection_seconds_count", **gc) == 9
    assert value(got, "elasticsearch_indices_search_query_time_seconds", **NODE_LABELS) == 1.53
    assert value(got, "elasticsearch_indices_indexing_index_total", **NODE_LABELS) == 3000
    assert value(got, "elasticsearch_process_cpu_seconds_total", **NODE_LABELS) == 12.63
    assert value(got, "elasticsearch_jvm_uptime_seconds", **NODE_LABELS, type="mapped") == 86.428
    search = {**NODE_LABELS, "type": "search"}
    assert value(got, "elasticsearch_thread_pool_rejected_count", **search) == 5
    assert value(got, "elasticsearch_thread_pool_queue_count", **search) == 2
    parent = {**NODE_LABELS, "breaker": "parent"}
    assert value(got, "elasticsearch_breakers_tripped", **parent) == 2
    where = {
        **NODE_LABELS,
        "mount": "/ (/dev/vda)",
        "path": "/var/lib/slakit/stacks/fea45c39e6/data",
    }
    assert value(got, "elasticsearch_filesystem_data_free_bytes", **where) == 236973236224
    assert value(got, "elasticsearch_process_open_files_count", **NODE_LABELS) == 148
    assert value(got, "elasticsearch_os_load1", **NODE_LABELS) == 1.1
    assert value(got, "elasticsearch_indices_indexing_is_throttled", **NODE_LABELS) == 0
    assert value(got, "elasticsearch_indices_query_cache_count", **NODE_LABELS, cache="hit") == 5
    assert value(got, "elasticsearch_indices_query_miss_count", **NODE_LABELS, cache="miss") == 11
    roles = {k: NODE_LABELS[k] for k in ("cluster", "host", "name")}
    assert {
        role
        for role in ("client", "master", "data", "ingest", "ml")
        if (
            ("elasticsearch_nodes_roles", frozenset({**roles, "role": role}.items()))
            in samples(got)
        )
    } == {"client", "master", "data", "ingest"}


def test_counters_are_counters_under_the_community_exporters_names() -> None:
    """As client_golang writes them: `# TYPE <name> counter` and samples called `<name>`,
    with or without `_total` (prometheus_client's own encoder can only type a counter
    named `..._total`)."""
    got = types(es.parse_nodes_stats(NODES))
    assert got["elasticsearch_indices_indexing_index"] == "counter"  # ..._index_total
    assert got["elasticsearch_thread_pool_rejected_count"] == "counter"
    assert got["elasticsearch_jvm_gc_collection_seconds_count"] == "counter"
    assert got["elasticsearch_jvm_memory_used_bytes"] == "gauge"
    text = generate(_registry(es.parse_nodes_stats(NODES))).decode()
    assert "\nelasticsearch_indices_indexing_index_total{" in text
    assert "# TYPE elasticsearch_indices_indexing_index_total counter\n" in text
    assert "# TYPE elasticsearch_thread_pool_rejected_count counter\n" in text
    assert "\nelasticsearch_thread_pool_rejected_count{" in text
    assert "_count_total" not in text
    assert "untyped" not in text


def test_roles_from_the_roles_list_attributes_and_http() -> None:
    """As the community exporter decides them: `data_hot` is not `data`; pre-5.x nodes
    declare roles as attributes; a node without HTTP is not a client node."""
    hot = {**NODE, "name": "hot", "roles": ["data_hot", "master"], "http": {}}
    legacy = {**NODE, "name": "legacy", "roles": [], "attributes": {"master": "false", "data": "x"}}
    got = es.parse_nodes_stats({"cluster_name": "c", "nodes": {"a": hot, "b": legacy}})
    flags = {
        labels["name"]: {k: v for k, v in labels.items() if k.startswith("es_")}
        for name, labels in map(lambda key: (key[0], dict(key[1])), samples(got))
        if name == "elasticsearch_process_open_files_count"
    }
    assert flags == {
        "hot": {
            "es_master_node": "true",
            "es_data_node": "false",
            "es_ingest_node": "false",
            "es_client_node": "false",
        },
        "legacy": {
            "es_master_node": "false",
            "es_data_node": "true",
            "es_ingest_node": "false",
            "es_client_node": "true",
        },
    }
    roles = {
        (dict(labels)["name"], dict(labels)["role"])
        for name, labels in samples(got)
        if name == "elasticsearch_nodes_roles"
    }
    assert roles == {("hot", "master"), ("legacy", "data"), ("legacy", "client")}


def test_index_stats_primaries_totals_and_cluster_label() -> None:
    got = es.parse_indices_stats(STATS, cluster="slakit")
    labels = {"cluster": "slakit", "index": "slakit-corpus"}
    assert value(got, "elasticsearch_indices_docs_primary", **labels) == 3000
    assert value(got, "elasticsearch_indices_docs_total", **labels) == 6000
    assert value(got, "elasticsearch_indices_store_size_bytes_primary", **labels) == 1214623
    assert value(got, "elasticsearch_index_stats_search_query_total", **labels) == 120
    assert value(got, "elasticsearch_index_stats_search_query_time_seconds_total", **labels) == 1.53
    assert value(got, "elasticsearch_search_active_queries", **labels) == 1
    assert value(got, "elasticsearch_index_stats_merge_auto_throttle_bytes_total", **labels) == (
        20971520
    )
    # Without a cluster name, the community exporter's placeholder.
    fallback = es.parse_indices_stats(STATS)
    assert (
        value(
            fallback,
            "elasticsearch_indices_docs_primary",
            cluster="unknown_cluster",
            index="slakit-corpus",
        )
        == 3000
    )


def test_shard_copies_labelled_by_shard_node_and_primary() -> None:
    got = es.parse_indices_stats(STATS, cluster="slakit")
    copy_of = {"cluster": "slakit", "index": "slakit-corpus", "node": NODE_ID}
    primary = {**copy_of, "shard": "0", "primary": "true"}
    replica = {**copy_of, "shard": "1", "primary": "false"}
    for where in (primary, replica):
        assert value(got, "elasticsearch_indices_shards_docs", **where) == 1545
        assert value(got, "elasticsearch_indices_shards_docs_deleted", **where) == 12
        assert value(got, "elasticsearch_indices_shards_store_size_in_bytes", **where) == 72396
    shard_samples = [k for k in samples(got) if k[0].startswith("elasticsearch_indices_shards_")]
    assert len(shard_samples) == 6


def test_node_shards_count_unassigned_under_no_node() -> None:
    got = es.parse_cat_shards(CAT_SHARDS)
    assert samples(got) == {
        ("elasticsearch_node_shards_total", frozenset({"node": "slakit-node-1"}.items())): 2,
        ("elasticsearch_node_shards_total", frozenset({"node": ""}.items())): 1,
    }
    assert types(got) == {"elasticsearch_node_shards_total": "gauge"}


def test_aliases_and_index_state_from_resolved_indices() -> None:
    got = samples(es.parse_resolved_indices(RESOLVED, "slakit"))
    aliases = {
        (labels["index"], labels["alias"])
        for name, labels in ((n, dict(lab)) for n, lab in got)
        if name == "elasticsearch_indices_aliases"
    }
    assert aliases == {
        ("mix-00", "mix-all"),
        ("mix-00", "mix-write"),
        ("mix-closed", "mix-archive"),
    }
    state = {
        (labels["index"], labels["state"]): v
        for (name, lab), v in got.items()
        if name == "slakit_es_index_state" and (labels := dict(lab))["cluster"] == "slakit"
    }
    assert state == {
        ("mix-00", "open"): 1,
        ("mix-00", "closed"): 0,
        ("mix-closed", "open"): 0,
        ("mix-closed", "closed"): 1,
        ("no-alias", "open"): 1,
        ("no-alias", "closed"): 0,
    }


def test_version_labels_from_get_root() -> None:
    assert es.version_labels(INFO) == (
        "slakit",
        "pV2Yw5VBQSKkQ1n7SVxpAw",
        "2025-11-04T12:21:01.936386922Z",
        "198d86868932741b4e0d184425510217febc27d1",
        "8.19.7",
        "9.12.2",
    )
    # What the embedded build answers: no version, so none is reported.
    refused = {"error": "Incorrect HTTP method for uri [/] and method [GET]", "status": 405}
    assert es.version_labels(refused) is None


def test_missing_and_mistyped_values_are_skipped_alone() -> None:
    node = copy.deepcopy(NODE)
    node["jvm"]["mem"]["heap_used_in_bytes"] = "273328080"  # a string: skipped
    node["process"]["open_file_descriptors"] = True  # a boolean is not a count
    node["indices"]["indexing"]["is_throttled"] = 0  # a number is not a boolean
    node["os"]["cpu"] = ["not", "an", "object"]
    node["thread_pool"]["search"] = None
    node["fs"]["data"] = {"not": "a list"}
    node["jvm"]["gc"]["collectors"]["young"]["collection_count"] = 10**400  # beyond float
    got = samples(es.parse_nodes_stats({"cluster_name": "slakit", "nodes": {"n": node}}))
    names = {name for name, _ in got}
    for gone in (
        "elasticsearch_process_open_files_count",
        "elasticsearch_indices_indexing_is_throttled",
        "elasticsearch_os_load1",
        "elasticsearch_filesystem_data_free_bytes",
    ):
        assert gone not in names
    heap = frozenset({**NODE_LABELS, "area": "heap"}.items())
    assert ("elasticsearch_jvm_memory_used_bytes", heap) not in got
    assert ("elasticsearch_jvm_memory_max_bytes", heap) in got
    young = frozenset({**NODE_LABELS, "gc": "young"}.items())
    assert ("elasticsearch_jvm_gc_collection_seconds_count", young) not in got
    assert ("elasticsearch_jvm_gc_collection_seconds_sum", young) in got
    assert not any(dict(labels).get("type") == "search" for _, labels in got)
    assert ("elasticsearch_process_max_files_descriptors", frozenset(NODE_LABELS.items())) in got


# --- arbitrary JSON --------------------------------------------------------------------


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


# Real keys as well as arbitrary text, so generated objects reach the deep code paths.
KEYS = st.sampled_from(sorted(_keys([HEALTH, NODES, STATS, RESOLVED, INFO]))) | st.text(max_size=8)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=40,
)


@st.composite
def grafted(draw: st.DrawFn, base: Any) -> Any:
    """`base` with arbitrary JSON put in place of a few of its values, at any depth."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        parent, key, node = None, None, data
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        if parent is not None:
            parent[key] = draw(JSON)
    return data


def _parses_and_renders(parse, data: Any) -> None:
    families = parse(data)
    assert all(isinstance(f, Metric) for f in families)
    assert len({f.name for f in families}) == len(families)  # one family per name
    registry = _registry(families)
    generate_latest(registry)
    generate_openmetrics(registry)
    generate(registry)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(JSON)
def test_cluster_health_survives_any_json(data: Any) -> None:
    _parses_and_renders(es.parse_cluster_health, data)


@FUZZ
@given(JSON)
def test_nodes_stats_survives_any_json(data: Any) -> None:
    _parses_and_renders(es.parse_nodes_stats, data)


@FUZZ
@given(JSON)
def test_indices_stats_survives_any_json(data: Any) -> None:
    _parses_and_renders(es.parse_indices_stats, data)


@FUZZ
@given(grafted(HEALTH))
def test_cluster_health_survives_grafted_json(data: Any) -> None:
    _parses_and_renders(es.parse_cluster_health, data)


@FUZZ
@given(grafted(NODES))
def test_nodes_stats_survives_grafted_json(data: Any) -> None:
    _parses_and_renders(es.parse_nodes_stats, data)


@FUZZ
@given(grafted(STATS), st.text(max_size=8))
def test_indices_stats_survives_grafted_json(data: Any, cluster: str) -> None:
    _parses_and_renders(lambda d: es.parse_indices_stats(d, cluster), data)


@FUZZ
@given(JSON)
def test_cat_shards_survive_any_json(data: Any) -> None:
    _parses_and_renders(es.parse_cat_shards, data)


@FUZZ
@given(JSON | grafted(RESOLVED), st.text(max_size=8))
def test_resolved_indices_survive_any_json(data: Any, cluster: str) -> None:
    _parses_and_renders(lambda d: es.parse_resolved_indices(d, cluster), data)


@FUZZ
@given(JSON | grafted(INFO))
def test_version_labels_survive_any_json(data: Any) -> None:
    got = es.version_labels(data)
    assert got is None or (len(got) == 6 and all(isinstance(v, str) for v in got))


def test_lone_surrogates_from_json_escapes_still_render() -> None:
    """`json.loads` turns "\\ud800" into a lone surrogate, which UTF-8 cannot encode."""
    data = json.loads('{"cluster_name": "\\ud800", "status": "green", "number_of_nodes": 1}')
    _parses_and_renders(es.parse_cluster_health, data)


# --- config and secrets ----------------------------------------------------------------

PASSWORD = "s3cret-Pa55word-7f1c"
API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw-9d2e"


def test_yaml_config_keeps_secrets_out_of_repr(tmp_path: Path) -> None:
    path = tmp_path / "es-exporter.yaml"
    path.write_text(f"url: https://es.example:9200\nusername: slakit\npassword: {PASSWORD}\n")
    cfg = es.load_config(path, port=19999)
    assert cfg.password is not None and cfg.password.get_secret_value() == PASSWORD
    assert cfg.port == 19999
    for shown in (repr(cfg), str(cfg), cfg.model_dump_json()):
        assert PASSWORD not in shown


def test_config_problems_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "es-exporter.yaml"
    path.write_text(f"url: http://elastic:{PASSWORD}@es.example:9200\ntimeout_s: -1\n")
    with pytest.raises(InputError) as caught:
        es.load_config(path)
    problems = "\n".join(caught.value.problems)
    assert f"{path}:1: url: " in problems and "not in the URL" in problems
    assert f"{path}:2: timeout_s: " in problems
    assert PASSWORD not in problems
    with pytest.raises(InputError, match="command line: port"):
        es.load_config(None, port=0)


def test_secrets_from_the_environment_stay_hidden() -> None:
    """Environment variables (systemd EnvironmentFile, Kubernetes Secret) in a child
    process, where the test's own environment stays untouched."""
    code = (
        "from slakit.exporters.elasticsearch import load_config\n"
        "cfg = load_config(None)\n"
        "print(cfg)\n"
        f"print(cfg.api_key.get_secret_value() == {API_KEY!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "SLAKIT_ES_EXPORTER_API_KEY": API_KEY},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True"
    assert API_KEY not in result.stdout + result.stderr


class _EchoAuth(BaseHTTPRequestHandler):
    """Answers 401 with the request's Authorization header in the body, as some proxies do."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {
                "error": {
                    "type": "security_exception",
                    "reason": self.headers.get("Authorization"),
                },
                "status": 401,
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("WWW-Authenticate", 'Basic realm="security"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, fmt: str, *args: object) -> None:
        pass


@contextmanager
def echo_auth_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoAuth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("credential", ["basic", "api_key"])
def test_secrets_never_reach_metrics_or_logs(
    credential: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything: slakit's and the client's own loggers
    with echo_auth_server() as url:
        if credential == "basic":
            fields: dict[str, Any] = {"username": "slakit", "password": PASSWORD}
            header = base64.b64encode(f"slakit:{PASSWORD}".encode()).decode()
            secrets = [PASSWORD, header]
        else:
            fields = {"api_key": API_KEY}
            secrets = [API_KEY]
        cfg = es.EsExporterConfig(url=url, freshness_index="slakit-corpus", **fields)
        registry, prober = es.build_registry(cfg)
        prober.run_once()
        texts = [generate_latest(registry).decode() for _ in range(2)]
    assert 'reason="http_401"' in texts[-1]  # the failure is counted, by reason only
    assert (
        'slakit_es_canary_failures_total{index="slakit-corpus",reason="http_401"} 1.0'
        in (texts[-1])
    )
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "http_401" in logged
    for secret in secrets:
        assert all(secret not in text for text in texts)
        assert secret not in logged
