"""`slakit stack check`: one real request through every part of a running stack.

Used by `make demo` and by operators after `stack up`: Elasticsearch health and corpus
count, the engine's model list, the gateway's readiness, a streamed chat completion and
a RAG answer through the gateway, every Prometheus target up, Alertmanager ready.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from slakit.stack.config import StackConfig
from slakit.stack.elasticsearch import health_auth
from slakit.stack.monitoring import scrape_targets
from slakit.stack.supervisor import running_config


class CheckFailed(Exception):
    """A part answered, but not as a healthy stack would."""


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise CheckFailed(problem)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _es(cfg: StackConfig, client: httpx.Client) -> str:
    url = cfg.es_url
    auth = health_auth(cfg)  # the monitoring user when security is on
    with httpx.Client(
        headers=auth.authorization() if auth else {},
        verify=auth.ssl_context() if auth else True,
        timeout=client.timeout,
    ) as es:
        health = es.get(f"{url}/_cluster/health").json()["status"]
        count = es.get(f"{url}/{cfg.corpus.index}/_count").json()["count"]
    _require(health in ("green", "yellow"), f"cluster status {health}")
    _require(count == cfg.corpus.max_docs, f"{count} passages, expected {cfg.corpus.max_docs}")
    return f"status {health}, {count} passages"


def _engine(cfg: StackConfig, client: httpx.Client) -> str:
    models = client.get(f"{cfg.url(cfg.engine_port)}/v1/models").json()["data"]
    names = [m["id"] for m in models]
    _require(cfg.vllm.served_model_name in names, f"models {names}")
    return f"serves {', '.join(names)}"


def _gateway_ready(cfg: StackConfig, client: httpx.Client) -> str:
    r = client.get(f"{cfg.url(cfg.gateway.port)}/ready")
    _require(r.status_code == 200, r.text)
    return "ready"


def _stream_chat(cfg: StackConfig, client: httpx.Client) -> str:
    body = {
        "model": cfg.vllm.served_model_name,
        "stream": True,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Say something about JSON."}],
    }
    chunks, t0, ttft = 0, time.perf_counter(), None
    with client.stream("POST", f"{cfg.url(cfg.gateway.port)}/v1/chat/completions", json=body) as r:
        _require(r.status_code == 200, r.read().decode())
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                ttft = ttft or time.perf_counter() - t0
                chunks += 1
    _require(chunks > 0, "no chunks streamed")
    return f"{chunks} chunks, first after {ttft * 1000:.0f} ms"


def _rag(cfg: StackConfig, client: httpx.Client) -> str:
    r = client.post(
        f"{cfg.url(cfg.gateway.port)}/rag/query",
        json={"query": "how to parse JSON documents", "max_tokens": 16},
    )
    _require(r.status_code == 200, r.text)
    answer = r.json()
    _require(answer["documents"], "no passages retrieved")
    titles = ", ".join(d["title"] for d in answer["documents"])
    excerpt = json.dumps(answer["answer"][:40])
    return f"{len(answer['documents'])} passages ({titles}); answer {excerpt}"


def _prometheus(cfg: StackConfig, client: httpx.Client) -> str:
    url = cfg.url(cfg.prometheus.port)
    expected = set(scrape_targets(cfg))
    deadline = time.monotonic() + 30
    while True:
        targets = client.get(f"{url}/api/v1/targets").json()["data"]["activeTargets"]
        up = {t["labels"]["job"] for t in targets if t["health"] == "up"}
        if up >= expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    _require(up >= expected, f"targets not up: {', '.join(sorted(expected - up))}")
    return f"{len(up)} targets up ({', '.join(sorted(up))})"


def _alertmanager(cfg: StackConfig, client: httpx.Client) -> str:
    r = client.get(f"{cfg.url(cfg.alertmanager.port)}/api/v2/status")
    _require(r.status_code == 200, r.text)
    return f"cluster {r.json()['cluster']['status']}"


CHECKS: list[tuple[str, Callable[[StackConfig, httpx.Client], str]]] = [
    ("elasticsearch", _es),
    ("engine", _engine),
    ("gateway ready", _gateway_ready),
    ("chat stream via gateway", _stream_chat),
    ("rag query via gateway", _rag),
    ("prometheus targets", _prometheus),
    ("alertmanager", _alertmanager),
]


def run_checks(cfg: StackConfig) -> list[Check]:
    cfg = running_config(cfg)  # as the stack runs: secured or not
    results = []
    with httpx.Client(timeout=60) as client:
        for name, check in CHECKS:
            try:
                results.append(Check(name, True, check(cfg, client)))
            except (CheckFailed, httpx.HTTPError, KeyError, ValueError) as exc:
                results.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
    return results
