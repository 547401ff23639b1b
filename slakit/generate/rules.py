"""Alerting rules as data: each `Check` is one Prometheus alert together with the synthetic
series that must make it fire and the healthy ones that must not, so the rule file and its
promtool unit tests are generated from the same object and cannot drift apart.

SLO checks are multi-window, multi-burn-rate alerts over recorded error ratios; resource
checks are thresholds on exporter metrics (names from `slakit.catalogue.metrics`).

Over 400 lines until the alert rework (issue 11: one page and one ticket alert per SLO, outage
alerts) splits it into SLO and resource rules, one module each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

from slakit.catalogue import metrics as names
from slakit.errors import InputError
from slakit.generate.budget import EventSlo
from slakit.generate.spec import Alerting, BurnRate, ResourceRule, Resources
from slakit.stack import monitoring
from slakit.stack.config import StackConfig
from slakit.units import prom_duration

RECORD = "slakit:slo_errors:ratio_rate{window}"
SLO_ALERT = "SloBurnRate{long}{short}"
PER_INTERVAL = 1000  # synthetic requests per sample interval
RATE_WINDOW = 300  # seconds: the rate window of rate-based resource checks


@dataclass(frozen=True)
class Clock:
    """Durations as written into rules: the spec's, or divided by `factor` for live tests."""

    factor: int = 1

    def seconds(self, seconds: float) -> float:
        if self.factor == 1 or seconds == 0:
            return seconds
        return max(1, round(seconds / self.factor))

    def text(self, seconds: float) -> str:
        return prom_duration(self.seconds(seconds))


@dataclass(frozen=True)
class Series:
    """A synthetic series: `start`, then `step` added every sample interval."""

    selector: str
    start: float
    step: float = 0.0


@dataclass(frozen=True)
class Case:
    """One synthetic input that fires the alert with `labels` (from the series) and `value`
    (`$value`, for the annotations); `samples` are (series, value) that must then be
    recorded."""

    series: list[Series]
    labels: dict[str, str] = field(default_factory=dict)
    value: float | None = None
    samples: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """One alerting rule with its unit-test inputs."""

    alert: str
    expr: str
    for_s: float  # as written in the rule (already scaled)
    severity: str
    summary: str
    description: str
    runbook: str  # what to look at first, for RUNBOOK.md
    ranged: bool  # reads a range (rate, deriv): first true one sample interval in
    fires: list[Case]
    healthy: list[list[Series]]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def _num(value: float) -> str:
    return f"{value:.10g}"


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.6g}%"


# --- SLO burn-rate checks ----------------------------------------------------------------


def windows(alerting: Alerting) -> list[float]:
    """Every long and short window of the burn rates, shortest first."""
    return sorted({w for r in alerting.burn_rates for w in (r.long_window, r.short_window)})


def recording_rules(plan: EventSlo, alerting: Alerting, clock: Clock) -> list[dict]:
    """The SLO's error ratio over each window, recorded once for all its alerts to read."""
    return [
        {
            "record": RECORD.format(window=prom_duration(w)),
            "expr": plan.error_ratio(clock.text(w)),
            "labels": {"slo": plan.slo.name},
        }
        for w in windows(alerting)
    ]


def _ratio_series(plan: EventSlo, bad_share: float) -> list[Series]:
    """Counters where `bad_share` of the requests are bad events for `plan`."""
    bad = PER_INTERVAL * bad_share
    if plan.bad:  # errors and successes; the total selector sums both
        ok = _series(plan.total, {"status": "200"})
        return [Series(_series(plan.bad), 0, bad), Series(ok, 0, PER_INTERVAL - bad)]
    return [
        Series(_series(plan.total), 0, PER_INTERVAL),
        Series(_series(plan.good), 0, PER_INTERVAL - bad),
    ]


def _series(selector: str, extra: dict[str, str] | None = None) -> str:
    """A selector as a concrete series: regex matchers (`=~"5.."`) become a matching value."""
    metric, _, inner = selector.removesuffix("}").partition("{")
    labels: dict[str, str] = {}
    for matcher in filter(None, (m.strip() for m in inner.split(","))):
        key, _, value = matcher.partition("=")
        if value.startswith("~"):
            value = value[1:].replace(".", "0")  # `5..` -> `500`
        labels[key] = value.strip('"')
    labels.update(extra or {})
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{body}}}" if body else metric


