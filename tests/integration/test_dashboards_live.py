"""Every query of every generated dashboard panel returns data from real Prometheus.

Traffic goes through the real stack's gateway first (30 streamed chat completions and 10
RAG queries, 4 at a time, against real vLLM and Elasticsearch); after two scrape intervals
each panel's each query runs as Grafana would run it: `/api/v1/query_range` over the last
minutes, with `$__rate_interval`, `$__range` and the template variables substituted. A
query without a single series fails the test, naming its dashboard and panel.

GPU panels: this machine has no GPU, so the stack's GPU exporter serves only
`slakit_gpu_nvml_up 0`. For them the GPU exporter runs as its own process on the stand-in
NVML of tests/fake_nvml.py (one of the two stand-ins this project allows), scraped by a
small dedicated Prometheus (config written to tmp, free ports, both stopped at the end);
the GPU panels' queries run against that Prometheus.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from slakit.catalogue.panels import BALANCER_PANELS, GPU_DASHBOARD, bind
from slakit.generate.dashboards import generate_dashboards, read_dashboard
from slakit.stack.config import StackConfig
from slakit.units import parse_duration
from tests.servers import HOST, REPO, answers, free_port, stop, wait_until

pytestmark = pytest.mark.integration

SPEC = REPO / "scenarios" / "slo-spec.yaml"  # as the committed dashboards/
LOOKBACK_S = 180
CHATS, RAG_QUERIES, CONCURRENCY = 30, 10, 4

# The GPU exporter on a stand-in NVML: one GPU running one process, as vLLM would be.
GPU_EXPORTER = """
import sys
from prometheus_client import make_wsgi_app
from slakit.exporters.common import serve
from slakit.exporters.gpu import GpuExporterConfig, build_registry
from tests.fake_nvml import GIB, FakeGpu, FakeNvml, FakeProcess
gpu = FakeGpu(uuid="GPU-fake-0", compute=[FakeProcess(4242, 6 * GIB, "vllm")])
registry = build_registry(GpuExporterConfig(), FakeNvml([gpu]))
serve(make_wsgi_app(registry), "127.0.0.1", int(sys.argv[1]))
"""


def _chat(gateway: str, model: str, i: int) -> int:
    body = {
        "model": model,
        "stream": True,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": f"Say something about sockets, {i}."}],
    }
    with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=body, timeout=120) as r:
        for _ in r.iter_bytes():
            pass
        return r.status_code


def _rag(gateway: str, i: int) -> int:
    body = {"query": ("parse json", "socket timeout", "decode utf-8")[i % 3], "max_tokens": 8}
    return httpx.post(f"{gateway}/rag/query", json=body, timeout=120).status_code


def _panels(directory: Path, *, gpu: bool) -> list[tuple[str, str, str, str]]:
    """(dashboard title, panel title, legend, PromQL) of the GPU dashboard or of the others."""
    out = []
    for path in sorted(directory.glob("*.json")):
        board = read_dashboard(path)
        if (board["uid"] == GPU_DASHBOARD.uid) == gpu:
            for panel in board["panels"]:
                for target in panel["targets"]:
                    out.append(
                        (board["title"], panel["title"], target["legendFormat"], target["expr"])
                    )
    return out


def _empty_queries(prometheus: str, queries, rate_interval: str, step_s: float) -> list[str]:
    """Each query over the last LOOKBACK_S; the panels whose query returned no series."""
    assert queries, "no panel queries to run"
    end = time.time()
    failures = []
    for board, panel, legend, expr in queries:
        promql = bind(expr, rate_interval=rate_interval, range_=f"{LOOKBACK_S}s")
        answer = httpx.get(
            f"{prometheus}/api/v1/query_range",
            params={"query": promql, "start": end - LOOKBACK_S, "end": end, "step": step_s},
            timeout=30,
        )
        if answer.status_code != 200:
            failures.append(
                f"{board} / {panel} [{legend}]: HTTP {answer.status_code}: {answer.text}"
            )
        elif not answer.json()["data"]["result"]:
            failures.append(f"{board} / {panel} [{legend}]: no series for {promql}")
    return failures


def test_every_panel_query_returns_series_from_the_stack(
    stack: StackConfig, tmp_path: Path
) -> None:
    generate_dashboards(SPEC, tmp_path)
    gateway = stack.url(stack.gateway.port)
    model = stack.vllm.served_model_name
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        chats = [pool.submit(_chat, gateway, model, i) for i in range(CHATS)]
        rags = [pool.submit(_rag, gateway, i) for i in range(RAG_QUERIES)]
        statuses = [f.result() for f in (*chats, *rags)]
    assert statuses == [200] * (CHATS + RAG_QUERIES)
    scrape_s = parse_duration(stack.prometheus.scrape_interval)
    time.sleep(2 * scrape_s)
    # Grafana's $__rate_interval: four scrape intervals at least.
    # HAProxy's panels have no series on this one-engine stack (no balancer runs):
    # tests/e2e/test_replicas.py draws them from its two-replica stack.
    balancer = {p.title for p in BALANCER_PANELS} if stack.replicas == 1 else set()
    failures = _empty_queries(
        stack.url(stack.prometheus.port),
        [q for q in _panels(tmp_path, gpu=False) if q[1] not in balancer],
        rate_interval=f"{4 * scrape_s:g}s",
        step_s=scrape_s,
    )
    assert not failures, "panels without data:\n" + "\n".join(failures)


@contextmanager
def _process(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield
    finally:
        stop(proc)


def _has_series(prometheus: str, promql: str) -> bool:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    return bool(answer.json()["data"]["result"])


def test_every_gpu_panel_query_returns_series_from_the_gpu_exporter(tmp_path: Path) -> None:
    generate_dashboards(SPEC, tmp_path / "dashboards")
    exporter_port, prometheus_port = free_port(), free_port()
    exporter = f"http://{HOST}:{exporter_port}"
    prometheus = f"http://{HOST}:{prometheus_port}"
    config = tmp_path / "prometheus.yml"
    scrape = {
        "job_name": "gpu-exporter",
        "static_configs": [{"targets": [f"{HOST}:{exporter_port}"]}],
    }
    config.write_text(
        yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]})
    )
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with (
        _process(
            [sys.executable, "-c", GPU_EXPORTER, str(exporter_port)],
            tmp_path / "gpu-exporter.log",
            env={**os.environ, "PYTHONPATH": path},
        ),
        _process(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address={HOST}:{prometheus_port}",
            ],
            tmp_path / "prometheus.log",
        ),
    ):
        wait_until(lambda: answers(f"{exporter}/health"), 30, "GPU exporter")
        wait_until(lambda: answers(f"{prometheus}/-/ready"), 30, "Prometheus")
        # A few scrapes, so range queries over the lookback have points.
        wait_until(lambda: _has_series(prometheus, "count_over_time(up[1m]) >= 3"), 30, "scrapes")
        failures = _empty_queries(
            prometheus, _panels(tmp_path / "dashboards", gpu=True), rate_interval="4s", step_s=1
        )
    assert not failures, "GPU panels without data:\n" + "\n".join(failures)
