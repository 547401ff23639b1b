"""Every way a target goes away pages or opens a ticket, at the minute its rule says: the
real promtool on the generated rules, with the target's series stopping at minute STOP.

A rule with `for: F` whose expression first holds at minute m fires at m + F; a rate over
the canary's 5m window first reads "no success" a whole window after the last success.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slakit.catalogue import metrics as names
from slakit.generate.alerts import generate_alerts
from slakit.generate.checks import RATE_WINDOW
from slakit.stack import monitoring
from slakit.stack.config import StackConfig
from slakit.units import parse_prom_duration
from tests.promtool_cases import alerts_of, at, counter, firing, first_fires_at, gauge, run

STOP = 10  # minute the target goes away: its last good sample is at STOP - 1
UNTIL = 90
JOBS = list(monitoring.scrape_targets(StackConfig()))
ES = {"instance": "es-exporter:9114", "job": "es-exporter"}
GPU = {"instance": "gpu-exporter:9400", "job": "gpu-exporter"}
PROBER = {"instance": "inference-exporter:9500", "job": "inference-exporter"}
INDEX = {**ES, "index": "docs"}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outage")
    spec = out / "spec.yaml"
    spec.write_text("name: t\n")  # every default
    generate_alerts(spec, out)
    return out / "resources.rules.yml"


def _sel(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _for_minutes(rule: dict) -> int:
    return round(parse_prom_duration(rule.get("for", "0s")) / 60)


def up_series(down: str | None = None, gone: str | None = None) -> list[dict]:
    """`up` of every job: 1; `down`'s 0 from STOP on, `gone`'s stale from STOP on."""
    out = []
    for job in JOBS:
        after: float | str = 0 if job == down else "stale" if job == gone else 1
        values = gauge((STOP, 1), (1 if after == "stale" else UNTIL - STOP + 1, after))
        out.append({"series": _sel("up", {"job": job, "instance": f"{job}:1"}), "values": values})
    return out


def stops(metric: str, labels: dict[str, str], before: float = 1, after: float | str = "stale"):
    """A gauge at `before` until STOP, then `after` ("stale": the series ends)."""
    tail = (1, after) if after == "stale" else (UNTIL - STOP + 1, after)
    return {"series": _sel(metric, labels), "values": gauge((STOP, before), tail)}


def check(rules: Path, tmp: Path, name: str, series: list[dict], tests: list[dict]) -> None:
    problems = run(rules, [{"name": name, "input_series": series, "alert_rule_test": tests}], tmp)
    assert problems == [], "\n".join(problems)


def expect(rules: Path, alert: str, labels: dict[str, str], value: float | None = None):
    rule = alerts_of(rules)[alert]
    return rule, firing(rule, labels, value)


def test_elasticsearch_down_behind_a_running_exporter_pages(rules: Path, tmp_path: Path) -> None:
    """Issue 11's case: the exporter answers `slakit_es_up 0` and the health series stop;
    the cluster-health rules cannot fire, ElasticsearchDown pages, and so does the RAG
    canary whose retrieval now fails."""
    target = {**ES, "target": "http://es:9200"}
    health = {**ES, "cluster": "slakit", "color": "green"}
    rule, down = expect(rules, "ElasticsearchDown", target)
    rag_rule, rag = expect(rules, "RagCanaryFailing", PROBER)
    series = [
        *up_series(),
        stops(names.ES_UP, target, after=0),
        stops(names.ES_HEALTH_STATUS, health),
        stops(names.RAG_PROBE_UP, PROBER, after=0),
    ]
    tests = [
        *first_fires_at(STOP + _for_minutes(rule), "ElasticsearchDown", down),
        *first_fires_at(STOP + _for_minutes(rag_rule), "RagCanaryFailing", rag),
        at(UNTIL, "ElasticsearchClusterRed", []),
        at(UNTIL, "TargetDown", []),
    ]
    assert rule["labels"]["severity"] == rag_rule["labels"]["severity"] == "page"
    check(rules, tmp_path, "Elasticsearch down, exporter up", series, tests)


@pytest.mark.parametrize("job", ["es-exporter", "gpu-exporter", "inference-exporter", "vllm"])
def test_a_target_prometheus_cannot_scrape_opens_a_ticket(
    rules: Path, tmp_path: Path, job: str
) -> None:
    """The target stops answering: `up` 0 and its series stale; the alerts on its series
    go blind, TargetDown says so."""
    rule, down = expect(rules, "TargetDown", {"job": job, "instance": f"{job}:1"}, 0)
    series = [
        *up_series(down=job),
        stops(names.ES_UP, {"instance": f"{job}:1", "job": job, "target": "t"}),
    ]
    tests = first_fires_at(STOP + _for_minutes(rule), "TargetDown", down)
    assert rule["labels"]["severity"] == "ticket"
    check(rules, tmp_path, f"{job} down", series, tests)


@pytest.mark.parametrize("job", JOBS)
def test_a_job_whose_target_disappears_opens_a_ticket(
    rules: Path, tmp_path: Path, job: str
) -> None:
    """Removed from the configuration or service discovery: its `up` series itself ends
    (stale), and `absent(up{job=...})` fires for that job alone."""
    rule, gone = expect(rules, "TargetDown", {"job": job}, 1)
    tests = first_fires_at(STOP + _for_minutes(rule), "TargetDown", gone)
    check(rules, tmp_path, f"{job} gone", up_series(gone=job), tests)


def test_gpu_lost_or_gpu_exporter_failing_opens_a_ticket(rules: Path, tmp_path: Path) -> None:
    """NVML stops answering (nvml_up 0, the DCGM series end), or a collection times out
    (the exporter's `slakit_gpu_up` 0 and nvml_up ends)."""
    device = {**GPU, "gpu": "0", "UUID": "GPU-0", "device": "nvidia0"}
    collector = {**GPU, "target": "nvml"}
    rule, lost = expect(rules, "GpuDown", GPU)
    _, failing = expect(rules, "GpuDown", collector)
    minute = STOP + _for_minutes(rule)
    assert rule["labels"]["severity"] == "ticket"
    check(
        rules,
        tmp_path,
        "NVML lost",
        [
            *up_series(),
            stops(names.GPU_NVML_UP, GPU, after=0),
            stops(names.GPU_TEMP, device, before=60),
            {"series": _sel(names.GPU_UP, collector), "values": gauge((UNTIL + 1, 1))},
        ],
        [*first_fires_at(minute, "GpuDown", lost), at(UNTIL, "GpuTemperatureHigh", [])],
    )
    check(
        rules,
        tmp_path,
        "GPU collection failing",
        [*up_series(), stops(names.GPU_NVML_UP, GPU), stops(names.GPU_UP, collector, after=0)],
        first_fires_at(minute, "GpuDown", failing),
    )


@pytest.mark.parametrize(
    ("alert", "metric"),
    [("InferenceCanaryFailing", names.PROBE_UP), ("RagCanaryFailing", names.RAG_PROBE_UP)],
)
def test_a_failing_inference_canary_pages(
    rules: Path, tmp_path: Path, alert: str, metric: str
) -> None:
    rule, failing = expect(rules, alert, PROBER)
    assert rule["labels"]["severity"] == "page"
    tests = first_fires_at(STOP + _for_minutes(rule), alert, failing)
    check(rules, tmp_path, alert, [*up_series(), stops(metric, PROBER, after=0)], tests)


def test_a_failing_elasticsearch_canary_pages_a_window_after_its_last_success(
    rules: Path, tmp_path: Path
) -> None:
    """Searches answer, find nothing (`no_hits`: the index was emptied) from STOP on: the
    5m rate of successes is 0 a whole window after the last one, then `for:` runs."""
    rule, failing = expect(rules, "ElasticsearchCanaryFailing", INDEX)
    window = round(RATE_WINDOW / 60)
    minute = STOP - 1 + window + _for_minutes(rule)
    n = UNTIL + 1
    series = [
        *up_series(),
        {"series": _sel(names.ES_UP, {**ES, "target": "http://es:9200"}), "values": gauge((n, 1))},
        {
            "series": _sel(f"{names.ES_CANARY_SECONDS}_count", INDEX),
            "values": counter(100, (STOP - 1, 6), (n - STOP, 0)),
        },
        {
            "series": _sel(names.ES_CANARY_FAILURES, {**INDEX, "reason": "no_hits"}),
            "values": counter(0, (STOP - 1, 0), (n - STOP, 6)),
        },
    ]
    assert rule["labels"]["severity"] == "page"
    check(rules, tmp_path, "ES canary", series, first_fires_at(minute, rule["alert"], failing))


def test_a_stale_index_or_a_failing_freshness_query_opens_a_ticket(
    rules: Path, tmp_path: Path
) -> None:
    """Nothing indexed since minute 0: the newest document's age passes the threshold at
    threshold/60 minutes (strictly above: one minute later), then `for:` runs. The query
    failing instead (the gauge ends, failures counted) fires from its first counted failure."""
    rule, stale = expect(rules, "ElasticsearchIndexNotFresh", INDEX)
    above = float(rule["expr"].split(" > ")[1].split()[0])
    minute = int(above // 60) + 1 + _for_minutes(rule)
    aging = {"series": _sel(names.ES_INDEX_FRESHNESS, INDEX), "values": f"0+60x{UNTIL}"}
    assert rule["labels"]["severity"] == "ticket"
    check(rules, tmp_path, "index stale", [aging], first_fires_at(minute, rule["alert"], stale))
    failing = {**INDEX, "reason": "no_documents"}
    series = [
        stops(names.ES_INDEX_FRESHNESS, INDEX, before=30),
        {
            "series": _sel(names.ES_FRESHNESS_FAILURES, failing),
            "values": counter(0, (STOP - 1, 0), (UNTIL - STOP + 2, 1)),
        },
    ]
    tests = first_fires_at(STOP + _for_minutes(rule), rule["alert"], firing(rule, INDEX))
    check(rules, tmp_path, "freshness query failing", series, tests)
