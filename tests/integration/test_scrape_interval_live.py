"""slakit against a Prometheus that scrapes every 15 s, not the embedded stack's 5 s.

A real Prometheus (the stack's binary, its own free port and tmp dir) scrapes a small real
HTTP target exposing vLLM's metrics (prometheus_client, `vllm_metrics.define_metrics`, in
the text format as the simulated engine serves them) every 15 s, and an unrelated target
every minute. This test drives the target's TTFT histogram
itself: slow first tokens before the window, a steady stream of fast ones in it, so the
server-side p95 and the count behind it follow from what it observed. Then `slakit run
scenario` against the simulated engine and a 15 s Prometheus stores and uses the interval.
About 70 s each.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from slakit.catalogue import metrics as catalogue
from slakit.metrics import PLOT_WINDOW_S, Window, read_scrape, wait_for_scrape
from slakit.sli import CATALOGUE
from slakit.stack import vllm_metrics as vm
from slakit.stack.config import StackConfig
from slakit.units import parse_duration
from tests.conftest import run_cli
from tests.servers import HOST, answers, free_port, serve_handler, serve_module, stop, wait_until

pytestmark = pytest.mark.integration

SCRAPE_S = 15
UNRELATED_SCRAPE = "1m"  # slower, but none of the series slakit reads comes from it
BEFORE_TTFT_S, BEFORE_COUNT = 3.0, 40  # bucket (2.5, 5]: outside the window
IN_TTFT_S, IN_RATE_PER_S = 0.2, 4  # bucket (0.1, 0.25]: every first token in the window
WINDOW_S = 2 * SCRAPE_S + 2  # the shortest window slakit queries as it is: two scrapes


def _exposition(registry: CollectorRegistry) -> type[http.server.BaseHTTPRequestHandler]:
    """/metrics in Prometheus's text format. Not prometheus_client's MetricsHandler: it
    answers Prometheus 2.42's OpenMetrics request with `escaping=underscores`, which writes
    `vllm:` names as `vllm_`."""

    class Exposition(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    return Exposition


def _job(name: str, url: str, **extra: str) -> dict:
    return {"job_name": name, "static_configs": [{"targets": [url.split("//")[1]]}], **extra}


@contextmanager
def _prometheus(tmp_path: Path, *jobs: dict) -> Iterator[str]:
    """A Prometheus scraping `jobs`, every SCRAPE_S unless a job says otherwise."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {"global": {"scrape_interval": f"{SCRAPE_S}s"}, "scrape_configs": list(jobs)}
        )
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address={HOST}:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: answers(f"{url}/-/ready"), 30, "Prometheus")
        yield url
    finally:
        stop(proc)


def _value(prometheus: str, promql: str) -> float | None:
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    series = result.json()["data"]["result"]
    return float(series[0]["value"][1]) if series else None


