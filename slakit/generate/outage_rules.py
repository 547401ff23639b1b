"""Outage rules: every way a target can be down pages or opens a ticket.

- Prometheus cannot scrape a job (`up == 0`), or has no target of it at all (`absent(up)`:
  removed from the configuration or service discovery): `TargetDown`, a ticket (alerts
  that read the job's series are blind meanwhile).
- An exporter runs but its target does not answer it: Elasticsearch (`slakit_es_up`, a
  page: the cluster-health rules cannot fire once its series are gone), NVML or the GPU
  exporter's collection (a ticket: the engine's own failure pages through the canary).
- A canary fails on the path users take: the inference canary and the RAG probe (pages),
  the Elasticsearch canary search (a page, unless Elasticsearch is down, which already
  pages) and the index freshness query or a stale index (a ticket).
"""

from __future__ import annotations

from slakit.catalogue import metrics as names
from slakit.catalogue.alerting import ELASTICSEARCH_DOWN, RAG_CANARY_FAILING
from slakit.generate.checks import RATE_WINDOW, Case, Check, Clock, Enabled, Series, num, sel
from slakit.generate.spec import Resources
from slakit.stack import monitoring
from slakit.stack.balancer import BACKEND, server_name
from slakit.stack.config import StackConfig
from slakit.units import prom_duration

ES_EXPORTER = {"instance": "es-exporter:9114", "job": "es-exporter"}
GPU_EXPORTER = {"instance": "gpu-exporter:9400", "job": "gpu-exporter"}
PROBER = {"instance": "inference-exporter:9500", "job": "inference-exporter"}
INDEX = {**ES_EXPORTER, "index": "docs"}
_PER_S = 0.1  # a failing probe's failures (or a passing one's successes) per second


def _up(job: str, value: float) -> Series:
    return Series(sel("up", {"job": job, "instance": f"{job}:1"}), value)


def outage_checks(res: Resources, clock: Clock) -> list[Check]:
    """The enabled outage checks."""
    w = clock.text(RATE_WINDOW)
    step = _PER_S * clock.seconds(60)  # per sample interval (one a minute, scaled)
    checks = Enabled(clock)
    add = checks.add

    jobs = res.target_down.jobs or list(monitoring.scrape_targets(StackConfig.model_construct()))
    absent = "".join(f'\nor absent(up{{job="{job}"}})' for job in jobs)
    first, last = jobs[0], jobs[-1]
    add(
        res.target_down,
        alert="TargetDown",
        expr=f'up{{job=~"{"|".join(jobs)}"}} == 0{absent}',
        summary="Prometheus cannot scrape job {{ $labels.job }}",
        description="A target of the job is down or unreachable (`up` 0), or the job has no "
        "target at all (its `up` series is gone); its metrics, and the alerts reading them, "
        "are blind meanwhile.",
        runbook="`slakit stack status` (embedded stack) or the service's own health; then "
        "the part's log. No `up` series at all: the job was removed from Prometheus' "
        "configuration or its service discovery finds no target.",
        ranged=False,
        fires=[
            Case(
                [_up(first, 0), *(_up(j, 1) for j in jobs[1:])],
                {"job": first, "instance": f"{first}:1"},
            ),
            Case([_up(j, 1) for j in jobs[:-1]], {"job": last}),
        ],
        healthy=[[_up(j, 1) for j in jobs]],
    )
    for setting, alert, metric, what, runbook in (
        (
            res.canary_failing,
            "InferenceCanaryFailing",
            names.PROBE_UP,
            "A short streamed chat completion through the serving path",
            f'`{names.PROBES_TOTAL}{{result="failure"}}` carries the reason (connection, '
            "timeout, http_5xx, incomplete_stream); then the gateway's and engine's logs.",
        ),
        (
            res.rag_canary_failing,
            RAG_CANARY_FAILING,
            names.RAG_PROBE_UP,
            "A RAG query through the gateway (retrieval, then generation)",
            f'`{names.RAG_PROBES_TOTAL}{{result="failure"}}` carries the reason; a 503 is '
            "Elasticsearch, a 502 the engine (see ElasticsearchDown and the gateway's log).",
        ),
    ):
        add(
            setting,
            alert=alert,
            expr=f"{metric} == 0",
            summary=f"The {'RAG' if 'Rag' in alert else 'inference'} canary fails",
            description=f"{what} keeps failing: users' requests most likely fail too.",
            runbook=runbook,
            ranged=False,
            fires=[Case([Series(sel(metric, PROBER), 0)], PROBER)],
            healthy=[[Series(sel(metric, PROBER), 1)]],
        )
    es_up = {**ES_EXPORTER, "target": "http://es:9200"}
    add(
        res.es_down,
        alert=ELASTICSEARCH_DOWN,
        expr=f"{names.ES_UP} == 0",
        summary="Elasticsearch does not answer its exporter on {{ $labels.instance }}",
        description="The exporter runs but Elasticsearch did not answer its last scrapes: "
        "retrieval fails, and the cluster-health alerts cannot fire without its series.",
        runbook=f"`{names.ES_UP.removesuffix('_up')}_scrape_errors_total` carries the reason "
        "(connection, timeout, http_401, ...); then the node's log and `GET _cluster/health`.",
        ranged=False,
        fires=[Case([Series(sel(names.ES_UP, es_up), 0)], es_up)],
        healthy=[[Series(sel(names.ES_UP, es_up), 1)]],
    )
    by = "sum by (job, instance, index)"
    failures = f"{by} (rate({names.ES_CANARY_FAILURES}[{w}]))"
    successes = f"{by} (rate({names.ES_CANARY_SECONDS}_count[{w}]))"
    es_is_down = f"on (job, instance) {names.ES_UP} == 0"
    add(
        res.es_canary_failing,
        alert="ElasticsearchCanaryFailing",
        expr=f"{failures} > 0\nunless on (job, instance, index) {successes} > 0\n"
        f"unless {es_is_down}",
        summary="Every canary search on index {{ $labels.index }} failed for " + w,
        description="Elasticsearch answers but the retriever's search on the index fails "
        "or finds nothing: RAG answers have no context.",
        runbook=f"`{names.ES_CANARY_FAILURES}` carries the reason (no_hits: an empty or "
        "broken index; index_closed: open it; http_404: it is gone; search_timed_out); then "
        f"the index's health and `{names.ES_INDEX_STATE}`.",
        ranged=True,
        fires=[_canary(failing=step, passing=0, up=1)],
        healthy=[_canary(failing=0, passing=step, up=1).series],
    )
    t = res.es_index_freshness.above
    age = prom_duration(t)
    fresh_failures = f"{by} (rate({names.ES_FRESHNESS_FAILURES}[{w}])) > 0"
    add(
        res.es_index_freshness,
        alert="ElasticsearchIndexNotFresh",
        expr=f"{names.ES_INDEX_FRESHNESS} > {num(t)}\nor\n{fresh_failures}\nunless {es_is_down}",
        summary="Index {{ $labels.index }} is not fresh",
        description=f"Its newest document is older than {age}, or the freshness query "
        f"fails: the retriever serves stale documents.",
        runbook="Check the indexing pipeline that feeds the index (its last run, bulk "
        f"errors); `{names.ES_FRESHNESS_FAILURES}` carries the query's reason "
        "(no_documents: the index is empty).",
        ranged=False,
        fires=[Case([Series(sel(names.ES_INDEX_FRESHNESS, INDEX), t * 2)], INDEX)],
        healthy=[[Series(sel(names.ES_INDEX_FRESHNESS, INDEX), t / 2)]],
    )
    gpu_up = {**GPU_EXPORTER, "target": "nvml"}
    add(
        res.gpu_down,
        alert="GpuDown",
        expr=f"{names.GPU_NVML_UP} == 0\nor\n{names.GPU_UP} == 0",
        summary="No GPU metrics from {{ $labels.instance }}",
        description="NVML does not answer (no driver, or a GPU lost) or the GPU exporter's "
        "collection fails: GPU memory and temperature alerts are blind.",
        runbook="`slakit_gpu_nvml_info` carries NVML's reason (driver_not_loaded, "
        "gpu_is_lost, ...); then `nvidia-smi` and the kernel log (Xid errors).",
        ranged=False,
        fires=[
            Case([Series(sel(names.GPU_NVML_UP, GPU_EXPORTER), 0)], GPU_EXPORTER),
            Case([Series(sel(names.GPU_UP, gpu_up), 0)], gpu_up),
        ],
        healthy=[
            [Series(sel(names.GPU_NVML_UP, GPU_EXPORTER), 1), Series(sel(names.GPU_UP, gpu_up), 1)]
        ],
    )
    _replica_down(res, checks)
    return checks.checks


