"""Resource rules: thresholds on causes (GPU, Elasticsearch, the engine, the gateway) read
from the exporters' metrics (names from `slakit.catalogue.metrics`), beside the SLOs'
symptom alerts. Outages (a target down, a canary failing) are `outage_rules`.
"""

from __future__ import annotations

from prometheus_client.utils import floatToGoString

from slakit.catalogue import metrics as names
from slakit.errors import InputError
from slakit.generate.checks import (
    PER_INTERVAL,
    RATE_WINDOW,
    Case,
    Check,
    Clock,
    Enabled,
    Series,
    num,
    pct,
    sel,
)
from slakit.generate.spec import Resources

GPU = {"gpu": "0", "UUID": "GPU-0", "device": "nvidia0", "instance": "gpu:9400", "job": "gpu"}
ES = {"cluster": "slakit", "name": "node-1", "instance": "es:9114", "job": "es"}
VLLM = {"model_name": "m", "engine": "0", "instance": "vllm:8000", "job": "vllm"}


def _histogram(metric: str, buckets: tuple[float, ...], upper: float) -> list[Series]:
    """Observations all in the bucket ending at `upper` (cumulative, with +Inf)."""
    edges = [*(floatToGoString(e) for e in buckets), "+Inf"]
    values = [*buckets, float("inf")]
    return [
        Series(sel(f"{metric}_bucket", {"le": le}), 0, PER_INTERVAL if v >= upper else 0)
        for le, v in zip(edges, values, strict=True)
    ]


