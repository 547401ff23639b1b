"""The Elasticsearch exporter's families as data: names, kinds, help and where each value
sits in `_cluster/health` and `_nodes/stats` (index stats: `index_families`).

The names, label sets and help are prometheus-community elasticsearch_exporter's (1.5), so
dashboards and alerts written for it keep working.
"""

from __future__ import annotations

PREFIX = "slakit_es"
# What the community exporter labels index stats with when it cannot read the cluster name.
UNKNOWN_CLUSTER = "unknown_cluster"
GAUGE, COUNTER = "gauge", "counter"
MS = 1000  # ES reports durations in milliseconds; the exported unit is seconds
KeyPath = tuple[str, ...]
HEALTH_PREFIX = "elasticsearch_cluster_health_"


# fmt: off
# (key in the response = the name after HEALTH_PREFIX, help)
HEALTH_GAUGES = (
    ("active_primary_shards", "The number of primary shards in your cluster."),
    ("active_shards", "Aggregate total of all shards across all indices, replicas included."),
    ("delayed_unassigned_shards", "Shards delayed to reduce reallocation overhead"),
    ("initializing_shards", "Count of shards that are being freshly created."),
    ("number_of_data_nodes", "Number of data nodes in the cluster."),
    ("number_of_in_flight_fetch", "The number of ongoing shard info requests."),
    ("number_of_nodes", "Number of nodes in the cluster."),
    ("number_of_pending_tasks", "Cluster level changes which have not yet been executed"),
    ("relocating_shards", "The number of shards moving from one node to another."),
    ("task_max_waiting_in_queue_millis", "Tasks max time waiting in queue."),
    ("unassigned_shards", "The number of shards that are not allocated to any node."),
)
# fmt: on
HEALTH_COLORS = ("green", "yellow", "red")

# Families of one value each: (name, kind, help)
Family = tuple[str, str, str]
HEALTH_STATUS: Family = (
    f"{HEALTH_PREFIX}status",
    GAUGE,
    "Whether all primary and replica shards are allocated.",
)
NODE_ROLES: Family = ("elasticsearch_nodes_roles", GAUGE, "Node default roles")
INDEXING_THROTTLED: Family = (
    "elasticsearch_indices_indexing_is_throttled",
    GAUGE,
    "Indexing throttling",
)
JVM_UPTIME: Family = ("elasticsearch_jvm_uptime_seconds", GAUGE, "JVM process uptime in seconds")
JVM_BUFFER_POOL_USED: Family = (
    "elasticsearch_jvm_buffer_pool_used_bytes",
    GAUGE,
    "JVM buffer currently used",
)