BALANCED = {"instance": "balancer:8405", "job": names.BALANCER_JOB, "proxy": BACKEND}


def _replica_down(res: Resources, checks: Enabled) -> None:
    """An engine replica the balancer took out of the pool: fewer replicas serve (a ticket;
    all of them out fails the canary, which pages). A drained one (MAINT) is not out."""
    down = {names.HAPROXY_STATE_LABEL: "DOWN"}
    one, other = ({**BALANCED, "server": server_name(i)} for i in (1, 2))
    checks.add(
        res.engine_replica_down,
        alert="EngineReplicaDown",
        expr=f"{sel(names.HAPROXY_SERVER_STATUS, down)} == 1",
        summary="The balancer took engine replica {{ $labels.server }} out of the pool",
        description="HAProxy marks the replica DOWN: its /health checks fail or its circuit "
        "breaker opened on consecutive failed responses; the other replicas carry its load.",
        runbook="`slakit stack status` (is the replica's process alive?), the replica's log, "
        "then the balancer's log: its DOWN line gives the reason (Layer4 connection problem: "
        "the process is gone; Health analyze: consecutive errors opened the breaker).",
        ranged=False,
        fires=[
            Case(
                [
                    Series(sel(names.HAPROXY_SERVER_STATUS, {**one, **down}), 1),
                    Series(sel(names.HAPROXY_SERVER_STATUS, {**other, **down}), 0),
                ],
                {**one, **down},
            )
        ],
        healthy=[
            [Series(sel(names.HAPROXY_SERVER_STATUS, {**s, **down}), 0) for s in (one, other)]
        ],
    )


def _canary(failing: float, passing: float, up: float) -> Case:
    return Case(
        [
            Series(sel(names.ES_CANARY_FAILURES, {**INDEX, "reason": "no_hits"}), 0, failing),
            Series(sel(f"{names.ES_CANARY_SECONDS}_count", INDEX), 0, passing),
            Series(sel(names.ES_UP, {**ES_EXPORTER, "target": "http://es:9200"}), up),
        ],
        INDEX,
    )