def resource_checks(res: Resources, clock: Clock) -> list[Check]:
    """The enabled resource and health checks, thresholds from `res`."""
    w = clock.text(RATE_WINDOW)
    checks = Enabled(clock)
    add = checks.add
    t = res.gpu_memory.above
    used, free = names.GPU_FB_USED, names.GPU_FB_FREE
    add(
        res.gpu_memory,
        alert="GpuMemoryHigh",
        expr=f"{used} / ({used} + {free}) > {num(t)}",
        summary="GPU {{ $labels.gpu }} on {{ $labels.instance }} has little framebuffer left",
        description=f"{{{{ $value | humanizePercentage }}}} of GPU memory used (above {pct(t)}).",
        runbook="vLLM reserves most GPU memory up front (`gpu_memory_utilization`); above that, "
        "look for a second process on the GPU or a memory leak; an OOM kills the engine.",
        ranged=False,
        fires=[_gpu_memory((1 + t) / 2)],
        healthy=[_gpu_memory(t / 2).series],
    )
    t = res.gpu_temperature.above_celsius
    temp = names.GPU_TEMP
    add(
        res.gpu_temperature,
        alert="GpuTemperatureHigh",
        expr=f"{temp} > {num(t)}",
        summary="GPU {{ $labels.gpu }} on {{ $labels.instance }} runs hot",
        description=f"GPU at {{{{ $value | humanize }}}} C (above {num(t)} C): it will throttle.",
        runbook="Check cooling and fans; a throttled GPU shows as rising latency and "
        "`slakit_gpu_throttle_reason`.",
        ranged=False,
        fires=[Case([Series(sel(temp, GPU), t + 5)], GPU, t + 5)],
        healthy=[[Series(sel(temp, GPU), t - 20)]],
    )
    t = res.es_cpu.above
    cpu = names.ES_PROCESS_CPU_PERCENT
    hot = (100 + t * 100) / 2
    add(
        res.es_cpu,
        alert="ElasticsearchCpuHigh",
        expr=f"{cpu} > {num(t * 100)}",
        summary="Elasticsearch node {{ $labels.name }} is short of CPU",
        description=f"Process CPU at {{{{ $value | humanize }}}}% (above {pct(t)}).",
        runbook="Look at search and indexing rates and the slow log; retrieval latency rises "
        "with it.",
        ranged=False,
        fires=[Case([Series(sel(cpu, ES), hot)], ES, hot)],
        healthy=[[Series(sel(cpu, ES), t * 50)]],
    )
    for color, setting in (("red", res.es_cluster_red), ("yellow", res.es_cluster_yellow)):
        status = sel(names.ES_HEALTH_STATUS, {"color": color})
        labels = {**ES, "color": color}
        add(
            setting,
            alert=f"ElasticsearchCluster{color.title()}",
            expr=f"{status} == 1",
            summary="Elasticsearch cluster {{ $labels.cluster }} is " + color,
            description=(
                "Some primary shards are unassigned: searches miss documents or fail."
                if color == "red"
                else "Some replica shards are unassigned: one more node lost loses data."
            ),
            runbook="`GET _cluster/allocation/explain` says why a shard is unassigned; "
            "check disk watermarks and lost nodes.",
            ranged=False,
            fires=[Case([Series(sel(names.ES_HEALTH_STATUS, labels), 1)], labels)],
            healthy=[[Series(sel(names.ES_HEALTH_STATUS, labels), 0)]],
        )
    t = res.es_search_rejections.above_per_s
    rejected = names.ES_THREAD_POOL_REJECTED
    labels = {**ES, "type": "search"}
    add(
        res.es_search_rejections,
        alert="ElasticsearchSearchRejections",
        expr=f'rate({rejected}{{type="search"}}[{w}]) > {num(t)}',
        summary="Elasticsearch node {{ $labels.name }} rejects searches",
        description=f"The search thread pool's queue is full: more than {num(t)} "
        f"rejections per second over {w}; retrieval requests fail.",
        runbook="Searches arrive faster than the node serves them: check the search rate, "
        "slow queries and CPU; add replicas or nodes, or shed load upstream.",
        ranged=True,
        # Enough that even the first, extrapolated rate is above the threshold.
        fires=[
            Case(
                [Series(sel(rejected, labels), 0, (t + 1) * 2 * clock.seconds(RATE_WINDOW))],
                labels,
            )
        ],
        healthy=[[Series(sel(rejected, labels), 5)]],
    )
    t = res.es_indexing_latency.above
    itime, itotal = names.ES_INDEXING_TIME, names.ES_INDEXING_TOTAL
    add(
        res.es_indexing_latency,
        alert="ElasticsearchIndexingSlow",
        expr=f"rate({itime}[{w}]) / rate({itotal}[{w}]) > {num(t)}",
        summary="Elasticsearch node {{ $labels.name }} indexes slowly",
        description=f"Mean indexing time {{{{ $value | humanize }}}}s per document over {w} "
        f"(above {num(t * 1000)} ms): fresh documents reach the retriever late.",
        runbook="Check merges, refresh interval, disk I/O and bulk sizes.",
        ranged=True,
        fires=[_indexing(t * 1.5)],
        healthy=[_indexing(t / 2).series],
    )
    t = res.es_jvm_heap.above
    heap_used = sel(names.ES_JVM_MEMORY_USED, {"area": "heap"})
    heap_max = sel(names.ES_JVM_MEMORY_MAX, {"area": "heap"})
    add(
        res.es_jvm_heap,
        alert="ElasticsearchHeapHigh",
        expr=f"{heap_used} / {heap_max} > {num(t)}",
        summary="Elasticsearch node {{ $labels.name }} is short of heap",
        description=f"{{{{ $value | humanizePercentage }}}} of the JVM heap used (above "
        f"{pct(t)}): long GC pauses and circuit-breaker errors follow.",
        runbook="Look at field data, large aggregations and shard count; raise the heap "
        "(at most half the RAM) or add nodes.",
        ranged=False,
        fires=[_heap((1 + t) / 2)],
        healthy=[_heap(t / 2).series],
    )
    t = res.inference_latency.above
    e2e = names.PROBE_E2E_LATENCY
    buckets = names.PROBE_LATENCY_BUCKETS
    # Slow probes land in a bucket whose lower edge is already at or above the threshold.
    lower = next((e for e in buckets if e >= t), buckets[-1])
    if lower == buckets[-1]:
        raise InputError(
            f"resources.inference_latency.above: must be below {buckets[-2]:g} s, the "
            "canary histogram's next-to-largest bucket"
        )
    slow = buckets[buckets.index(lower) + 1]
    add(
        res.inference_latency,
        alert="InferenceLatencyHigh",
        expr=f"histogram_quantile(0.95, sum by (le) (rate({e2e}_bucket[{w}]))) > {num(t)}",
        summary="The inference canary is slow",
        description=f"p95 of the canary's request latency is {{{{ $value | humanize }}}}s over "
        f"{w} (above {num(t)} s).",
        runbook="Check the engine's queue (`vllm:num_requests_waiting`), KV-cache use and "
        "TTFT; a saturated engine queues requests.",
        ranged=True,
        fires=[Case(_histogram(e2e, buckets, slow), {}, lower + (slow - lower) * 0.95)],
        healthy=[_histogram(e2e, buckets, buckets[0])],
    )
    t = res.error_rate.above
    requests = names.GATEWAY_REQUESTS_TOTAL
    add(
        res.error_rate,
        alert="GatewayErrorRateHigh",
        expr=f'sum(rate({requests}{{status=~"{names.SERVER_ERROR_STATUS}"}}[{w}])) / '
        f"sum(rate({requests}[{w}])) > {num(t)}",
        summary="The gateway answers many requests with 5xx",
        description=f"{{{{ $value | humanizePercentage }}}} of gateway requests failed over {w} "
        f"(above {pct(t)}).",
        runbook="The gateway's log and spans say which stage fails: 502 is the engine, "
        "503 Elasticsearch.",
        ranged=True,
        fires=[_errors(min(1.0, (1 + t) / 2))],
        healthy=[_errors(t / 2).series],
    )
    _log_errors(res, checks)
    t = res.vllm_queue_growing.kv_cache_at_least
    waiting = names.VLLM_NUM_REQUESTS_WAITING
    add(
        res.vllm_queue_growing,
        alert="VllmQueueGrowing",
        expr=f"deriv({waiting}[{w}]) > 0\nand on (instance, model_name, engine)\n"
        f"{names.VLLM_KV_CACHE} >= {num(t)}",
        summary="vLLM on {{ $labels.instance }} is out of KV cache and its queue grows",
        description=f"Requests wait longer and longer: the KV cache is at least {pct(t)} "
        f"full and the waiting queue grew over {w}.",
        runbook="The engine is at capacity: shed or rate-limit load, shorten max_tokens, or "
        "add replicas; preemptions (`vllm:num_preemptions_total`) will rise.",
        ranged=True,
        fires=[_queue(kv, (1 + t) / 2) for kv in names.VLLM_KV_CACHE_NAMES],
        healthy=[_queue(names.VLLM_KV_CACHE_NAMES[0], t / 2).series],
    )
    return checks.checks