def slo_check(plan: EventSlo, rate: BurnRate, alerting: Alerting, clock: Clock) -> Check:
    """Both windows' burn rate above the factor. `$value` is the long window's burn rate.
    Tests: 25% above the threshold (at most every request bad) fires, 20% below does not."""
    slo = plan.slo
    long_, short = prom_duration(rate.long_window), prom_duration(rate.short_window)
    record = RECORD.format
    threshold = _num(rate.factor)
    expr = (
        f'{record(window=long_)}{{slo="{slo.name}"}} / {_num(plan.budget)} > {threshold}\nand\n'
        f'{record(window=short)}{{slo="{slo.name}"}} / {_num(plan.budget)} > {threshold}'
    )
    long_text, short_text = clock.text(rate.long_window), clock.text(rate.short_window)
    exhausted = clock.text(alerting.budget_window / rate.factor)
    annotations = {
        "objective": f"{slo.sli} {slo.aggregation} {slo.objective}: {plan.meaning}",
        "burn_rate": "{{ $value | humanize }}",
    }
    if plan.bucket_le:
        annotations["bucket_le"] = plan.bucket_le
    fire_share = min(1.0, rate.factor * plan.budget * 1.25)
    # The first burn rate's test also checks every recorded ratio.
    first = rate is alerting.burn_rates[0]
    samples = [
        (f'{record(window=prom_duration(w))}{{slo="{slo.name}"}}', fire_share)
        for w in (windows(alerting) if first else [])
    ]
    return Check(
        alert=SLO_ALERT.format(long=long_, short=short),
        expr=expr,
        for_s=clock.seconds(rate.for_),
        severity=rate.severity,
        summary=f"SLO {slo.name} is burning its error budget over {threshold}x too fast",
        description=(
            f"Objective: {plan.meaning}. Over the last {long_text} bad requests were "
            f"{{{{ $value | humanize }}}}x the budget of {_pct(plan.budget)} (also above "
            f"{threshold}x over {short_text}); at {threshold}x the "
            f"{clock.text(alerting.budget_window)} budget is gone in {exhausted}."
        ),
        runbook=(
            f"The error budget burns {threshold}x too fast over {long_} and {short}. The `slo` "
            "label names the SLO and `objective` says what it promises; look at the SLI's "
            "panel on the dashboard and at what changed when the burn began (deploys, load, "
            "the engine's queue and KV cache, Elasticsearch)."
        ),
        ranged=True,
        fires=[
            Case(
                _ratio_series(plan, fire_share),
                value=fire_share / plan.budget,
                samples=samples,
            )
        ],
        healthy=[_ratio_series(plan, rate.factor * plan.budget * 0.8)],
        labels={"slo": slo.name},
        annotations=annotations,
    )


# --- resource and health checks ----------------------------------------------------------

_GPU = {"gpu": "0", "UUID": "GPU-0", "device": "nvidia0", "instance": "gpu:9400", "job": "gpu"}
_ES = {"cluster": "slakit", "name": "node-1", "instance": "es:9114", "job": "es"}
_VLLM = {"model_name": "m", "engine": "0", "instance": "vllm:8000", "job": "vllm"}


def _sel(metric: str, labels: dict[str, str]) -> str:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{body}}}"


def _histogram(metric: str, buckets: tuple[float, ...], upper: float) -> list[Series]:
    """Observations all in the bucket ending at `upper` (cumulative, with +Inf)."""
    edges = [*(floatToGoString(e) for e in buckets), "+Inf"]
    values = [*buckets, float("inf")]
    return [
        Series(_sel(f"{metric}_bucket", {"le": le}), 0, PER_INTERVAL if v >= upper else 0)
        for le, v in zip(edges, values, strict=True)
    ]


