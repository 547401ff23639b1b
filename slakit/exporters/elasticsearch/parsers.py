"""Pure parsers: Elasticsearch's JSON of any shape in, metric families out, never an exception.

Whatever is missing or of the wrong type is skipped instead of failing the scrape; what is
there is exported under the community exporter's names and labels (`families`,
`index_families`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import Metric

from slakit.exporters.elasticsearch.families import (
    BREAKER_VALUES,
    BUFFER_POOLS,
    CACHE_COUNTS,
    COUNTER,
    FS_DATA_VALUES,
    FS_IO_VALUES,
    GAUGE,
    GC_VALUES,
    HEALTH_COLORS,
    HEALTH_GAUGES,
    HEALTH_PREFIX,
    HEALTH_STATUS,
    INDEX_ALIASES,
    INDEX_STATE,
    INDEX_STATES,
    INDEXING_THROTTLED,
    JVM_AREAS,
    JVM_BUFFER_POOL_USED,
    JVM_POOL_VALUES,
    JVM_POOLS,
    JVM_UPTIME,
    MS,
    NODE_ROLES,
    NODE_SHARDS_TOTAL,
    NODE_VALUES,
    ROLES,
    THREAD_POOL_VALUES,
    UNKNOWN_CLUSTER,
    KeyPath,
)
from slakit.exporters.elasticsearch.index_families import INDEX_SECTIONS, SHARD_VALUES


def number(obj: Any, path: KeyPath, divisor: float = 1) -> float | None:
    """The finite number at `path`, divided; None if anything on the way is missing or of
    the wrong type (booleans are not numbers here)."""
    return _finite(_at(obj, path), divisor)


def _at(obj: Any, path: KeyPath) -> Any:
    """What `path` leads to in JSON objects `obj`, or None if an object on the way is not."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _finite(obj: Any, divisor: float) -> float | None:
    # JSON numbers are exactly int or float (a boolean's type is bool): no isinstance.
    kind = type(obj)
    if kind is not int and kind is not float:
        return None
    try:
        value = obj / divisor
    except OverflowError:  # an integer beyond float range
        return None
    return value if math.isfinite(value) else None


def label_text(value: Any) -> str:
    """A label value: strings as they are (non-UTF-8-encodable characters replaced), and
    the empty string for anything else, as the community exporter's zero value."""
    if not isinstance(value, str):
        return ""
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def _dicts(value: Any) -> Iterator[tuple[str, dict]]:
    """(key, value) pairs of a JSON object whose values are objects."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                yield label_text(key), item


def _objects(value: Any) -> Iterator[dict]:
    """The objects of a JSON array."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


class Families:
    """Metric families by name, so every node's or index's samples share one family.

    Counters are counters under the community exporter's names: one named `..._total` is
    prometheus_client's family `...` with `_total` samples; one without the suffix
    (`elasticsearch_thread_pool_completed_count`) is a counter family whose samples carry
    its own name, which `exposition` types as client_golang does."""

    def __init__(self) -> None:
        self._by_name: dict[str, Metric] = {}

    def add(
        self, name: str, kind: str, doc: str, labels: dict[str, str], value: float | None
    ) -> None:
        if value is None:
            return
        family = self._by_name.get(name)
        if family is None:
            family = Metric(name.removesuffix("_total") if kind == COUNTER else name, doc, kind)
            self._by_name[name] = family
        family.add_sample(name, labels, value)

    def families(self) -> list[Metric]:
        return list(self._by_name.values())


def parse_cluster_health(data: Any) -> list[Metric]:
    """`GET _cluster/health` -> `elasticsearch_cluster_health_*{cluster}` gauges."""
    if not isinstance(data, dict):
        return []
    out = Families()
    labels = {"cluster": label_text(data.get("cluster_name"))}
    for key, doc in HEALTH_GAUGES:
        out.add(f"{HEALTH_PREFIX}{key}", GAUGE, doc, labels, number(data, (key,)))
    status = data.get("status")
    if isinstance(status, str):
        for color in HEALTH_COLORS:
            out.add(*HEALTH_STATUS, {**labels, "color": color}, 1.0 if status == color else 0.0)
    return out.families()