EXPORTER = {"instance": "es:9114", "job": "es"}


def _log_errors(res: Resources, checks: Enabled) -> None:
    """ERROR lines a minute: the count over the query's window, scaled to a minute (a
    count over 5m is divided by 5), above the threshold."""
    setting = res.log_errors
    t = setting.above_per_minute
    query = {names.COUNT_QUERY_LABEL: setting.query}
    level = {**query, names.COUNT_GROUP_LABEL: setting.level}
    hits = sel(names.ES_COUNT_QUERY_HITS, level)
    errors = {**EXPORTER, **level, "index": "logs-*"}
    window = sel(names.ES_COUNT_QUERY_WINDOW, query)
    checks.add(
        setting,
        alert="LogErrorsHigh",
        expr=f"{hits}\n/ on (job, instance, {names.COUNT_QUERY_LABEL}) group_left ()\n"
        f"({window} / 60) > {num(t)}",
        summary="More than " + num(t) + " ERROR log lines a minute",
        description="{{ $value | humanize }} ERROR lines a minute in the logs counted by "
        f"count query {setting.query} (above {num(t)}).",
        runbook="The run report's ERROR lines (count and top messages), or search the logs: "
        "`log.level:error` in `logs-slakit.*`; each line's `trace.id` finds its request's "
        "spans. The gateway's `/v1/... answered 5xx` lines are the engine's or "
        "Elasticsearch's failures, the engine's own lines say which.",
        ranged=False,
        fires=[_log_lines(errors, (t + 1) * 5, 300)],
        healthy=[_log_lines(errors, t, 60).series],
    )


def _log_lines(labels: dict[str, str], count: float, window_s: float) -> Case:
    """`count` lines over a window of `window_s`: count * 60 / window_s a minute."""
    query = {k: labels[k] for k in (*EXPORTER, names.COUNT_QUERY_LABEL)}
    return Case(
        [
            Series(sel(names.ES_COUNT_QUERY_HITS, labels), count),
            Series(sel(names.ES_COUNT_QUERY_WINDOW, query), window_s),
        ],
        labels,
        count * 60 / window_s,
    )


def _gpu_memory(used_share: float) -> Case:
    used = round(1000 * used_share)
    return Case(
        [
            Series(sel(names.GPU_FB_USED, GPU), used),
            Series(sel(names.GPU_FB_FREE, GPU), 1000 - used),
        ],
        GPU,
        used / 1000,
    )


def _indexing(seconds_per_doc: float) -> Case:
    return Case(
        [
            Series(sel(names.ES_INDEXING_TIME, ES), 0, PER_INTERVAL * seconds_per_doc),
            Series(sel(names.ES_INDEXING_TOTAL, ES), 0, PER_INTERVAL),
        ],
        ES,
        seconds_per_doc,
    )


def _heap(share: float) -> Case:
    heap = {**ES, "area": "heap"}
    used = round(1000 * share)
    return Case(
        [
            Series(sel(names.ES_JVM_MEMORY_USED, heap), used),
            Series(sel(names.ES_JVM_MEMORY_MAX, heap), 1000),
        ],
        heap,
        used / 1000,
    )


def _errors(share: float) -> Case:
    bad = PER_INTERVAL * share
    route = {"route": "/v1/chat/completions"}
    return Case(
        [
            Series(sel(names.GATEWAY_REQUESTS_TOTAL, {**route, "status": "500"}), 0, bad),
            Series(
                sel(names.GATEWAY_REQUESTS_TOTAL, {**route, "status": "200"}),
                0,
                PER_INTERVAL - bad,
            ),
        ],
        {},
        share,
    )


def _queue(kv_metric: str, kv: float) -> Case:
    return Case(
        [
            Series(sel(names.VLLM_NUM_REQUESTS_WAITING, VLLM), 0, 1),
            Series(sel(kv_metric, VLLM), kv),
        ],
        VLLM,
    )