def resource_checks(res: Resources, clock: Clock) -> list[Check]:
    """The enabled resource and health checks, thresholds from `res`."""
    w = clock.text(RATE_WINDOW)
    checks: list[tuple[ResourceRule, dict]] = []

    def add(setting: ResourceRule, **kw) -> None:
        checks.append((setting, kw))

    t = res.gpu_memory.above
    used, free = names.GPU_FB_USED, names.GPU_FB_FREE
    add(
        res.gpu_memory,
        alert="GpuMemoryHigh",
        expr=f"{used} / ({used} + {free}) > {_num(t)}",
        summary="GPU {{ $labels.gpu }} on {{ $labels.instance }} has little framebuffer left",
        description=f"{{{{ $value | humanizePercentage }}}} of GPU memory used (above {_pct(t)}).",
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
        expr=f"{temp} > {_num(t)}",
        summary="GPU {{ $labels.gpu }} on {{ $labels.instance }} runs hot",
        description=f"GPU at {{{{ $value | humanize }}}} C (above {_num(t)} C): it will throttle.",
        runbook="Check cooling and fans; a throttled GPU shows as rising latency and "
        "`slakit_gpu_throttle_reason`.",
        ranged=False,
        fires=[Case([Series(_sel(temp, _GPU), t + 5)], _GPU, t + 5)],
        healthy=[[Series(_sel(temp, _GPU), t - 20)]],
    )
    t = res.es_cpu.above
    cpu = names.ES_PROCESS_CPU_PERCENT
    hot = (100 + t * 100) / 2
    add(
        res.es_cpu,
        alert="ElasticsearchCpuHigh",
        expr=f"{cpu} > {_num(t * 100)}",
        summary="Elasticsearch node {{ $labels.name }} is short of CPU",
        description=f"Process CPU at {{{{ $value | humanize }}}}% (above {_pct(t)}).",
        runbook="Look at search and indexing rates and the slow log; retrieval latency rises "
        "with it.",
        ranged=False,
        fires=[Case([Series(_sel(cpu, _ES), hot)], _ES, hot)],
        healthy=[[Series(_sel(cpu, _ES), t * 50)]],
    )
    for color, setting in (("red", res.es_cluster_red), ("yellow", res.es_cluster_yellow)):
        status = _sel(names.ES_HEALTH_STATUS, {"color": color})
        labels = {**_ES, "color": color}
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
            fires=[Case([Series(_sel(names.ES_HEALTH_STATUS, labels), 1)], labels)],
            healthy=[[Series(_sel(names.ES_HEALTH_STATUS, labels), 0)]],
        )
    t = res.es_search_rejections.above_per_s
    rejected = names.ES_THREAD_POOL_REJECTED
    labels = {**_ES, "type": "search"}
    add(
        res.es_search_rejections,
        alert="ElasticsearchSearchRejections",
        expr=f'rate({rejected}{{type="search"}}[{w}]) > {_num(t)}',
        summary="Elasticsearch node {{ $labels.name }} rejects searches",
        description=f"The search thread pool's queue is full: more than {_num(t)} "
        f"rejections per second over {w}; retrieval requests fail.",
        runbook="Searches arrive faster than the node serves them: check the search rate, "
        "slow queries and CPU; add replicas or nodes, or shed load upstream.",
        ranged=True,
        # Enough that even the first, extrapolated rate is above the threshold.
        fires=[
            Case(
                [Series(_sel(rejected, labels), 0, (t + 1) * 2 * clock.seconds(RATE_WINDOW))],
                labels,
            )
        ],
        healthy=[[Series(_sel(rejected, labels), 5)]],
    )
    t = res.es_indexing_latency.above
    itime, itotal = names.ES_INDEXING_TIME, names.ES_INDEXING_TOTAL
    add(
        res.es_indexing_latency,
        alert="ElasticsearchIndexingSlow",
        expr=f"rate({itime}[{w}]) / rate({itotal}[{w}]) > {_num(t)}",
        summary="Elasticsearch node {{ $labels.name }} indexes slowly",
        description=f"Mean indexing time {{{{ $value | humanize }}}}s per document over {w} "
        f"(above {_num(t * 1000)} ms): fresh documents reach the retriever late.",
        runbook="Check merges, refresh interval, disk I/O and bulk sizes.",
        ranged=True,
        fires=[_indexing(t * 1.5)],
        healthy=[_indexing(t / 2).series],
    )
    t = res.es_jvm_heap.above
    heap_used = _sel(names.ES_JVM_MEMORY_USED, {"area": "heap"})
    heap_max = _sel(names.ES_JVM_MEMORY_MAX, {"area": "heap"})
    add(
        res.es_jvm_heap,
        alert="ElasticsearchHeapHigh",
        expr=f"{heap_used} / {heap_max} > {_num(t)}",
        summary="Elasticsearch node {{ $labels.name }} is short of heap",
        description=f"{{{{ $value | humanizePercentage }}}} of the JVM heap used (above "
        f"{_pct(t)}): long GC pauses and circuit-breaker errors follow.",
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
        expr=f"histogram_quantile(0.95, sum by (le) (rate({e2e}_bucket[{w}]))) > {_num(t)}",
        summary="The inference canary is slow",
        description=f"p95 of the canary's request latency is {{{{ $value | humanize }}}}s over "
        f"{w} (above {_num(t)} s).",
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
        f"sum(rate({requests}[{w}])) > {_num(t)}",
        summary="The gateway answers many requests with 5xx",
        description=f"{{{{ $value | humanizePercentage }}}} of gateway requests failed over {w} "
        f"(above {_pct(t)}).",
        runbook="The gateway's log and spans say which stage fails: 502 is the engine, "
        "503 Elasticsearch.",
        ranged=True,
        fires=[_errors(min(1.0, (1 + t) / 2))],
        healthy=[_errors(t / 2).series],
    )
    t = res.vllm_queue_growing.kv_cache_at_least
    waiting = names.VLLM_NUM_REQUESTS_WAITING
    add(
        res.vllm_queue_growing,
        alert="VllmQueueGrowing",
        expr=f"deriv({waiting}[{w}]) > 0\nand on (instance, model_name, engine)\n"
        f"{names.VLLM_KV_CACHE} >= {_num(t)}",
        summary="vLLM on {{ $labels.instance }} is out of KV cache and its queue grows",
        description=f"Requests wait longer and longer: the KV cache is at least {_pct(t)} "
        f"full and the waiting queue grew over {w}.",
        runbook="The engine is at capacity: shed or rate-limit load, shorten max_tokens, or "
        "add replicas; preemptions (`vllm:num_preemptions_total`) will rise.",
        ranged=True,
        fires=[_queue(kv, (1 + t) / 2) for kv in names.VLLM_KV_CACHE_NAMES],
        healthy=[_queue(names.VLLM_KV_CACHE_NAMES[0], t / 2).series],
    )
    jobs = res.target_down.jobs or list(monitoring.scrape_targets(StackConfig.model_construct()))
    target = {"job": jobs[0], "instance": "host:1"}
    add(
        res.target_down,
        alert="TargetDown",
        expr=f'up{{job=~"{"|".join(jobs)}"}} == 0',
        summary="Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }}",
        description="The target is down or unreachable; its metrics, and the alerts reading "
        "them, are blind meanwhile.",
        runbook="`slakit stack status` (embedded stack) or the service's own health; then "
        "the part's log.",
        ranged=False,
        fires=[Case([Series(_sel("up", target), 0)], target)],
        healthy=[[Series(_sel("up", target), 1)]],
    )
    probe = {"job": "inference", "instance": "prober:9500"}
    add(
        res.canary_failing,
        alert="InferenceCanaryFailing",
        expr=f"{names.PROBE_UP} == 0",
        summary="The inference canary fails",
        description="A short streamed chat completion through the serving path keeps failing: "
        "users' requests most likely fail too.",
        runbook='`slakit_inference_probe_total{result="failure"}` carries the reason '
        "(connection, timeout, http_5xx, incomplete_stream); then the gateway's and "
        "engine's logs.",
        ranged=False,
        fires=[Case([Series(_sel(names.PROBE_UP, probe), 0)], probe)],
        healthy=[[Series(_sel(names.PROBE_UP, probe), 1)]],
    )
    return [
        Check(for_s=clock.seconds(setting.for_), severity=setting.severity, **kw)
        for setting, kw in checks
        if setting.enabled
    ]