def test_a_15s_prometheus_sets_step_rate_window_wait_and_the_window_value(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    engine = vm.define_metrics(registry, "slakit-tiny")
    other = CollectorRegistry()
    Counter("unrelated_probes", "A series no SLI reads.", registry=other).inc()
    with (
        serve_handler(_exposition(registry)) as vllm,
        serve_handler(_exposition(other)) as unrelated,
        _prometheus(
            tmp_path,
            _job("vllm", vllm),
            _job("unrelated", unrelated, scrape_interval=UNRELATED_SCRAPE),
        ) as prometheus,
    ):
        # Before the window: slow first tokens, and a queue of 3, in the first scrape
        # (Prometheus adds its targets within 5 s, then scrapes within SCRAPE_S).
        for _ in range(BEFORE_COUNT):
            engine.time_to_first_token.observe(BEFORE_TTFT_S)
        engine.waiting.set(3)
        count = f"sum({catalogue.VLLM_TIME_TO_FIRST_TOKEN}_count)"
        wait_until(lambda: _value(prometheus, count) == BEFORE_COUNT, SCRAPE_S + 10, "first scrape")

        scrape = read_scrape(prometheus)
        assert (scrape.interval_s, scrape.source, scrape.jobs) == (SCRAPE_S, "targets", ["vllm"])
        assert (scrape.step_s, scrape.rate_window_s) == (SCRAPE_S, 4 * SCRAPE_S)

        start = time.time()
        made = 0
        while time.time() < start + WINDOW_S:
            engine.time_to_first_token.observe(IN_TTFT_S)
            made += 1
            time.sleep(1 / IN_RATE_PER_S)
        end = time.time()

        wait_for_scrape(scrape, end)
        assert time.time() >= end + SCRAPE_S
        last_scrape = _value(prometheus, 'timestamp(up{job="vllm"})')
        assert last_scrape is not None and last_scrape > end, "no scrape after the window"

        window = Window(prometheus, start, end, scrape)
        ttft = window.evaluate(CATALOGUE["vllm_ttft"], "p95")
        # Every first token of the window fell in (0.1, 0.25]: histogram_quantile puts p95
        # 95 % of the way through it; the slow ones before the window do not count.
        lower, upper = 0.1, 0.25
        assert lower < IN_TTFT_S <= upper and upper in catalogue.VLLM_TIME_TO_FIRST_TOKEN_BUCKETS
        assert ttft.value == pytest.approx(lower + 0.95 * (upper - lower))
        assert f"[{int(end - start)}s]" in ttft.promql
        # increase() extrapolates the scrapes inside the window to its edges.
        assert ttft.samples == pytest.approx(made, rel=0.1)

        queue = window.evaluate(CATALOGUE["vllm_queue_length"], "max")
        assert queue.value == 3
        points = [t for t, _ in window.series(CATALOGUE["vllm_queue_length"]).points]
        # One point per scrape (not per 5 s) across the window; the first may be missing
        # when the window starts right after the series' first scrape.
        assert queue.samples == len(points) >= WINDOW_S // SCRAPE_S
        assert {round(b - a, 3) for a, b in zip(points, points[1:], strict=False)} == {SCRAPE_S}
        assert start - 1 <= points[0] and points[-1] <= end + 1

        rolling = window.series(CATALOGUE["vllm_ttft"])
        assert f"[{4 * SCRAPE_S}s]" in rolling.promql and rolling.points


def test_a_url_that_is_no_prometheus_gets_the_embedded_stacks_interval() -> None:
    with serve_handler(_exposition(CollectorRegistry())) as not_prometheus:
        scrape = read_scrape(not_prometheus)
    embedded = parse_duration(StackConfig().prometheus.scrape_interval)
    assert (scrape.interval_s, scrape.source, scrape.jobs) == (embedded, "default", [])
    assert (scrape.step_s, scrape.rate_window_s) == (embedded, PLOT_WINDOW_S)


def test_a_run_against_a_15s_prometheus_stores_and_uses_its_interval(tmp_path: Path) -> None:
    scenario = tmp_path / "server-ttft.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "server-ttft",
                "workload": [{"kind": "chat", "output_tokens": 8}],
                "load": {"rate": {"rps": 4, "duration": "20s"}},
                "warmup": "2s",
                "slos": [
                    {
                        "name": "server",
                        "sli": "vllm_ttft",
                        "aggregation": "p95",
                        "objective": "< 2s",
                    }
                ],
                "gate": {"min_samples": 10},
            }
        )
    )
    with (
        serve_module("slakit.stack.sim_engine", "--model-name", "slakit-tiny") as engine,
        _prometheus(tmp_path, _job("vllm", engine)) as prometheus,
    ):
        count = f"sum({catalogue.VLLM_TIME_TO_FIRST_TOKEN}_count)"
        wait_until(lambda: _value(prometheus, count) is not None, SCRAPE_S + 10, "first scrape")
        target = tmp_path / "target.yaml"
        target.write_text(yaml.safe_dump({"openai": engine, "prometheus": prometheus}))
        out = tmp_path / "out"
        run = run_cli("run", "scenario", str(scenario), "--out", str(out), "--target", str(target))
    assert run.returncode == 0, run.stdout + run.stderr
    (report_file,) = out.glob("*/report.json")
    report = json.loads(report_file.read_text())
    assert report["scrape"] == {
        "interval_s": SCRAPE_S,
        "source": "targets",
        "jobs": ["vllm"],
        "step_s": SCRAPE_S,
        "rate_window_s": 4 * SCRAPE_S,
    }
    (server,) = report["slos"]
    assert server["verdict"] == "pass" and server["samples"] >= 10, server
    # The dashboards' panels drawn in the report use the 60 s rate window, at 15 s steps.
    drawn = [s for s in report["server"] if s["points"]]
    assert any(f"[{4 * SCRAPE_S}s]" in s["promql"] for s in drawn)
    for series in drawn:
        times = [t for t, _ in series["points"]]
        assert {round(b - a, 3) for a, b in zip(times, times[1:], strict=False)} <= {SCRAPE_S}
