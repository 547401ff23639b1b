"""Reports built in code, for renderer and `slakit check` tests and the example rendering.

Values are plausible for the embedded stack (a tiny model on CPU behind the RAG gateway)
and deterministic (seeded), so a rendering can be compared across runs. `make_slo` judges
its verdict with the evaluator's own `judge`, so a test states only
what it measured. Each report embeds a valid scenario with one SLO per result, so it
re-gates as a stored one does.
"""

from __future__ import annotations

import math
import random

from slakit.evaluate import judge
from slakit.report.model import (
    Correlated,
    KindSummary,
    LoadInfo,
    Point,
    QueueRising,
    Report,
    ServerSeries,
    SloResult,
    SweepStep,
)
from slakit.scenario import Slo
from slakit.sli import CATALOGUE
from slakit.units import parse_objective
from slakit.verdict import judge_run, overall

START = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC
MIN_SAMPLES = 20
TARGET = {
    "openai": "http://127.0.0.1:18080",
    "gateway": "http://127.0.0.1:18080",
    "elasticsearch": "http://127.0.0.1:19200",
    "prometheus": "http://127.0.0.1:19090",
    "model": "slakit-tiny",
    "engine": "vllm",
    "api_key_env": None,
}


def make_slo(
    name: str,
    sli: str,
    aggregation: str,
    objective: str,
    value: float | None,
    *,
    samples: int = 1200,
    warn: str | None = None,
    scope: str | None = None,
    baseline_value: float | None = None,
) -> SloResult:
    """An SLO result whose verdict and detail the evaluator's own `judge` gives its value."""
    spec = CATALOGUE[sli]
    slo = Slo(name=name, sli=sli, aggregation=aggregation, objective=objective, warn=warn)
    verdict, detail = judge(slo, value, samples, MIN_SAMPLES)
    regression = None
    if baseline_value and value is not None:
        sign = -1 if parse_objective(objective).higher_is_better else 1
        regression = sign * (value - baseline_value) / baseline_value
    return SloResult(
        name=name,
        sli=sli,
        title=spec.title,
        side=spec.side,
        aggregation=aggregation,
        objective=objective,
        warn=warn,
        scope=scope,
        dimension=spec.dimension,
        value=value,
        samples=samples,
        verdict=verdict,
        detail=detail,
        baseline_value=baseline_value,
        regression=regression,
    )


def standard_slos(with_baseline: bool = False) -> list[SloResult]:
    """The SLOs a chat + RAG scenario typically states; all met, latency only just."""
    base = (lambda v: v) if with_baseline else (lambda v: None)
    return [
        make_slo(
            "latency-p95", "latency", "p95", "< 1s", 0.82, warn="< 800ms", baseline_value=base(0.74)
        ),
        make_slo("ttft-p95", "ttft", "p95", "< 500ms", 0.214, baseline_value=base(0.221)),
        make_slo(
            "rag-latency-p99",
            "latency",
            "p99",
            "< 2s",
            1.41,
            scope="rag",
            samples=410,
            baseline_value=base(1.30),
        ),
        make_slo("error-rate", "error_rate", "ratio", "< 1%", 0.0042, samples=2400),
        make_slo("throughput", "throughput_rps", "rate", ">= 8 rps", 9.62, samples=2400),
        make_slo("kv-cache", "vllm_kv_cache_usage", "max", "< 90%", 0.62, samples=120),
    ]


def slo_spec(result: SloResult) -> dict:
    """The scenario's SLO entry that `result` answers, so a stored report re-gates."""
    fields = ("name", "sli", "aggregation", "objective", "warn", "scope")
    return {f: getattr(result, f) for f in fields if getattr(result, f) is not None}


def make_timeseries(
    seconds: int, rps=lambda t: 9.62, warmup: int = 10, seed: int = 7
) -> list[Point]:
    """Per-second client buckets: latency that creeps up with load and is high in warm-up."""
    rng = random.Random(seed)
    points = []
    for i in range(seconds):
        load = rps(i)
        cold = 1.8 if i < warmup else 1.0
        p50 = (0.28 + 0.02 * load + 0.04 * math.sin(i / 17)) * cold * rng.uniform(0.92, 1.08)
        requests = max(0, round(rng.gauss(load, math.sqrt(load))))
        errors = sum(rng.random() < 0.004 for _ in range(requests))
        points.append(
            Point(
                t=START + i,
                requests=requests,
                errors=errors,
                latency_p50=p50,
                latency_p95=p50 * rng.uniform(1.6, 2.1),
                ttft_p95=p50 * 0.4 * rng.uniform(0.9, 1.3),
                output_tokens=requests * 32,
            )
        )
    return points