def _gpu_memory(used_share: float) -> Case:
    used = round(1000 * used_share)
    return Case(
        [
            Series(_sel(names.GPU_FB_USED, _GPU), used),
            Series(_sel(names.GPU_FB_FREE, _GPU), 1000 - used),
        ],
        _GPU,
        used / 1000,
    )


def _indexing(seconds_per_doc: float) -> Case:
    return Case(
        [
            Series(_sel(names.ES_INDEXING_TIME, _ES), 0, PER_INTERVAL * seconds_per_doc),
            Series(_sel(names.ES_INDEXING_TOTAL, _ES), 0, PER_INTERVAL),
        ],
        _ES,
        seconds_per_doc,
    )


def _heap(share: float) -> Case:
    heap = {**_ES, "area": "heap"}
    used = round(1000 * share)
    return Case(
        [
            Series(_sel(names.ES_JVM_MEMORY_USED, heap), used),
            Series(_sel(names.ES_JVM_MEMORY_MAX, heap), 1000),
        ],
        heap,
        used / 1000,
    )


def _errors(share: float) -> Case:
    bad = PER_INTERVAL * share
    route = {"route": "/v1/chat/completions"}
    return Case(
        [
            Series(_sel(names.GATEWAY_REQUESTS_TOTAL, {**route, "status": "500"}), 0, bad),
            Series(
                _sel(names.GATEWAY_REQUESTS_TOTAL, {**route, "status": "200"}),
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
            Series(_sel(names.VLLM_NUM_REQUESTS_WAITING, _VLLM), 0, 1),
            Series(_sel(kv_metric, _VLLM), kv),
        ],
        _VLLM,
    )
