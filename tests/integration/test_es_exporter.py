"""The Elasticsearch exporter against a real Elasticsearch 8.19.7 and, side by side, Debian's
prometheus-elasticsearch-exporter 1.5 (the community exporter whose names it keeps).

The module starts its own Elasticsearch on 27200/27300 (away from the test stack and a demo
stack) and builds the index mix of `tests/es_mix.py` on it: 17 indices, yellow (replicas a
single node cannot place), deleted documents, aliases and a closed index. slakit's exporter
is started *before* Elasticsearch, so the first scrape sees it down. Compatibility is checked
twice: live (the exporters scraped in turn, each reading between the other's readings around
it, so equal where nothing moved) and on a frozen snapshot (both read Elasticsearch through a
proxy that answers every stats request with the same recorded response, so every value must
be identical). The community exporter runs with `--es.all --es.indices --es.shards
--es.aliases`: every family it has for a cluster like this one.

Failures come from real local servers: a TCP server that accepts and never answers, and an
HTTP server that answers garbage JSON or 500 (to both exporters, whose own health of each
collector must then agree).
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from elasticsearch import Elasticsearch

from slakit.stack import elasticsearch, process
from slakit.stack.config import StackConfig
from tests.es_mix import ALIASES as MIX_ALIASES
from tests.es_mix import CLOSED, CORPUS, CORPUS_DOCS, Mix, build_mix
from tests.servers import HOST, REPO, answers, free_port, serve_module, stop

pytestmark = pytest.mark.integration

MODULE = "slakit.exporters.elasticsearch"
DEBIAN_EXPORTER = "/usr/bin/prometheus-elasticsearch-exporter"
ES_PORTS = {"port": 27200, "transport_port": 27300}
ENV = "SLAKIT_ES_EXPORTER_"

# Families the community exporter serves that slakit's does not, and why.
NOT_EXPORTED = {
    # The community exporter's build and its cluster-info collector's own duration and
    # success (slakit_es_scrape_duration_seconds and slakit_es_up instead).
    "elasticsearch_exporter_build_info",
    "elasticsearch_scrape_duration_seconds",
    "elasticsearch_scrape_success",
    # From `GET /`, which this Elasticsearch build refuses (405): the community exporter
    # reports version "0.0.0" with empty labels then; slakit reports no version it has not
    # read (its `GET /` failure is in elasticsearch_clusterinfo_up, as the community's).
    "elasticsearch_version",
    # Fields Elasticsearch 8 no longer reports: the community exporter sends constant zeros.
    "elasticsearch_indices_filter_cache_evictions",
    "elasticsearch_indices_filter_cache_memory_size_bytes",
    "elasticsearch_indices_store_throttle_time_seconds_total",
    "elasticsearch_os_mem_actual_free_bytes",
    "elasticsearch_os_mem_actual_used_bytes",
    "elasticsearch_process_mem_resident_size_bytes",
    "elasticsearch_process_mem_share_size_bytes",
}
# Each collector's own health, as the community exporter reports it.
COLLECTORS = ("cluster_health", "node_stats", "index_stats")
SCRAPES = {f"elasticsearch_{c}_total_scrapes" for c in COLLECTORS}
PARSE_FAILURES = {f"elasticsearch_{c}_json_parse_failures" for c in (*COLLECTORS, "node_shards")}
COLLECTOR_UP = {f"elasticsearch_{c}_up" for c in COLLECTORS}
CLUSTERINFO_UP = "elasticsearch_clusterinfo_up"
CLUSTERINFO_FAILED_AT = "elasticsearch_clusterinfo_last_retrieval_failure_ts"
COLLECTOR_HEALTH = SCRAPES | PARSE_FAILURES | COLLECTOR_UP | {CLUSTERINFO_UP, CLUSTERINFO_FAILED_AT}
# Values that are each exporter's own (its scrapes, when it last tried `GET /`): compared
# by what they count, not with each other.
OWN = SCRAPES | {CLUSTERINFO_FAILED_AT}
SHARD_FAMILIES = {
    "elasticsearch_indices_shards_docs",
    "elasticsearch_indices_shards_docs_deleted",
    "elasticsearch_indices_shards_store_size_in_bytes",
}
NODE_SHARDS = "elasticsearch_node_shards_total"
ALIASES = "elasticsearch_indices_aliases"
INDEX_STATE = "slakit_es_index_state"
# Elasticsearch refreshes its process, OS, JVM and filesystem stats at most once per
# `monitor.*.refresh_interval` (1 s by default) and serves them from a cache in between;
# and its parent breaker's estimate is by default the live heap, which moves with every
# allocation and drops at each GC. The test node caches those stats for an hour and sums
# the child breakers instead (all still when no request holds memory), so both exporters
# read the same values and a comparison of them is exact.
STILL_NODE = [
    *(f"-Emonitor.{part}.refresh_interval=1h" for part in ("jvm", "os", "process", "fs")),
    "-Eindices.breaker.total.use_real_memory=false",
]
# Tasks running or queued in a thread pool at the instant of a reading, the exporters' own
# stats requests among them (the management pool serves those): see `slack`.
ACTIVE = "elasticsearch_thread_pool_active_count"
IN_FLIGHT = {ACTIVE, "elasticsearch_thread_pool_queue_count"}
COMPLETED = "elasticsearch_thread_pool_completed_count"
# What the brief names explicitly: must be among the families both serve.
REQUIRED = {
    "elasticsearch_cluster_health_status",
    "elasticsearch_cluster_health_number_of_nodes",
    "elasticsearch_cluster_health_number_of_data_nodes",
    "elasticsearch_cluster_health_active_shards",
    "elasticsearch_cluster_health_relocating_shards",
    "elasticsearch_cluster_health_initializing_shards",
    "elasticsearch_cluster_health_unassigned_shards",
    "elasticsearch_cluster_health_number_of_pending_tasks",
    "elasticsearch_jvm_memory_used_bytes",
    "elasticsearch_jvm_memory_max_bytes",
    "elasticsearch_jvm_gc_collection_seconds_count",
    "elasticsearch_jvm_gc_collection_seconds_sum",
    "elasticsearch_process_cpu_percent",
    "elasticsearch_os_load1",
    "elasticsearch_filesystem_data_free_bytes",
    "elasticsearch_process_open_files_count",
    "elasticsearch_thread_pool_active_count",
    "elasticsearch_thread_pool_queue_count",
    "elasticsearch_thread_pool_rejected_count",
    "elasticsearch_thread_pool_completed_count",
    "elasticsearch_indices_indexing_index_total",
    "elasticsearch_indices_search_query_time_seconds",
    "elasticsearch_breakers_tripped",
    "elasticsearch_indices_docs_primary",
    "elasticsearch_indices_store_size_bytes_primary",
    "elasticsearch_index_stats_search_query_total",
    "elasticsearch_index_stats_indexing_index_total",
    *SHARD_FAMILIES,
    NODE_SHARDS,
    ALIASES,
    *COLLECTOR_HEALTH,
}

# --- reading the exposition text -------------------------------------------------------

Labels = frozenset[tuple[str, str]]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass
class Exposition:
    """One scrape as it is on the wire: TYPE by family name, value by (sample, labels).

    (prometheus_client's parser renames counter samples to `<name>_total`, which is exactly
    the detail under test, so this reads the text itself.)"""

    types: dict[str, str]
    samples: dict[tuple[str, Labels], float]

    @classmethod
    def parse(cls, text: str) -> Exposition:
        types: dict[str, str] = {}
        samples: dict[tuple[str, Labels], float] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                types[name] = kind
            elif line and not line.startswith("#"):
                match = _SAMPLE.match(line)
                assert match, f"unparsable sample line: {line!r}"
                name, labels, value = match.groups()
                pairs = (
                    (k, re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group()], v))
                    for k, v in _LABEL.findall(labels or "")
                )
                samples[(name, frozenset(pairs))] = float(value)
        return cls(types, samples)

    def names(self, prefix: str = "elasticsearch_") -> set[str]:
        return {name for name, _ in self.samples if name.startswith(prefix)}

    def value(self, name: str, /, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels` (0 if none)."""
        return sum(
            v
            for (n, have), v in self.samples.items()
            if n == name and set(labels.items()) <= set(have)
        )

    def by_name(self, name: str) -> dict[Labels, float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def scrape(url: str, timeout: float = 10) -> Exposition:
    return Exposition.parse(httpx.get(f"{url}/metrics", timeout=timeout).text)


def eventually(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.25)


def _community_labels(name: str, labels: Labels) -> Labels:
    """slakit's labels as the community exporter writes them on this Elasticsearch: it
    takes the index stats' `cluster` label from `GET /`, which this build refuses (405),
    so it writes its placeholder there; on a normal build both name the cluster."""
    if "index" not in dict(labels):
        return labels
    return frozenset((k, "unknown_cluster" if k == "cluster" else v) for k, v in labels)


def compare_families(ours: Exposition, theirs: Exposition) -> set[str]:
    """Check the families both serve: the same TYPE (counters are counters under the same
    names, with or without `_total`) and the same label sets; return their names."""
    community = {n for n in theirs.names() if n not in NOT_EXPORTED}
    both = ours.names() & community
    assert community - both == set(), "community families slakit does not serve"
    assert REQUIRED <= both
    for name in sorted(both):
        assert ours.types[name] == theirs.types[name], name
        mine = {_community_labels(name, labels) for labels in ours.by_name(name)}
        assert mine == set(theirs.by_name(name)), name
    assert "untyped" not in {ours.types[name] for name in ours.names()}
    return both


def slack(name: str, labels: Labels, around: list[Exposition]) -> float:
    """How far a reading may lie outside the other exporter's readings before and after it
    (`around`: before, the reading, after): 0, except for a pool's tasks in flight. A task
    in flight at the reading was still in flight after it or completed in between, and one
    in flight before it was still in flight at it or completed; a queued task may also have
    become active. So those counts may differ by the tasks completed in between plus the
    most seen active. (Thread pool labels are the same in both exporters.)"""
    if name not in IN_FLIGHT:
        return 0.0
    before, _, after = around
    completed = after.samples[(COMPLETED, labels)] - before.samples[(COMPLETED, labels)]
    return completed + max(e.samples[(ACTIVE, labels)] for e in around)


def outside(names: set[str], turns: list[Exposition]) -> list[str]:
    """For scrapes taken in turn (community, slakit, community, slakit), every reading of
    `names` that does not lie between the other exporter's readings around it (give or take
    its `slack`). Counters and pool sizes only grow, and the rest is still (`STILL_NODE`) or
    in flight, so a reading between two equal ones must equal them."""
    found = []
    for name in sorted(names - OWN):
        for labels in turns[1].by_name(name):
            keys = [(name, _community_labels(name, labels)), (name, labels)] * 2
            values = [turn.samples[key] for turn, key in zip(turns, keys, strict=True)]
            for i in (1, 2):
                low, high = sorted((values[i - 1], values[i + 1]))
                give = slack(name, labels, turns[i - 1 : i + 2])
                if not low - give <= values[i] <= high + give:
                    found.append(
                        f"{name}{dict(labels)}: {values[i]} read between {low} and {high}"
                        f" (give {give}), turn {i}"
                    )
    return found


def pairs(ours: Exposition, theirs: Exposition, names: set[str]) -> Iterator[tuple]:
    """(name, labels, our value, their value) of every sample of `names` (but OWN)."""
    for name in sorted(names - OWN):
        their_values = theirs.by_name(name)
        for labels, mine in ours.by_name(name).items():
            yield name, dict(labels), mine, their_values[_community_labels(name, labels)]


# --- processes and servers ---------------------------------------------------------------


@contextmanager
def debian_exporter(es_url: str) -> Iterator[str]:
    """Debian's community exporter on a free port (it listens only after its first cluster
    info call gives up, about 10 s here, since `GET /` answers 405)."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    argv = [
        DEBIAN_EXPORTER,
        f"--es.uri={es_url}",
        f"--web.listen-address={HOST}:{port}",
        "--es.all",
        "--es.indices",
        "--es.shards",
        "--es.aliases",
    ]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            eventually(
                lambda: answers(f"{url}/metrics", 2) or proc.poll() is not None,
                60,
                "debian exporter",
            )
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{DEBIAN_EXPORTER} exited: {log.read().decode()[-2000:]}")
            yield url
        finally:
            stop(proc)


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://{HOST}:{server.server_address[1]}"


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drain(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


ES_HEADERS = {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"}


class BrokenElasticsearch(_Quiet):
    """Looks like Elasticsearch (headers) but answers truncated JSON or HTTP 500."""

    mode = "garbage"

    def answer(self) -> None:
        self.drain()
        if self.mode == "garbage":
            self.reply(200, b'{"cluster_name": "slakit", "status": "gre', ES_HEADERS)
        else:
            body = b'{"error":{"type":"exception","reason":"boom"},"status":500}'
            self.reply(500, body, ES_HEADERS)

    do_GET = do_POST = answer


class FreezingProxy(_Quiet):
    """Forwards to Elasticsearch, but answers every request for cluster health, node stats
    or index stats with the first answer Elasticsearch gave for that kind (fetched with
    every section, so it serves both exporters' requests)."""

    upstream = ""
    frozen: dict[str, tuple[int, bytes, dict[str, str]]] = {}
    lock = threading.Lock()
    CANONICAL = {
        "health": "/_cluster/health",
        "nodes": "/_nodes/stats",
        "indices": "/_stats?level=shards",
        "shards": "/_cat/shards?format=json",
    }

    @staticmethod
    def kind(path: str) -> str | None:
        route = path.split("?")[0]
        if route == "/_cluster/health":
            return "health"
        if route.startswith("/_nodes/") and "stats" in route:
            return "nodes"
        if route in ("/_stats", "/_all/_stats"):
            return "indices"
        if route == "/_cat/shards":
            return "shards"
        return None

    def forward(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, dict]:
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type",)}
        resp = httpx.request(method, self.upstream + path, content=body, headers=headers)
        keep = {
            k: resp.headers[k] for k in ("content-type", "x-elastic-product") if k in resp.headers
        }
        return resp.status_code, resp.content, keep

    def answer(self) -> None:
        body = self.drain()
        kind = self.kind(self.path)
        if kind is None:
            self.reply(*self.forward(self.command, self.path, body))
            return
        with self.lock:
            if kind not in self.frozen:
                self.frozen[kind] = self.forward("GET", self.CANONICAL[kind])
        self.reply(*self.frozen[kind])

    do_GET = do_POST = answer


@contextmanager
def blackhole() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: Elasticsearch hung."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


# --- the live Elasticsearch -------------------------------------------------------------


@dataclass
class Live:
    es_url: str
    exporter: str  # slakit's, straight to Elasticsearch, started while it was down
    debian: str  # the community exporter, straight to Elasticsearch
    while_down: Exposition  # slakit's first scrape, before Elasticsearch started
    mix: Mix
    started: float  # epoch seconds, before either exporter started


def _purge(cfg: StackConfig) -> None:
    """Delete the node's data and logs (as `slakit stack down --purge` does)."""
    link = cfg.state_dir / "elasticsearch"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(cfg.state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    for port in ES_PORTS.values():
        with socket.socket() as probe:
            assert probe.connect_ex((HOST, port)) != 0, f"port {port} is taken"
    cfg = StackConfig(state_dir=tmp_path_factory.mktemp("es-exporter"), elasticsearch=ES_PORTS)
    es_url = cfg.url(cfg.elasticsearch.port)
    # No canary search during the comparison: the canary test runs its own exporter.
    env = {f"{ENV}URL": es_url, f"{ENV}CANARY_INTERVAL_S": "3600", f"{ENV}TIMEOUT_S": "3"}
    pid = None
    started = time.time()
    try:
        with serve_module(MODULE, env=env) as exporter:
            while_down = scrape(exporter)
            node = elasticsearch.spec(cfg)
            spec = dataclasses.replace(node, argv=[*node.argv, *STILL_NODE])
            pid = process.start(spec)
            eventually(
                lambda: process.check_health(spec) or not process.is_running(pid),
                spec.timeout_s,
                "elasticsearch healthy",
            )
            assert process.is_running(pid), "\n".join(process.tail(spec.log))
            mix = build_mix(Elasticsearch(es_url))
            with debian_exporter(es_url) as debian:
                yield Live(es_url, exporter, debian, while_down, mix, started)
    finally:
        if pid is not None:
            process.stop(pid)
        _purge(cfg)


def test_down_at_start_counts_connection_errors_and_recovers_alone(live: Live) -> None:
    down = live.while_down
    assert down.value("slakit_es_up", target=live.es_url) == 0
    assert down.value("slakit_es_scrape_errors_total", reason="connection") >= 1
    # No stale or half-made Elasticsearch families: only each collector's own health.
    assert COLLECTOR_UP | SCRAPES | PARSE_FAILURES <= down.names() <= COLLECTOR_HEALTH
    assert {name: down.value(name) for name in COLLECTOR_UP} == dict.fromkeys(COLLECTOR_UP, 0)
    assert {name: down.value(name) for name in SCRAPES} == dict.fromkeys(SCRAPES, 1)
    # Same process, never restarted: it picked Elasticsearch up by itself.
    eventually(lambda: scrape(live.exporter).value("slakit_es_up") == 1, 30, "exporter up")
    now = scrape(live.exporter)
    assert now.value("slakit_es_scrape_errors_total", reason="connection") >= 1  # cumulative
    assert now.value("elasticsearch_cluster_health_number_of_nodes") == 1
    assert now.value("elasticsearch_indices_docs_primary", index=CORPUS) == CORPUS_DOCS
    assert {name: now.value(name) for name in COLLECTOR_UP} == dict.fromkeys(COLLECTOR_UP, 1)


def test_same_families_labels_and_values_as_the_community_exporter_live(live: Live) -> None:
    turns = [scrape(url) for url in (live.debian, live.exporter) * 2]
    both = compare_families(turns[1], turns[0])
    assert compare_families(turns[3], turns[2]) == both
    assert [n for n, _, mine, _ in pairs(turns[1], turns[0], both) if not math.isfinite(mine)] == []
    assert outside(both, turns) == []


def test_the_mix_as_both_exporters_see_it(live: Live) -> None:
    """Yellow, shard by shard, aliases; the closed index in slakit's index state only."""
    theirs, ours = scrape(live.debian), scrape(live.exporter)
    mix = live.mix
    for got in (theirs, ours):
        assert got.value("elasticsearch_cluster_health_status", color="yellow") == 1
        assert got.value("elasticsearch_cluster_health_unassigned_shards") == mix.unassigned
        assert got.by_name(NODE_SHARDS)[frozenset({("node", "")})] == mix.unassigned
        for index, docs in mix.docs.items():
            assert got.value("elasticsearch_indices_docs_primary", index=index) == docs
            shards = got.value("elasticsearch_indices_shards_docs", index=index, primary="true")
            assert shards == docs, index
        for index in mix.docs:
            # A deleted document is counted with its tombstone (soft deletes): at least once.
            deleted = got.value("elasticsearch_indices_shards_docs_deleted", index=index)
            assert deleted >= mix.deleted.get(index, 0), index
            assert (deleted > 0) == (index in mix.deleted), index
        indices = {
            dict(labels)["index"] for labels in got.by_name("elasticsearch_indices_docs_primary")
        }
        assert indices == set(mix.docs)  # the closed index has no stats in either
        aliases = {
            (dict(labels)["alias"], dict(labels)["index"]) for labels in got.by_name(ALIASES)
        }
        assert aliases == {(alias, index) for alias, of in MIX_ALIASES.items() for index in of}
    state = {
        (dict(labels)["index"], dict(labels)["state"]): v
        for labels, v in ours.by_name(INDEX_STATE).items()
    }
    assert {key for key, v in state.items() if v == 1} == {
        *((index, "open") for index in mix.docs),
        (CLOSED, "closed"),
    }
    assert len(state) == 2 * (len(mix.docs) + 1)


def test_each_exporter_counts_its_own_scrapes_and_cluster_info_failures(live: Live) -> None:
    for url in (live.debian, live.exporter):
        before, after = scrape(url), scrape(url)
        for name in SCRAPES:
            assert after.value(name) - before.value(name) == 1, (url, name)
        for name in PARSE_FAILURES:
            assert after.value(name) == 0, (url, name)
        # This build refuses `GET /`: both say so, with when they last tried.
        assert after.by_name(CLUSTERINFO_UP) == {frozenset({("url", live.es_url)}): 0}, url
        (failed_at,) = after.by_name(CLUSTERINFO_FAILED_AT).values()
        assert live.started - 1 <= failed_at <= time.time(), url


@pytest.fixture(scope="module")
def frozen(live: Live) -> Iterator[tuple[str, str]]:
    """slakit's and the community exporter, both reading one frozen snapshot."""
    FreezingProxy.upstream = live.es_url
    FreezingProxy.frozen = {}
    with http_server(FreezingProxy) as proxy:
        env = {f"{ENV}URL": url_of(proxy), f"{ENV}CANARY_INTERVAL_S": "3600"}
        with serve_module(MODULE, env=env) as ours, debian_exporter(url_of(proxy)) as theirs:
            yield ours, theirs


def test_identical_values_on_a_frozen_snapshot(frozen: tuple[str, str]) -> None:
    ours, theirs = (scrape(url) for url in frozen)
    both = compare_families(ours, theirs)
    assert ours.value("slakit_es_up") == 1
    mismatches = [
        f"{name}{labels}: slakit {mine}, community {community}"
        for name, labels, mine, community in pairs(ours, theirs, both)
        if mine != community
    ]
    assert mismatches == []
    assert len(list(pairs(ours, theirs, both))) > 1400


def test_canary_search_and_index_freshness(live: Live) -> None:
    # An exporter of its own, started on the full index, so every canary search hits.
    env = {
        f"{ENV}URL": live.es_url,
        f"{ENV}FRESHNESS_INDEX": CORPUS,
        f"{ENV}CANARY_INTERVAL_S": "1",
    }
    count = "slakit_es_canary_search_seconds_count"
    with serve_module(MODULE, env=env) as exporter:
        eventually(lambda: scrape(exporter).value(count, index=CORPUS) >= 3, 30, "three searches")
        got = scrape(exporter)
        scraped_at = time.time()
    assert got.value("slakit_es_canary_search_seconds_sum", index=CORPUS) > 0
    assert got.value("slakit_es_canary_search_seconds_bucket", index=CORPUS, le="+Inf") == (
        got.value(count, index=CORPUS)
    )
    assert got.by_name("slakit_es_canary_failures_total") == {}
    newest = Elasticsearch(live.es_url).search(
        index=CORPUS, size=0, aggs={"newest": {"max": {"field": "indexed_at"}}}
    )["aggregations"]["newest"]["value"]
    freshness = got.value("slakit_es_index_freshness_seconds", index=CORPUS)
    assert freshness > 0
    assert abs(freshness - (scraped_at - newest / 1000)) < 2


def test_missing_canary_and_freshness_index_count_by_reason(live: Live) -> None:
    env = {
        f"{ENV}URL": live.es_url,
        f"{ENV}CANARY_INDEX": "no-such-index",
        f"{ENV}FRESHNESS_INDEX": "no-such-index",
        f"{ENV}CANARY_INTERVAL_S": "0.5",
    }
    with serve_module(MODULE, env=env) as exporter:
        eventually(
            lambda: scrape(exporter).value("slakit_es_freshness_failures_total", reason="http_404"),
            15,
            "freshness failure counted",
        )
        got = scrape(exporter)
    assert got.value("slakit_es_up") == 1  # stats are fine: the probes fail on their own
    assert got.value("slakit_es_canary_failures_total", index="no-such-index", reason="http_404")
    assert got.value("slakit_es_canary_search_seconds_count") == 0
    assert not got.by_name("slakit_es_index_freshness_seconds")


def test_canary_on_a_closed_index_says_so(live: Live) -> None:
    env = {f"{ENV}URL": live.es_url, f"{ENV}CANARY_INDEX": CLOSED, f"{ENV}CANARY_INTERVAL_S": "0.5"}
    failures = "slakit_es_canary_failures_total"
    with serve_module(MODULE, env=env) as exporter:
        eventually(lambda: scrape(exporter).value(failures) >= 2, 15, "two canary failures")
        got = scrape(exporter)
    assert {dict(labels)["reason"] for labels in got.by_name(failures)} == {"index_closed"}
    assert got.value(INDEX_STATE, index=CLOSED, state="closed") == 1
    assert got.value("slakit_es_up") == 1


# --- failing Elasticsearch ----------------------------------------------------------------


def test_hung_elasticsearch_times_out_within_the_bound() -> None:
    timeout_s = 1.0
    with blackhole() as url:
        env = {f"{ENV}URL": url, f"{ENV}TIMEOUT_S": str(timeout_s)}
        with serve_module(MODULE, env=env) as exporter:
            for attempt in (1, 2):
                started = time.monotonic()
                got = scrape(exporter, timeout=30)
                took = time.monotonic() - started
                assert took < timeout_s + 1, f"scrape {attempt} took {took:.2f} s"
                assert got.value("slakit_es_up") == 0
                assert got.value("slakit_es_scrape_errors_total", reason="timeout") == attempt
            assert httpx.get(f"{exporter}/health", timeout=5).status_code == 200


def test_garbage_json_and_http_500_are_counted_and_survived() -> None:
    BrokenElasticsearch.mode = "garbage"
    with http_server(BrokenElasticsearch) as server:
        env = {f"{ENV}URL": url_of(server), f"{ENV}CANARY_INTERVAL_S": "0.5"}
        with serve_module(MODULE, env=env) as exporter:
            got = scrape(exporter)
            assert got.value("slakit_es_up") == 0
            assert got.value("slakit_es_scrape_errors_total", reason="bad_json") == 1
            BrokenElasticsearch.mode = "500"
            got = scrape(exporter)
            assert got.value("slakit_es_up") == 0
            assert got.value("slakit_es_scrape_errors_total", reason="http_500") == 1
            assert got.value("slakit_es_scrape_errors_total", reason="bad_json") == 1
            eventually(
                lambda: scrape(exporter).value(
                    "slakit_es_canary_failures_total", reason="http_500"
                ),
                10,
                "canary failure counted",
            )
            assert scrape(exporter).value("slakit_es_canary_failures_total", reason="bad_json")
            assert httpx.get(f"{exporter}/health", timeout=5).status_code == 200


def test_garbage_json_and_http_500_as_the_community_exporter_counts_them() -> None:
    """Each collector down, a JSON parse failure counted per scrape for garbage and none
    for a 500, in both exporters alike, and no Elasticsearch family beside that health."""
    with http_server(BrokenElasticsearch) as server:
        env = {f"{ENV}URL": url_of(server), f"{ENV}CANARY_INTERVAL_S": "3600"}
        with serve_module(MODULE, env=env) as ours, debian_exporter(url_of(server)) as theirs:
            for mode, parse_failures in (("garbage", 1), ("500", 0)):
                BrokenElasticsearch.mode = mode
                turns = {url: (scrape(url), scrape(url)) for url in (ours, theirs)}
                for url, (before, after) in turns.items():
                    assert after.names() - NOT_EXPORTED <= COLLECTOR_HEALTH, url
                    for name in COLLECTOR_UP | {CLUSTERINFO_UP}:
                        assert after.value(name) == 0, (mode, url, name)
                    for name in SCRAPES:
                        assert after.value(name) - before.value(name) == 1, (mode, url, name)
                    for name in PARSE_FAILURES:
                        counted = after.value(name) - before.value(name)
                        assert counted == parse_failures, (mode, url, name)
                (_, mine), (_, community) = turns.values()
                assert mine.names() == community.names() - NOT_EXPORTED, mode
                assert all(mine.types[n] == community.types[n] for n in mine.names()), mode


def test_module_entry_point_reports_config_problems() -> None:
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "error: command line: port:" in result.stderr