def make_server(seconds: int, step: int = 5, seed: int = 7) -> list[ServerSeries]:
    """Prometheus series at its scrape step, plus one the stack did not export."""
    rng = random.Random(seed)
    times = [START + t for t in range(0, seconds + 1, step)]

    def series(name: str, title: str, unit: str, promql: str, fn) -> ServerSeries:
        return ServerSeries(
            name=name,
            title=title,
            unit=unit,
            promql=promql,
            points=[(t, fn(t - START)) for t in times],
        )

    return [
        series(
            "vllm_queue_length",
            "vLLM waiting requests",
            "number",
            "sum(vllm:num_requests_waiting)",
            lambda x: max(0, round(rng.gauss(3, 2))),
        ),
        series(
            "vllm_kv_cache_usage",
            "vLLM KV-cache usage",
            "ratio",
            "max(vllm:kv_cache_usage_perc)",
            lambda x: 0.35 + 0.25 * x / seconds,
        ),
        series(
            "vllm_ttft",
            "vLLM time to first token p95",
            "seconds",
            "histogram_quantile(0.95, ...)",
            lambda x: rng.uniform(0.15, 0.25),
        ),
        series(
            "gateway_throughput",
            "Gateway requests",
            "per_second",
            "sum(rate(slakit_gateway_requests_total[1m]))",
            lambda x: rng.gauss(9.6, 0.4),
        ),
        ServerSeries(
            name="es_search_latency",
            title="Elasticsearch mean search latency",
            unit="seconds",
            promql="sum(rate(...)) / sum(rate(...))",
            note="no data: the Elasticsearch exporter is not scraped",
        ),
    ]


def make_kinds(points: list[Point], seconds: float) -> dict[str, KindSummary]:
    requests = sum(p.requests for p in points)
    errors = sum(p.errors for p in points)

    def kind(share: float, scale: float, ttft: bool = True) -> KindSummary:
        n, e = round(requests * share), round(errors * share)
        return KindSummary(
            requests=n,
            errors=e,
            error_rate=e / max(n, 1),
            throughput_rps=n / seconds,
            latency_p50=0.41 * scale,
            latency_p95=0.82 * scale,
            latency_p99=1.12 * scale,
            ttft_p50=0.11 * scale if ttft else None,
            ttft_p95=0.214 * scale if ttft else None,
            errors_by_class={"timeout": e} if e else {},
        )

    return {"all": kind(1.0, 1.0), "chat": kind(0.83, 0.9), "rag": kind(0.17, 1.3)}


ALERTS = [
    {
        "received_at": START + 75,
        "notification": {
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "startsAt": "2026-01-01T12:01:10Z",
                    "labels": {
                        "alertname": "SlakitLatencyP95High",
                        "severity": "warning",
                        "slo": "latency-p95",
                    },
                    "annotations": {"summary": "p95 latency above 800ms for 1m"},
                }
            ],
        },
    },
    {
        "received_at": START + 110,
        "notification": {
            "status": "resolved",
            "alerts": [
                {
                    "status": "resolved",
                    "startsAt": "2026-01-01T12:01:10Z",
                    "labels": {
                        "alertname": "SlakitLatencyP95High",
                        "severity": "warning",
                        "slo": "latency-p95",
                    },
                    "annotations": {"summary": "p95 latency above 800ms for 1m"},
                }
            ],
        },
    },
]

# What slakit.limits.explain finds in such a run: the queue grew, and its series followed
# the client's p95 latency.
LIMITS = [
    QueueRising(first=0.4, last=9.0),
    Correlated(series="vLLM waiting requests", r=0.87),
]


