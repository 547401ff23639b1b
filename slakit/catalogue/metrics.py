"""Every metric and label name slakit reads or exports, as PromQL sees them: one file to open.

vLLM's were read from vLLM 0.32.0 (`vllm/v1/metrics/loggers.py`, `buckets.py`; a test checks
them against the installed vLLM), older names beside the current ones. Counters end in
`_total`, histograms add `_bucket`/`_sum`/`_count`. The gateway's and the inference exporter's
are slakit's own; the GPU exporter's are dcgm-exporter's and the Elasticsearch exporter's
prometheus-community elasticsearch_exporter's (1.5), so their dashboards keep working: only
the names slakit's rules, dashboards and SLIs read are here, the rest stay in the exporters'
family tables.
"""

from __future__ import annotations

# --- vLLM: every series carries model_name (the served name) and engine ("0" for one) ------
VLLM_LABELS = ("model_name", "engine")
VLLM_MODEL_LABEL = VLLM_LABELS[0]
VLLM_FINISHED_REASON_LABEL = "finished_reason"
# vllm.v1.engine.FINISH_REASON_STRINGS: every value is pre-created at 0 by vLLM.
VLLM_FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")

# Histograms (seconds)
VLLM_TIME_TO_FIRST_TOKEN = "vllm:time_to_first_token_seconds"
VLLM_INTER_TOKEN_LATENCY = "vllm:inter_token_latency_seconds"
VLLM_E2E_REQUEST_LATENCY = "vllm:e2e_request_latency_seconds"
VLLM_REQUEST_QUEUE_TIME = "vllm:request_queue_time_seconds"
# Histograms (tokens per request)
VLLM_REQUEST_PROMPT_TOKENS = "vllm:request_prompt_tokens"
VLLM_REQUEST_GENERATION_TOKENS = "vllm:request_generation_tokens"
# Gauges
VLLM_NUM_REQUESTS_RUNNING = "vllm:num_requests_running"
VLLM_NUM_REQUESTS_WAITING = "vllm:num_requests_waiting"
VLLM_KV_CACHE_USAGE_PERC = "vllm:kv_cache_usage_perc"  # 0..1, despite the name
# The same gauge before vLLM's V1 engine renamed it; absent from 0.32.0. Queries that must
# work on both write `vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc`.
VLLM_GPU_CACHE_USAGE_PERC = "vllm:gpu_cache_usage_perc"
VLLM_KV_CACHE_NAMES = (VLLM_KV_CACHE_USAGE_PERC, VLLM_GPU_CACHE_USAGE_PERC)
VLLM_KV_CACHE = f"({' or '.join(VLLM_KV_CACHE_NAMES)})"
# Counters
VLLM_PROMPT_TOKENS_TOTAL = "vllm:prompt_tokens_total"
VLLM_GENERATION_TOKENS_TOTAL = "vllm:generation_tokens_total"
VLLM_REQUEST_SUCCESS_TOTAL = "vllm:request_success_total"  # + label finished_reason
VLLM_NUM_PREEMPTIONS_TOTAL = "vllm:num_preemptions_total"
# Prefix cache, in prompt tokens: looked up, and found cached (vLLM enables it by default).
VLLM_PREFIX_CACHE_QUERIES_TOTAL = "vllm:prefix_cache_queries_total"
VLLM_PREFIX_CACHE_HITS_TOTAL = "vllm:prefix_cache_hits_total"
# The same counters in V1 before 0.10 (`gpu_` prefixed), and V0's gauge of the hit rate
# since start; absent from 0.32.0, tried in this order when the current names have no data.
VLLM_GPU_PREFIX_CACHE_QUERIES_TOTAL = "vllm:gpu_prefix_cache_queries_total"
VLLM_GPU_PREFIX_CACHE_HITS_TOTAL = "vllm:gpu_prefix_cache_hits_total"
VLLM_GPU_PREFIX_CACHE_HIT_RATE = "vllm:gpu_prefix_cache_hit_rate"
VLLM_PREFIX_CACHE_COUNTERS = (
    (VLLM_PREFIX_CACHE_HITS_TOTAL, VLLM_PREFIX_CACHE_QUERIES_TOTAL),
    (VLLM_GPU_PREFIX_CACHE_HITS_TOTAL, VLLM_GPU_PREFIX_CACHE_QUERIES_TOTAL),
)

VLLM_TIME_TO_FIRST_TOKEN_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
VLLM_INTER_TOKEN_LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
# Shared by e2e and queue time (and vLLM's other request-phase histograms).
VLLM_REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