# fmt: off
# (name, kind, help, path under one node of `_nodes/stats`, divisor)
NODE_VALUES: tuple[tuple[str, str, str, KeyPath, float], ...] = tuple(
    (f"elasticsearch_{name}", kind, doc, tuple(path.split(".")), divisor)
    for name, kind, doc, path, divisor in (
        ("os_load1", GAUGE, "Shortterm load average", "os.cpu.load_average.1m", 1),
        ("os_load5", GAUGE, "Midterm load average", "os.cpu.load_average.5m", 1),
        ("os_load15", GAUGE, "Longterm load average", "os.cpu.load_average.15m", 1),
        ("os_cpu_percent", GAUGE, "Percent CPU used by OS", "os.cpu.percent", 1),
        ("os_mem_free_bytes", GAUGE, "Amount of free physical memory in bytes",
         "os.mem.free_in_bytes", 1),
        ("os_mem_used_bytes", GAUGE, "Amount of used physical memory in bytes",
         "os.mem.used_in_bytes", 1),
        ("indices_fielddata_memory_size_bytes", GAUGE, "Field data cache memory usage in bytes",
         "indices.fielddata.memory_size_in_bytes", 1),
        ("indices_fielddata_evictions", COUNTER, "Evictions from field data",
         "indices.fielddata.evictions", 1),
        ("indices_completion_size_in_bytes", COUNTER, "Completion in bytes",
         "indices.completion.size_in_bytes", 1),
        ("indices_query_cache_memory_size_bytes", GAUGE, "Query cache memory usage in bytes",
         "indices.query_cache.memory_size_in_bytes", 1),
        ("indices_query_cache_evictions", COUNTER, "Evictions from query cache",
         "indices.query_cache.evictions", 1),
        ("indices_query_cache_total", COUNTER, "Query cache total count",
         "indices.query_cache.total_count", 1),
        ("indices_query_cache_cache_size", GAUGE, "Query cache cache size",
         "indices.query_cache.cache_size", 1),
        ("indices_query_cache_cache_total", COUNTER, "Query cache cache count",
         "indices.query_cache.cache_count", 1),
        ("indices_request_cache_memory_size_bytes", GAUGE, "Request cache memory usage in bytes",
         "indices.request_cache.memory_size_in_bytes", 1),
        ("indices_request_cache_evictions", COUNTER, "Evictions from request cache",
         "indices.request_cache.evictions", 1),
        ("indices_translog_operations", COUNTER, "Total translog operations",
         "indices.translog.operations", 1),
        ("indices_translog_size_in_bytes", COUNTER, "Total translog size in bytes",
         "indices.translog.size_in_bytes", 1),
        ("indices_get_time_seconds", COUNTER, "Total get time in seconds",
         "indices.get.time_in_millis", MS),
        ("indices_get_total", COUNTER, "Total get", "indices.get.total", 1),
        ("indices_get_missing_time_seconds", COUNTER, "Total time of get missing in seconds",
         "indices.get.missing_time_in_millis", MS),
        ("indices_get_missing_total", COUNTER, "Total get missing", "indices.get.missing_total", 1),
        ("indices_get_exists_time_seconds", COUNTER, "Total time get exists in seconds",
         "indices.get.exists_time_in_millis", MS),
        ("indices_get_exists_total", COUNTER, "Total get exists operations",
         "indices.get.exists_total", 1),
        ("indices_refresh_time_seconds_total", COUNTER, "Total time spent refreshing in seconds",
         "indices.refresh.total_time_in_millis", MS),
        ("indices_refresh_total", COUNTER, "Total refreshes", "indices.refresh.total", 1),
        ("indices_search_query_time_seconds", COUNTER, "Total search query time in seconds",
         "indices.search.query_time_in_millis", MS),
        ("indices_search_query_total", COUNTER, "Total number of queries",
         "indices.search.query_total", 1),
        ("indices_search_fetch_time_seconds", COUNTER, "Total search fetch time in seconds",
         "indices.search.fetch_time_in_millis", MS),
        ("indices_search_fetch_total", COUNTER, "Total number of fetches",
         "indices.search.fetch_total", 1),
        ("indices_search_suggest_total", COUNTER, "Total number of suggests",
         "indices.search.suggest_total", 1),
        ("indices_search_suggest_time_seconds", COUNTER, "Total suggest time in seconds",
         "indices.search.suggest_time_in_millis", MS),
        ("indices_search_scroll_total", COUNTER, "Total number of scrolls",
         "indices.search.scroll_total", 1),
        ("indices_search_scroll_time_seconds", COUNTER, "Total scroll time in seconds",
         "indices.search.scroll_time_in_millis", MS),
        ("indices_docs", GAUGE, "Count of documents on this node", "indices.docs.count", 1),
        ("indices_docs_deleted", GAUGE, "Count of deleted documents on this node",
         "indices.docs.deleted", 1),
        ("indices_store_size_bytes", GAUGE, "Current size of stored index data in bytes",
         "indices.store.size_in_bytes", 1),
        ("indices_segments_memory_bytes", GAUGE, "Current memory size of segments in bytes",
         "indices.segments.memory_in_bytes", 1),
        ("indices_segments_count", GAUGE, "Count of index segments on this node",
         "indices.segments.count", 1),
        ("indices_segments_terms_memory_in_bytes", GAUGE, "Count of terms in memory for this node",
         "indices.segments.terms_memory_in_bytes", 1),
        ("indices_segments_index_writer_memory_in_bytes", GAUGE,
         "Count of memory for index writer on this node",
         "indices.segments.index_writer_memory_in_bytes", 1),
        ("indices_segments_norms_memory_in_bytes", GAUGE, "Count of memory used by norms",
         "indices.segments.norms_memory_in_bytes", 1),
        ("indices_segments_stored_fields_memory_in_bytes", GAUGE, "Count of stored fields memory",
         "indices.segments.stored_fields_memory_in_bytes", 1),
        ("indices_segments_doc_values_memory_in_bytes", GAUGE, "Count of doc values memory",
         "indices.segments.doc_values_memory_in_bytes", 1),
        ("indices_segments_fixed_bit_set_memory_in_bytes", GAUGE, "Count of fixed bit set",
         "indices.segments.fixed_bit_set_memory_in_bytes", 1),
        ("indices_segments_term_vectors_memory_in_bytes", GAUGE,
         "Term vectors memory usage in bytes", "indices.segments.term_vectors_memory_in_bytes", 1),
        ("indices_segments_points_memory_in_bytes", GAUGE, "Point values memory usage in bytes",
         "indices.segments.points_memory_in_bytes", 1),
        ("indices_segments_version_map_memory_in_bytes", GAUGE,
         "Version map memory usage in bytes", "indices.segments.version_map_memory_in_bytes", 1),
        ("indices_flush_total", COUNTER, "Total flushes", "indices.flush.total", 1),
        ("indices_flush_time_seconds", COUNTER, "Cumulative flush time in seconds",
         "indices.flush.total_time_in_millis", MS),
        ("indices_warmer_total", COUNTER, "Total warmer count", "indices.warmer.total", 1),
        ("indices_warmer_time_seconds_total", COUNTER, "Total warmer time in seconds",
         "indices.warmer.total_time_in_millis", MS),
        ("indices_indexing_index_time_seconds_total", COUNTER, "Cumulative index time in seconds",
         "indices.indexing.index_time_in_millis", MS),
        ("indices_indexing_index_total", COUNTER, "Total index calls",
         "indices.indexing.index_total", 1),
        ("indices_indexing_delete_time_seconds_total", COUNTER,
         "Total time indexing delete in seconds", "indices.indexing.delete_time_in_millis", MS),
        ("indices_indexing_delete_total", COUNTER, "Total indexing deletes",
         "indices.indexing.delete_total", 1),
        ("indices_indexing_throttle_time_seconds_total", COUNTER,
         "Cumulative indexing throttling time", "indices.indexing.throttle_time_in_millis", MS),
        ("indices_merges_total", COUNTER, "Total merges", "indices.merges.total", 1),
        ("indices_merges_current", GAUGE, "Current merges", "indices.merges.current", 1),
        ("indices_merges_current_size_in_bytes", GAUGE, "Size of a current merges in bytes",
         "indices.merges.current_size_in_bytes", 1),
        ("indices_merges_docs_total", COUNTER, "Cumulative docs merged",
         "indices.merges.total_docs", 1),
        ("indices_merges_total_size_bytes_total", COUNTER, "Total merge size in bytes",
         "indices.merges.total_size_in_bytes", 1),
        ("indices_merges_total_time_seconds_total", COUNTER, "Total time spent merging in seconds",
         "indices.merges.total_time_in_millis", MS),
        ("indices_merges_total_throttled_time_seconds_total", COUNTER,
         "Total throttled time of merges in seconds",
         "indices.merges.total_throttled_time_in_millis", MS),
        ("process_cpu_percent", GAUGE, "Percent CPU used by process", "process.cpu.percent", 1),
        ("process_mem_virtual_size_bytes", GAUGE, "Total virtual memory used in bytes",
         "process.mem.total_virtual_in_bytes", 1),
        ("process_open_files_count", GAUGE, "Open file descriptors",
         "process.open_file_descriptors", 1),
        ("process_max_files_descriptors", GAUGE, "Max file descriptors",
         "process.max_file_descriptors", 1),
        ("process_cpu_seconds_total", COUNTER, "Process CPU time in seconds",
         "process.cpu.total_in_millis", MS),
        ("transport_rx_packets_total", COUNTER, "Count of packets received",
         "transport.rx_count", 1),
        ("transport_rx_size_bytes_total", COUNTER, "Total number of bytes received",
         "transport.rx_size_in_bytes", 1),
        ("transport_tx_packets_total", COUNTER, "Count of packets sent", "transport.tx_count", 1),
        ("transport_tx_size_bytes_total", COUNTER, "Total number of bytes sent",
         "transport.tx_size_in_bytes", 1),
    )
)
# (name, kind, help, key under jvm.mem, area label)
JVM_AREAS: tuple[tuple[str, str, str, str, str], ...] = (
    ("elasticsearch_jvm_memory_used_bytes", GAUGE, "JVM memory currently used by area",
     "heap_used_in_bytes", "heap"),
    ("elasticsearch_jvm_memory_used_bytes", GAUGE, "JVM memory currently used by area",
     "non_heap_used_in_bytes", "non-heap"),
    ("elasticsearch_jvm_memory_max_bytes", GAUGE, "JVM memory max", "heap_max_in_bytes", "heap"),
    ("elasticsearch_jvm_memory_committed_bytes", GAUGE, "JVM memory currently committed by area",
     "heap_committed_in_bytes", "heap"),
    ("elasticsearch_jvm_memory_committed_bytes", GAUGE, "JVM memory currently committed by area",
     "non_heap_committed_in_bytes", "non-heap"),
)
JVM_POOLS = ("young", "survivor", "old")
JVM_POOL_VALUES = (
    ("elasticsearch_jvm_memory_pool_used_bytes", GAUGE, "JVM memory currently used by pool",
     "used_in_bytes"),
    ("elasticsearch_jvm_memory_pool_max_bytes", COUNTER, "JVM memory max by pool", "max_in_bytes"),
    ("elasticsearch_jvm_memory_pool_peak_used_bytes", COUNTER, "JVM memory peak used by pool",
     "peak_used_in_bytes"),
    ("elasticsearch_jvm_memory_pool_peak_max_bytes", COUNTER, "JVM memory peak max by pool",
     "peak_max_in_bytes"),
)
BUFFER_POOLS = ("direct", "mapped")
GC_VALUES = (
    ("elasticsearch_jvm_gc_collection_seconds_count", "Count of JVM GC runs",
     "collection_count", 1),
    ("elasticsearch_jvm_gc_collection_seconds_sum", "GC run time in seconds",
     "collection_time_in_millis", MS),
)
BREAKER_VALUES = (
    ("elasticsearch_breakers_estimated_size_bytes", GAUGE, "Estimated size in bytes of breaker",
     "estimated_size_in_bytes"),
    ("elasticsearch_breakers_limit_size_bytes", GAUGE, "Limit size in bytes for breaker",
     "limit_size_in_bytes"),
    ("elasticsearch_breakers_tripped", COUNTER, "tripped for breaker", "tripped"),
    ("elasticsearch_breakers_overhead", COUNTER, "Overhead of circuit breakers", "overhead"),
)
THREAD_POOL_VALUES = (
    ("elasticsearch_thread_pool_completed_count", COUNTER, "Thread Pool operations completed",
     "completed"),
    ("elasticsearch_thread_pool_rejected_count", COUNTER, "Thread Pool operations rejected",
     "rejected"),
    ("elasticsearch_thread_pool_active_count", GAUGE, "Thread Pool threads active", "active"),
    ("elasticsearch_thread_pool_largest_count", GAUGE, "Thread Pool largest threads count",
     "largest"),
    ("elasticsearch_thread_pool_queue_count", GAUGE, "Thread Pool operations queued", "queue"),
    ("elasticsearch_thread_pool_threads_count", GAUGE, "Thread Pool current threads count",
     "threads"),
)
FS_DATA_VALUES = (
    ("elasticsearch_filesystem_data_available_bytes", "Available space on block device in bytes",
     "available_in_bytes"),
    ("elasticsearch_filesystem_data_free_bytes", "Free space on block device in bytes",
     "free_in_bytes"),
    ("elasticsearch_filesystem_data_size_bytes", "Size of block device in bytes",
     "total_in_bytes"),
)
FS_IO_VALUES = (
    ("elasticsearch_filesystem_io_stats_device_operations_count", "Count of disk operations",
     "operations"),
    ("elasticsearch_filesystem_io_stats_device_read_operations_count",
     "Count of disk read operations", "read_operations"),
    ("elasticsearch_filesystem_io_stats_device_write_operations_count",
     "Count of disk write operations", "write_operations"),
    ("elasticsearch_filesystem_io_stats_device_read_size_kilobytes_sum",
     "Total kilobytes read from disk", "read_kilobytes"),
    ("elasticsearch_filesystem_io_stats_device_write_size_kilobytes_sum",
     "Total kilobytes written to disk", "write_kilobytes"),
)
# (label, key under indices.*_cache, help) of the cache hit/miss counters
CACHE_COUNTS = (
    ("elasticsearch_indices_query_cache_count", "hit", "query_cache", "hit_count",
     "Query cache count"),
    ("elasticsearch_indices_query_miss_count", "miss", "query_cache", "miss_count",
     "Query miss count"),
    ("elasticsearch_indices_request_cache_count", "hit", "request_cache", "hit_count",
     "Request cache count"),
    ("elasticsearch_indices_request_miss_count", "miss", "request_cache", "miss_count",
     "Request miss count"),
)
# fmt: on
# The roles the community exporter (1.5) turns into `es_<role>_node` labels and
# `elasticsearch_nodes_roles`; `client` means "serves HTTP".
ROLES = ("master", "data", "ingest")

