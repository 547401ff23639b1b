"""Metric names of the exporters that alert rules read, for those not importable as constants.

vLLM, the gateway and the inference prober export constants; they are imported here so a
rule module needs this one import. The GPU exporter (`slakit/exporters/gpu.py`) keeps its
dcgm-exporter names in its `FIELDS` table and the Elasticsearch exporter
(`slakit/exporters/elasticsearch.py`) builds prometheus-community elasticsearch_exporter's
names from prefixes, so neither has a constant to import: their names are written here, once,
and the live alert test checks Prometheus really has the Elasticsearch and prober ones.
"""

from __future__ import annotations

from slakit.exporters import inference
from slakit.stack import vllm_metrics as vm
from slakit.gateway import metrics as gm

# slakit/exporters/gpu.py (FIELDS, dcgm-exporter names; framebuffer in MiB, temperature in C)
GPU_FB_USED = "DCGM_FI_DEV_FB_USED"
GPU_FB_FREE = "DCGM_FI_DEV_FB_FREE"
GPU_TEMP = "DCGM_FI_DEV_GPU_TEMP"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"  # 0..100
GPU_POWER = "DCGM_FI_DEV_POWER_USAGE"  # W
GPU_POWER_LIMIT = "DCGM_FI_DEV_POWER_MGMT_LIMIT"  # W
GPU_PROCESS_MEMORY = "slakit_gpu_process_memory_used_bytes"  # {gpu, UUID, pid, process_name}
GPU_NVML_UP = "slakit_gpu_nvml_up"

# slakit/exporters/elasticsearch.py (elasticsearch_exporter 1.5 names and labels)
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

# slakit/exporters/inference.py
PROBE_UP = inference.PROBE_UP
PROBES_TOTAL = inference.PROBES_TOTAL  # {result="success"|"failure", reason}
PROBE_E2E_LATENCY = inference.E2E_LATENCY  # histogram, seconds
PROBE_LATENCY_BUCKETS = inference.LATENCY_BUCKETS

# slakit/stack/vllm_metrics.py: KV-cache usage under its V1 name, or the older one.
VLLM_WAITING = vm.NUM_REQUESTS_WAITING
VLLM_KV_CACHE_NAMES = (vm.KV_CACHE_USAGE_PERC, vm.GPU_CACHE_USAGE_PERC)
VLLM_KV_CACHE = f"({' or '.join(VLLM_KV_CACHE_NAMES)})"

# slakit/stack/gateway/metrics.py
GATEWAY_REQUESTS = gm.REQUESTS_TOTAL  # {route, status}

# The names of the histograms behind server-side latency SLIs -> their bucket edges.
HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    vm.TIME_TO_FIRST_TOKEN: vm.TIME_TO_FIRST_TOKEN_BUCKETS,
    vm.INTER_TOKEN_LATENCY: vm.INTER_TOKEN_LATENCY_BUCKETS,
    vm.E2E_REQUEST_LATENCY: vm.REQUEST_LATENCY_BUCKETS,
    vm.REQUEST_QUEUE_TIME: vm.REQUEST_LATENCY_BUCKETS,
    gm.STAGE_LATENCY: gm.LATENCY_BUCKETS,
    gm.TIME_TO_FIRST_TOKEN: gm.LATENCY_BUCKETS,
}