# --- the gateway (slakit/stack/gateway) --------------------------------------------------
# `status` is the HTTP status sent, except streams that broke after 200 went out: 502 when
# the engine failed mid-stream, 499 when the client left.
GATEWAY_REQUESTS_TOTAL = "slakit_gateway_requests_total"  # {route, status}
GATEWAY_STAGE_LATENCY = "slakit_gateway_stage_latency_seconds"  # {stage, route}
GATEWAY_TIME_TO_FIRST_TOKEN = "slakit_gateway_time_to_first_token_seconds"  # {route}
GATEWAY_TOKENS_TOTAL = "slakit_gateway_tokens_total"  # {direction="in"|"out", route}
GATEWAY_IN_FLIGHT = "slakit_gateway_in_flight_requests"  # {route}
GATEWAY_RETRIEVED_DOCUMENTS = "slakit_gateway_retrieved_documents"  # histogram
GATEWAY_EMPTY_RETRIEVALS_TOTAL = "slakit_gateway_empty_retrievals_total"
GATEWAY_STAGES = ("retrieve", "generate", "total")
SERVER_ERROR_STATUS = "5.."  # the `status` values an error SLO counts as bad
# 1 ms .. 30 s, dense where interactive SLO thresholds usually sit (50 ms .. 2 s).
GATEWAY_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0,
)  # fmt: skip
GATEWAY_DOCUMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 10, 20)

# --- the GPU exporter (dcgm-exporter names; framebuffer in MiB, temperature in C) ---------
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"  # 0..100
GPU_FB_USED = "DCGM_FI_DEV_FB_USED"
GPU_FB_FREE = "DCGM_FI_DEV_FB_FREE"
GPU_TEMP = "DCGM_FI_DEV_GPU_TEMP"
GPU_POWER = "DCGM_FI_DEV_POWER_USAGE"  # W
GPU_POWER_LIMIT = "DCGM_FI_DEV_POWER_MGMT_LIMIT"  # W
GPU_PROCESS_MEMORY = "slakit_gpu_process_memory_used_bytes"  # {gpu, UUID, pid, process_name}
GPU_NVML_UP = "slakit_gpu_nvml_up"  # no labels; absent while a collection fails
GPU_UP = "slakit_gpu_up"  # {target}: 0 when a collection failed or timed out

# --- the Elasticsearch exporter (elasticsearch_exporter 1.5 names and labels) -------------
ES_HEALTH_STATUS = "elasticsearch_cluster_health_status"  # {cluster, color}: 1 if current
ES_PROCESS_CPU_PERCENT = "elasticsearch_process_cpu_percent"  # {cluster, name, ...}: 0..100
ES_JVM_MEMORY_USED = "elasticsearch_jvm_memory_used_bytes"  # {area="heap"|"non-heap"}
ES_JVM_MEMORY_MAX = "elasticsearch_jvm_memory_max_bytes"  # {area="heap"}
ES_THREAD_POOL_REJECTED = "elasticsearch_thread_pool_rejected_count"  # counter {type}
ES_INDEXING_TIME = "elasticsearch_indices_indexing_index_time_seconds_total"
ES_INDEXING_TOTAL = "elasticsearch_indices_indexing_index_total"
ES_GC_SECONDS = "elasticsearch_jvm_gc_collection_seconds"  # _count, _sum {gc}
ES_THREAD_POOL_ACTIVE = "elasticsearch_thread_pool_active_count"  # {type}
ES_THREAD_POOL_QUEUE = "elasticsearch_thread_pool_queue_count"  # {type}
ES_SEARCH_TOTAL = "elasticsearch_indices_search_query_total"
ES_SEARCH_SECONDS = "elasticsearch_indices_search_query_time_seconds"  # a counter
ES_CANARY_SECONDS = "slakit_es_canary_search_seconds"  # histogram {index}
ES_UP = "slakit_es_up"  # {target}: 0 when a stats request of the last scrape failed
ES_CANARY_FAILURES = "slakit_es_canary_failures_total"  # {index, reason}
ES_FRESHNESS_FAILURES = "slakit_es_freshness_failures_total"  # {index, reason}
# {index}: now minus the newest document's timestamp; absent after a failed query
ES_INDEX_FRESHNESS = "slakit_es_index_freshness_seconds"
ES_INDEX_STATE = "slakit_es_index_state"  # {cluster, index, state="open"|"closed"}: 1 if current
# The exporter's configured count queries (`count_queries`), e.g. log lines by log.level:
# documents each matched over its window (one series per `group_by` value, group "" without
# one), and that window; `_up` 0 when one of them failed at the last scrape.
COUNT_QUERY_COLLECTOR = "slakit_es_count_query"  # the prefix of its collection health
ES_COUNT_QUERY_HITS = f"{COUNT_QUERY_COLLECTOR}_hits"  # {query, index, group}
ES_COUNT_QUERY_WINDOW = f"{COUNT_QUERY_COLLECTOR}_window_seconds"  # {query}
ES_COUNT_QUERY_UP = f"{COUNT_QUERY_COLLECTOR}_up"  # {target}
COUNT_QUERY_LABEL, COUNT_GROUP_LABEL = "query", "group"

