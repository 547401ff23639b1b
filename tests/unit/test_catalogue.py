"""The catalogue is the one copy: what the dashboards, alert rules, SLIs and exporters use
is what `slakit/catalogue/` defines, so a second copy that drifts fails here.

Dashboards and rules are read as generated (the committed `dashboards/` and
`alert_rules/`, which other tests keep up to date); the gateway is scraped over HTTP,
the exporters' registries rendered as a scrape would.
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from slakit.catalogue import metrics as catalogue
from slakit.catalogue import thresholds
from slakit.exporters import elasticsearch as es
from slakit.exporters import gpu, inference
from slakit.exporters.elasticsearch.settings import CountQuery
from slakit.gateway.app import create_app
from slakit.gateway.settings import GatewaySettings
from slakit.sli import CATALOGUE
from tests.fake_nvml import FakeGpu, FakeNvml, FakeProcess
from tests.servers import REPO, free_port, serve_in_thread
from tests.unit.test_es_exporter_parsing import HEALTH, NODES, _registry

DASHBOARDS = REPO / "dashboards"
RULES = REPO / "alert_rules"
SUFFIXES = ("_bucket", "_sum", "_count")
# Not metric names: label matchers, ranges, strings, grouping clauses; then function calls.
_NOT_NAMES = re.compile(
    r'\{[^}]*\}|\[[^\]]*\]|"[^"]*"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)'
)
_NAME = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "vector", "ALERTS", "up"}


def _names_in(promql: str) -> set[str]:
    bare = _NOT_NAMES.sub(" ", promql.replace("{q}", "0.5").replace("{window}", "1m"))
    return {n for n in _NAME.findall(bare) if n not in _KEYWORDS}


def _defined() -> set[str]:
    """Every metric name the catalogue spells, with the series a histogram adds."""
    names = {
        value
        for key, value in vars(catalogue).items()
        if key.isupper() and isinstance(value, str) and re.fullmatch(r"[A-Za-z_:][\w:]*", value)
    }
    return names | {n + s for n in names for s in SUFFIXES}


def _dashboard_queries() -> list[str]:
    return [
        target["expr"]
        for path in DASHBOARDS.glob("*.json")
        for panel in json.loads(path.read_text())["panels"]
        for target in panel.get("targets", [])
    ]


def _rules() -> list[dict]:
    return [
        rule
        for path in RULES.glob("*.rules.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def _panel(dashboard: str, title: str) -> dict:
    panels = json.loads((DASHBOARDS / f"{dashboard}.json").read_text())["panels"]
    return next(p for p in panels if p["title"] == title)


def _red(panel: dict) -> float:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return next(s["value"] for s in steps if s["color"] == "red")


def _alert(name: str) -> dict:
    return next(r for r in _rules() if r.get("alert") == name)


def test_the_dashboards_turn_red_where_the_alerts_fire() -> None:
    kv = _alert("VllmQueueGrowing")["expr"]
    assert float(re.search(r">=\s*([\d.]+)\s*$", kv).group(1)) == _red(
        _panel("slakit-vllm", "KV-cache usage")
    )
    temp = _alert("GpuTemperatureHigh")["expr"]
    assert float(re.search(rf"{catalogue.GPU_TEMP} > ([\d.]+)", temp).group(1)) == _red(
        _panel("slakit-gpu", "Temperature")
    )
    assert _red(_panel("slakit-vllm", "KV-cache usage")) == thresholds.KV_CACHE_FULL


def test_every_name_a_dashboard_alert_or_sli_reads_is_the_catalogues() -> None:
    recorded = {r["record"] for r in _rules() if "record" in r}
    queries = [
        *_dashboard_queries(),
        *(r["expr"] for r in _rules()),
        *(q for sli in CATALOGUE.values() for q in (sli.promql, *sli.alternatives) if q),
    ]
    used = set().union(*map(_names_in, queries))
    assert used, "no query was read"
    assert used - _defined() - recorded == set()


def _served(text: str) -> set[str]:
    """Names a scrape shows: its samples', and its families' (one with no sample yet, such
    as the model info before /v1/models answered, is still declared)."""
    families = list(text_string_to_metric_families(text))
    return {f.name for f in families} | {s.name for f in families for s in f.samples}


def test_the_gateway_serves_exactly_the_catalogues_gateway_names() -> None:
    settings = GatewaySettings(
        engine_url=f"http://127.0.0.1:{free_port()}",
        es_url=f"http://127.0.0.1:{free_port()}",
        model="m",
    )
    with serve_in_thread(create_app(settings)) as url:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    families = {f.name for f in text_string_to_metric_families(text)}
    # prometheus_client adds a `_created` series to unlabelled counters and histograms.
    gateway = {
        f for f in families if f.startswith("slakit_gateway_") and not f.endswith("_created")
    }
    expected = {
        value.removesuffix("_total")
        for key, value in vars(catalogue).items()
        if key.startswith("GATEWAY_") and isinstance(value, str)
    }
    assert gateway == expected


# `GET _resolve/index/*` as Elasticsearch 8 answers it: an open index with an alias.
RESOLVED = {"indices": [{"name": "docs", "aliases": ["docs-alias"], "attributes": ["open"]}]}


def test_the_exporters_serve_every_name_the_catalogue_gives_them() -> None:
    nvml = FakeNvml([FakeGpu(uuid="GPU-0", compute=[FakeProcess(7, 2**30, "vllm")])])
    gpu_served = _served(
        generate_latest(gpu.build_registry(gpu.GpuExporterConfig(), nvml)).decode()
    )
    registry, _ = inference.build(inference.InferenceExporterConfig(gateway_url="http://g:1"))
    probe_served = _served(generate_latest(registry).decode())
    # The exporter's own health and prober families, from its registry with Elasticsearch
    # unreachable (up 0, the probes failing); the freshness gauge as after a good query.
    count = CountQuery(name="lines", index="logs-*", window="1m")
    config = es.EsExporterConfig(
        url=f"http://127.0.0.1:{free_port()}", freshness_index="docs", count_queries=[count]
    )
    own, prober = es.build_registry(config)
    prober.run_once()
    prober.newest = time.time()
    es_served = _served(
        "".join(
            generate_latest(registry).decode()
            for registry in (
                own,
                _registry(es.parse_cluster_health(HEALTH)),
                _registry(es.parse_nodes_stats(NODES)),
                _registry(es.parse_resolved_indices(RESOLVED)),
            )
        )
    )
    for prefix, served in (
        ("GPU_", gpu_served),
        (("PROBE", "RAG_PROBE", "INFERENCE_"), probe_served),
        ("ES_", es_served),
    ):
        names = {
            value
            for key, value in vars(catalogue).items()
            if key.startswith(prefix) and isinstance(value, str) and "BUCKETS" not in key
        }
        missing = {n for n in names if not ({n, *(n + s for s in SUFFIXES)} & served)}
        assert names and missing == set(), prefix


def test_the_catalogue_imports_nothing_of_slakit() -> None:
    for path in (REPO / "slakit" / "catalogue").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        ]
        outside = [m for m in imported if m and m.startswith("slakit") and ".catalogue" not in m]
        assert outside == [], path


def test_the_sli_registry_imports_only_the_catalogue() -> None:
    tree = ast.parse(Path(REPO / "slakit" / "sli.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {m for m in modules if m.startswith("slakit")} <= {
        "slakit.catalogue",
        "slakit.catalogue.aggregations",
    }