def _roles(node: dict) -> dict[str, bool]:
    """Which of ROLES (and `client`) a node has, decided as the community exporter does:
    from `roles` when the node lists any, else from `node.<role>` attributes (pre-5.x)."""
    roles = node.get("roles")
    listed = {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
    if listed:
        found = {role: role in listed for role in ROLES}
    else:
        attributes = node.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        found = {role: role in attributes and attributes[role] != "false" for role in ROLES}
    http = node.get("http")
    found["client"] = isinstance(http, dict) and bool(http)
    return found


def _bool(value: bool) -> str:
    return "true" if value else "false"


def parse_nodes_stats(data: Any) -> list[Metric]:
    """`GET _nodes/stats` -> per-node `elasticsearch_{os,jvm,process,indices,thread_pool,
    breakers,filesystem,transport}_*` families labelled like the community exporter's."""
    if not isinstance(data, dict):
        return []
    out = Families()
    cluster = label_text(data.get("cluster_name"))
    for _node_id, node in _dicts(data.get("nodes")):
        roles = _roles(node)
        who = {
            "cluster": cluster,
            "host": label_text(node.get("host")),
            "name": label_text(node.get("name")),
        }
        for role in ("client", *ROLES):
            if roles[role]:
                out.add(*NODE_ROLES, {**who, "role": role}, 1.0)
        labels = {
            **who,
            "es_master_node": _bool(roles["master"]),
            "es_data_node": _bool(roles["data"]),
            "es_ingest_node": _bool(roles["ingest"]),
            "es_client_node": _bool(roles["client"]),
        }
        _node_values(out, node, labels)
        _jvm(out, node.get("jvm"), labels)
        _keyed(out, node.get("thread_pool"), labels, "type", THREAD_POOL_VALUES)
        _keyed(out, node.get("breakers"), labels, "breaker", BREAKER_VALUES)
        _filesystem(out, node.get("fs"), labels)
    return out.families()


def _node_values(out: Families, node: dict, labels: dict[str, str]) -> None:
    for name, kind, doc, path, divisor in NODE_VALUES:
        out.add(name, kind, doc, labels, number(node, path, divisor))
    out.add(*INDEXING_THROTTLED, labels, _flag(node, ("indices", "indexing", "is_throttled")))
    for name, cache, section, key, doc in CACHE_COUNTS:
        out.add(
            name, COUNTER, doc, {**labels, "cache": cache}, number(node, ("indices", section, key))
        )


def _flag(obj: Any, path: KeyPath) -> float | None:
    """A JSON boolean at `path` as 1/0; None if missing or not a boolean."""
    obj = _at(obj, path)
    return float(obj) if isinstance(obj, bool) else None


def _jvm(out: Families, jvm: Any, labels: dict[str, str]) -> None:
    if not isinstance(jvm, dict):
        return
    # The community exporter labels uptime with type="mapped" (a copy-paste slip it ships
    # with); kept, so queries written against it match.
    out.add(*JVM_UPTIME, {**labels, "type": "mapped"}, number(jvm, ("uptime_in_millis",), MS))
    mem = jvm.get("mem")
    for name, kind, doc, key, area in JVM_AREAS:
        out.add(name, kind, doc, {**labels, "area": area}, number(mem, (key,)))
    pools = mem.get("pools") if isinstance(mem, dict) else None
    for pool in JVM_POOLS:
        for name, kind, doc, key in JVM_POOL_VALUES:
            out.add(name, kind, doc, {**labels, "pool": pool}, number(pools, (pool, key)))
    for pool in BUFFER_POOLS:
        used = number(jvm, ("buffer_pools", pool, "used_in_bytes"))
        out.add(*JVM_BUFFER_POOL_USED, {**labels, "type": pool}, used)
    gc = jvm.get("gc")
    for collector, stats in _dicts(gc.get("collectors") if isinstance(gc, dict) else None):
        for name, doc, key, divisor in GC_VALUES:
            out.add(name, COUNTER, doc, {**labels, "gc": collector}, number(stats, (key,), divisor))


def _keyed(
    out: Families,
    section: Any,
    labels: dict[str, str],
    label: str,
    values: tuple[tuple[str, str, str, str], ...],
) -> None:
    """Families of a section keyed by name (thread pools, breakers): one sample per key."""
    for key, stats in _dicts(section):
        for name, kind, doc, field in values:
            out.add(name, kind, doc, {**labels, label: key}, number(stats, (field,)))


def _filesystem(out: Families, fs: Any, labels: dict[str, str]) -> None:
    if not isinstance(fs, dict):
        return
    for data in _objects(fs.get("data")):
        where = {
            **labels,
            "mount": label_text(data.get("mount")),
            "path": label_text(data.get("path")),
        }
        for name, doc, key in FS_DATA_VALUES:
            out.add(name, GAUGE, doc, where, number(data, (key,)))
    io_stats = fs.get("io_stats")
    for device in _objects(io_stats.get("devices") if isinstance(io_stats, dict) else None):
        where = {**labels, "device": label_text(device.get("device_name"))}
        for name, doc, key in FS_IO_VALUES:
            out.add(name, COUNTER, doc, where, number(device, (key,)))


def parse_indices_stats(data: Any, cluster: str = UNKNOWN_CLUSTER) -> list[Metric]:
    """`GET _stats?level=shards` -> per-index `elasticsearch_indices_*` /
    `elasticsearch_index_stats_*` families labelled {index, cluster}, and per shard copy
    `elasticsearch_indices_shards_*` labelled {index, shard, node, primary, cluster}.
    `_stats` does not name the cluster: the caller passes the name `_cluster/health`
    reported."""
    if not isinstance(data, dict):
        return []
    out = Families()
    for index, stats in _dicts(data.get("indices")):
        labels = {"cluster": cluster, "index": index}
        for part, section, values in INDEX_SECTIONS:
            found = _section(stats, part, section)
            if found is None:
                continue
            for name, kind, doc, key, divisor in values:
                out.add(name, kind, doc, labels, _finite(found.get(key), divisor))
        _shards(out, stats.get("shards"), labels)
    return out.families()


def _section(stats: dict, part: str, path: KeyPath) -> dict | None:
    obj = _at(stats.get(part), path)
    return obj if isinstance(obj, dict) else None


def _shards(out: Families, shards: Any, labels: dict[str, str]) -> None:
    if not isinstance(shards, dict):
        return
    for shard, copies in shards.items():
        for copy in _objects(copies):
            routing = copy.get("routing")
            routing = routing if isinstance(routing, dict) else {}
            where = {
                **labels,
                "shard": label_text(shard),
                "node": label_text(routing.get("node")),
                "primary": _bool(routing.get("primary") is True),
            }
            for name, doc, path in SHARD_VALUES:
                out.add(name, GAUGE, doc, where, number(copy, path))


def parse_cat_shards(data: Any) -> list[Metric]:
    """`GET _cat/shards?format=json` -> `elasticsearch_node_shards_total{node}`: shards per
    node as the community exporter counts them, closed indices' included, and the
    unassigned ones under `node=""`."""
    counts: dict[str, int] = {}
    for shard in _objects(data):
        node = label_text(shard.get("node"))
        counts[node] = counts.get(node, 0) + 1
    out = Families()
    for node, count in counts.items():
        out.add(*NODE_SHARDS_TOTAL, {"node": node}, float(count))
    return out.families()


def parse_resolved_indices(data: Any, cluster: str = UNKNOWN_CLUSTER) -> list[Metric]:
    """`GET _resolve/index/*` -> `elasticsearch_indices_aliases{index, alias, cluster}` (as
    the community exporter reads `_alias`) and slakit's `index_state{cluster, index, state}`:
    the one place a closed index shows, since it has no stats."""
    out = Families()
    for index in _objects(data.get("indices") if isinstance(data, dict) else None):
        name = index.get("name")
        if not isinstance(name, str):
            continue
        labels = {"cluster": cluster, "index": label_text(name)}
        aliases = index.get("aliases")
        for alias in aliases if isinstance(aliases, list) else ():
            if isinstance(alias, str):
                out.add(*INDEX_ALIASES, {**labels, "alias": label_text(alias)}, 1.0)
        attributes = index.get("attributes")
        attributes = attributes if isinstance(attributes, list) else []
        state = next((s for s in INDEX_STATES if s in attributes), None)
        for each in INDEX_STATES if state else ():
            out.add(*INDEX_STATE, {**labels, "state": each}, 1.0 if each == state else 0.0)
    return out.families()


def version_labels(data: Any) -> tuple[str, ...] | None:
    """`GET /` -> the values of VERSION_LABELS, or None unless it names a version."""
    if not isinstance(data, dict):
        return None
    version = data.get("version")
    version = version if isinstance(version, dict) else {}
    if not isinstance(version.get("number"), str):
        return None
    return (
        label_text(data.get("cluster_name")),
        label_text(data.get("cluster_uuid")),
        label_text(version.get("build_date")),
        label_text(version.get("build_hash")),
        label_text(version.get("number")),
        label_text(version.get("lucene_version")),
    )