# --- the inference exporter (slakit's canary and RAG prober) -----------------------------
INFERENCE_UP = "slakit_inference_up"  # {target}
INFERENCE_MODEL_INFO = "slakit_inference_model_info"  # {model, max_model_len, owned_by}
PROBE_UP = "slakit_inference_probe_up"
PROBES_TOTAL = "slakit_inference_probe_total"  # {result="success"|"failure", reason}
PROBE_LAST_SUCCESS = "slakit_inference_last_success_timestamp_seconds"
PROBE_TIME_TO_FIRST_TOKEN = "slakit_inference_time_to_first_token_seconds"
PROBE_INTER_TOKEN_LATENCY = "slakit_inference_inter_token_latency_seconds"
PROBE_E2E_LATENCY = "slakit_inference_e2e_latency_seconds"
RAG_PROBE_UP = "slakit_inference_rag_probe_up"
RAG_PROBES_TOTAL = "slakit_inference_rag_probe_total"  # {result, reason}
RAG_PROBE_LATENCY = "slakit_inference_rag_latency_seconds"
RAG_PROBE_RETRIEVE = "slakit_inference_rag_retrieve_seconds"
RAG_PROBE_GENERATE = "slakit_inference_rag_generate_seconds"
RAG_PROBE_DOCUMENTS = "slakit_inference_rag_documents"
RAG_PROBE_EMPTY_TOTAL = "slakit_inference_rag_empty_retrievals_total"
# 5 ms (a loopback token gap) to 60 s (a cold or saturated engine's first token).
PROBE_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0,
    1.5, 2.5, 4.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
)  # fmt: skip

# The histograms behind server-side latency SLIs -> their bucket edges (alerts judge at one).
HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    VLLM_TIME_TO_FIRST_TOKEN: VLLM_TIME_TO_FIRST_TOKEN_BUCKETS,
    VLLM_INTER_TOKEN_LATENCY: VLLM_INTER_TOKEN_LATENCY_BUCKETS,
    VLLM_E2E_REQUEST_LATENCY: VLLM_REQUEST_LATENCY_BUCKETS,
    VLLM_REQUEST_QUEUE_TIME: VLLM_REQUEST_LATENCY_BUCKETS,
    GATEWAY_STAGE_LATENCY: GATEWAY_LATENCY_BUCKETS,
    GATEWAY_TIME_TO_FIRST_TOKEN: GATEWAY_LATENCY_BUCKETS,
}

# --- slakit's own recording rules (`slakit gen alerts`), per SLO (label `slo`) ------------
SLO_LABEL = "slo"
SLO_ERROR_RATIO = "slakit:slo_errors:ratio_rate{window}"  # bad share over `window`
SLO_OBJECTIVE = "slakit:slo_objective:ratio"  # e.g. 0.99
SLO_ERROR_BUDGET = "slakit:slo_error_budget:ratio"  # 1 - objective
SLO_PERIOD_DAYS = "slakit:slo_time_period:days"  # the budget window
SLO_PERIOD_BURN_RATE = "slakit:slo_period_burn_rate:ratio"  # budget-window ratio / budget
SLO_BUDGET_REMAINING = "slakit:slo_period_error_budget_remaining:ratio"  # 1 - the above
SLO_INFO = "slakit:slo_info"  # 1, labels: slo, objective, sli, window

# --- engine replicas behind HAProxy (`stack up --replicas N`; HAProxy 2.6's own exporter) --
REPLICA_LABEL = "replica"  # the scrape label of each engine replica: "1", "2", ...
BALANCER_JOB = "balancer"  # Prometheus job of HAProxy's exporter
HAPROXY_SERVER_STATUS = "haproxy_server_status"  # 1 for the `state` a server is in, else 0
HAPROXY_SERVER_CURRENT_SESSIONS = "haproxy_server_current_sessions"  # open to it now
HAPROXY_BACKEND = "engines"  # HAProxy's pool of engine replicas: `proxy` of its server series
HAPROXY_SERVER_LABEL = "server"  # a replica's name in the pool: engine-1, engine-2, ...
HAPROXY_STATE_LABEL = "state"  # UP, DOWN (failed checks or the breaker), MAINT (drained), ...
