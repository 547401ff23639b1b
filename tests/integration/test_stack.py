"""The real embedded stack, once up: every part answers as it should."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from slakit.stack import placement
from slakit.stack.config import StackConfig
from slakit.stack.monitoring import scrape_targets
from slakit.stack.parts import alerts_file
from slakit.stack.webhook import read_alerts

pytestmark = pytest.mark.integration


def test_elasticsearch_health_and_corpus_count(stack: StackConfig) -> None:
    es = stack.url(stack.elasticsearch.port)
    assert httpx.get(f"{es}/_cluster/health").json()["status"] in ("green", "yellow")
    count = httpx.get(f"{es}/{stack.corpus.index}/_count").json()["count"]
    assert count == stack.corpus.max_docs
    mapping = httpx.get(f"{es}/{stack.corpus.index}/_mapping").json()
    props = mapping[stack.corpus.index]["mappings"]["properties"]
    assert props["module"]["type"] == "keyword" and props["text"]["type"] == "text"


def test_vllm_streams_a_chat_completion(stack: StackConfig) -> None:
    body = {
        "model": stack.vllm.served_model_name,
        "stream": True,
        "max_tokens": 12,
        "messages": [{"role": "user", "content": "hello"}],
        "stream_options": {"include_usage": True},
    }
    chunks = []
    with httpx.stream(
        "POST", f"{stack.url(stack.vllm.port)}/v1/chat/completions", json=body, timeout=60
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert usage and usage[-1]["completion_tokens"] >= 1
    assert any(c["choices"] and c["choices"][0]["delta"].get("content") for c in chunks)


def test_rag_query_retrieves_passages_with_the_query_terms(stack: StackConfig) -> None:
    r = httpx.post(
        f"{stack.url(stack.gateway.port)}/rag/query",
        json={"query": "decode JSON", "max_tokens": 8},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["answer"]
    assert answer["documents"]
    for doc in answer["documents"]:
        text = doc["text"].lower()
        assert "json" in text or "decode" in text
    assert answer["timings"]["retrieve_ms"] > 0 and answer["timings"]["generate_ms"] > 0


def test_prometheus_scrapes_every_part(stack: StackConfig) -> None:
    prom = stack.url(stack.prometheus.port)
    # Traffic first, so the gateway's and vLLM's request series exist.
    httpx.post(f"{stack.url(stack.gateway.port)}/rag/query", json={"query": "socket"}, timeout=60)
    deadline = time.monotonic() + 40
    while True:
        targets = httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        series = httpx.get(
            f"{prom}/api/v1/query", params={"query": "slakit_gateway_requests_total"}
        ).json()["data"]["result"]
        if set(health.values()) == {"up"} and series or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert health == {job: "up" for job in scrape_targets(stack)}
    assert set(health) >= {
        "prometheus",
        "alertmanager",
        "vllm",
        "gateway",
        "gpu-exporter",
        "es-exporter",
        "inference-exporter",
    }
    assert series, "gateway request counter not scraped"
    vllm = httpx.get(f"{prom}/api/v1/query", params={"query": "vllm:num_requests_running"}).json()[
        "data"
    ]["result"]
    assert vllm and vllm[0]["metric"]["job"] == "vllm"


def test_alert_posted_to_alertmanager_reaches_the_webhook(stack: StackConfig) -> None:
    name = f"SlakitSynthetic{int(time.time())}"
    alert = [
        {
            "labels": {"alertname": name, "severity": "ticket"},
            "annotations": {"summary": "synthetic alert from the test suite"},
        }
    ]
    r = httpx.post(f"{stack.url(stack.alertmanager.port)}/api/v2/alerts", json=alert)
    assert r.status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        names = {
            a["labels"]["alertname"]
            for n in read_alerts(alerts_file(stack))
            for a in n["notification"].get("alerts", [])
        }
        if name in names:
            return
        time.sleep(0.5)
    pytest.fail(f"{name} never reached {alerts_file(stack)}")


def test_parts_run_where_the_placement_says(stack: StackConfig) -> None:
    """Observers start at OBSERVER_NICE, request-path parts at 0, and vLLM's worker is
    bound to every core but the last (left to the generator and the request path)."""
    from tests.conftest import run_cli, stack_env

    r = run_cli("stack", "status", "--json", env=stack_env(stack))
    assert r.returncode == 0, r.stdout + r.stderr
    nice = {row["part"]: row["nice"] for row in json.loads(r.stdout)}
    for part, value in nice.items():
        assert value == placement.nice_for(part), (part, value)
    assert nice["prometheus"] == placement.OBSERVER_NICE and nice["gateway"] == 0
    log = (stack.state_dir / "logs" / "vllm.log").read_text()
    assert f"VLLM_CPU_OMP_THREADS_BIND={placement.engine_cores()!r}" in log