# The community exporter's own health of each of its collectors (the Elasticsearch request
# it makes): (collector, help of `_up`, help of `_total_scrapes`); `node_shards` has only
# `_json_parse_failures`. Their counters have no `_total` suffix.
CLUSTER_HEALTH, NODE_STATS, INDEX_STATS, NODE_SHARDS = (
    "cluster_health",
    "node_stats",
    "index_stats",
    "node_shards",
)
COLLECTOR_HEALTH = (
    (
        CLUSTER_HEALTH,
        "Was the last scrape of the Elasticsearch cluster health endpoint successful.",
        "Current total Elasticsearch cluster health scrapes.",
    ),
    (
        NODE_STATS,
        "Was the last scrape of the Elasticsearch nodes endpoint successful.",
        "Current total Elasticsearch node scrapes.",
    ),
    (
        INDEX_STATS,
        "Was the last scrape of the Elasticsearch index endpoint successful.",
        "Current total Elasticsearch index scrapes.",
    ),
)
JSON_PARSE_FAILURES_HELP = "Number of errors while parsing JSON."
JSON_PARSED = (*(collector for collector, _, _ in COLLECTOR_HEALTH), NODE_SHARDS)
NODE_SHARDS_TOTAL: Family = (
    "elasticsearch_node_shards_total",
    GAUGE,
    "Total shards per node",
)
INDEX_ALIASES: Family = (
    "elasticsearch_indices_aliases",
    GAUGE,
    "Record aliases associated with an index",
)
# `GET /`, refreshed every `clusterinfo_interval_s` (the community exporter's retriever)
CLUSTERINFO_UP: Family = (
    "elasticsearch_clusterinfo_up",
    GAUGE,
    "Up metric for the cluster info collector",
)
CLUSTERINFO_SUCCESS_TS: Family = (
    "elasticsearch_clusterinfo_last_retrieval_success_ts",
    GAUGE,
    "Timestamp of the last successful cluster info retrieval",
)
CLUSTERINFO_FAILURE_TS: Family = (
    "elasticsearch_clusterinfo_last_retrieval_failure_ts",
    GAUGE,
    "Timestamp of the last failed cluster info retrieval",
)
CLUSTERINFO_VERSION: Family = (
    "elasticsearch_clusterinfo_version_info",
    GAUGE,
    "Constant metric with ES version information as labels",
)
VERSION: Family = ("elasticsearch_version", GAUGE, "Elasticsearch version information.")
VERSION_LABELS = (
    "cluster",
    "cluster_uuid",
    "build_date",
    "build_hash",
    "version",
    "lucene_version",
)

# slakit's own families, fed by the prober: (name, help)
CANARY_SEARCH_SECONDS = (
    f"{PREFIX}_canary_search_seconds",
    "Latency of the canary search (successful searches only)",
)
CANARY_FAILURES = (f"{PREFIX}_canary_failures", "Failed canary searches by reason")
FRESHNESS_FAILURES = (f"{PREFIX}_freshness_failures", "Failed freshness queries by reason")
INDEX_FRESHNESS = (
    f"{PREFIX}_index_freshness_seconds",
    "Seconds since the newest document's timestamp field (now minus its maximum)",
)
INDEX_STATE: Family = (
    f"{PREFIX}_index_state",
    GAUGE,
    "1 for the index's current state (open or closed), 0 for the other; closed indices have "
    "no stats",
)
INDEX_STATES = ("open", "closed")