def make_report(
    *,
    name: str = "chat-rag-smoke",
    seconds: int = 120,
    warmup: int = 10,
    slos: list[SloResult] | None = None,
    scheduled: int | None = None,
    **fields,
) -> Report:
    """A complete open-loop run at 10 rps for `seconds` (of the scenario's `scheduled`,
    the same by default); `fields` override any Report field."""
    points = make_timeseries(seconds, warmup=warmup)
    slos = standard_slos() if slos is None else slos
    status = fields.get("status", "complete")
    verdict, code = judge_run(slos, True, partial=status == "partial")
    verdict = fields.pop("verdict", verdict)
    values = dict(
        run_id=f"20260101-120000-{name}",
        scenario_name=name,
        scenario_path=f"scenarios/{name}.yaml",
        scenario={
            "name": name,
            "workload": [{"kind": "chat"}, {"kind": "rag"}],
            "load": {"rate": {"rps": 10, "duration": f"{scheduled or seconds}s"}},
            "warmup": f"{warmup}s",
            "slos": [slo_spec(s) for s in slos],
        },
        target=TARGET,
        started_at=START,
        ended_at=START + seconds,
        warmup_end=START + warmup,
        status=status,
        load=LoadInfo(mode="rate", requested_rps=10.0, achieved_rps=9.62, late_share=0.002),
        slos=slos,
        kinds=make_kinds(points, seconds),
        timeseries=points,
        server=make_server(seconds),
        limits=LIMITS,
        verdict=verdict,
        exit_code=code,
    )
    return Report(**{**values, **fields})


def passing_report(**fields) -> Report:
    return make_report(
        slos=[s for s in standard_slos() if s.verdict == "pass"], limits=[], **fields
    )


def failing_report(**fields) -> Report:
    """The standard SLOs plus one no stack can meet (p95 under a millisecond)."""
    impossible = make_slo("latency-impossible", "latency", "p95", "< 1ms", 0.82)
    return make_report(slos=[*standard_slos(), impossible], **fields)


def partial_report(**fields) -> Report:
    """Cut short at 42 s of 120: the target stopped answering; one SLO lacks samples."""
    slos = [
        make_slo("latency-p95", "latency", "p95", "< 1s", 0.61),
        make_slo("rag-latency-p99", "latency", "p99", "< 2s", 1.2, scope="rag", samples=12),
    ]
    return make_report(
        seconds=42,
        scheduled=120,
        slos=slos,
        status="partial",
        partial_reason="the target stopped answering after 42 s (connection refused)",
        load=LoadInfo(
            mode="rate",
            requested_rps=10.0,
            achieved_rps=6.1,
            kept_up=False,
            note="the target fell behind: 31% of requests waited for a free slot",
        ),
        **fields,
    )


def realistic_report(seconds: int = 120, **fields) -> Report:
    """What a real run reports: a warn, a baseline comparison, alerts, limits."""
    return make_report(
        seconds=seconds,
        slos=standard_slos(with_baseline=True),
        alerts=ALERTS,
        baseline_run_id="20251231-120000-chat-rag-smoke",
        **fields,
    )


SWEEP_RATES = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


def _sweep_step(rate: float) -> SweepStep:
    achieved = min(rate, 11.4) * (0.99 if rate < 11 else 1.0)
    p95 = 0.3 + 0.02 * rate if rate <= 8 else 0.3 * rate / 3
    slos = [
        make_slo("latency-p95", "latency", "p95", "< 1s", p95, samples=int(rate * 30)),
        make_slo(
            "error-rate",
            "error_rate",
            "ratio",
            "< 1%",
            0.001 if rate <= 16 else 0.04,
            samples=int(rate * 30),
        ),
    ]
    return SweepStep(rate=rate, achieved_rps=achieved, verdict=overall(slos, True)[0], slos=slos)


def sweep_report(**fields) -> Report:
    """Six 30 s steps from 1 to 32 rps; latency breaks past 8 rps, the capacity."""
    steps = [_sweep_step(rate) for rate in SWEEP_RATES]
    seconds = 30 * len(steps)
    points = make_timeseries(seconds, rps=lambda t: min(SWEEP_RATES[t // 30], 11.4), warmup=0)
    return make_report(
        name="chat-sweep",
        seconds=seconds,
        warmup=0,
        slos=steps[3].slos,
        sweep=steps,
        capacity_rps=8.0,
        timeseries=points,
        verdict="pass",
        load=LoadInfo(
            mode="sweep",
            achieved_rps=11.4,
            kept_up=False,
            note="above 11.4 rps the target queued instead of answering",
        ),
        **fields,
    )
