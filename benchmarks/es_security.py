"""What Elasticsearch security costs the embedded stack (issue 13 section 2): `stack up`
without and with `--secure`, alternating, ROUNDS times each, and per round:

- startup: `supervisor.up` wall time (every part healthy, the corpus indexed);
- RAG retrieval: REQUESTS unstreamed `/rag/query` requests one after the other, the
  gateway's own `timings.retrieve_ms` (its Elasticsearch search, over HTTPS with its user
  when secured, on a kept-alive connection);
- a search from a client on a kept-alive connection (wall p50/p99), and on a new
  connection each time (what a client that does not keep connections pays: TCP + TLS
  handshake + the first authentication of that connection).

The simulated engine (the figures are Elasticsearch's and the gateway's, not vLLM's), its
own state dir and ports. What else runs on the machine is printed as the load average
each round begins at.

    flock /tmp/slakit-stack.lock .venv/bin/python benchmarks/es_security.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import httpx
import numpy as np
from _common import fmt, print_table, readme_line, wait_quiet, workdir

from slakit.es_auth import EsAuth
from slakit.stack import es_security, supervisor
from slakit.stack.config import StackConfig
from tests.conftest import stack_config

SHIFT = 850  # tests/integration/test_es_security.py's ports: never both at once (flock)
REQUESTS = 300
NEW_CONNECTIONS = 100
QUERY = {"query": {"match": {"text": "decode json object"}}, "size": 3}


def _config(secure: bool) -> StackConfig:
    cfg = stack_config(workdir("es-security") / "state", engine="sim", shift=SHIFT)
    es = cfg.elasticsearch.model_copy(update={"secure": secure})
    return cfg.model_copy(update={"elasticsearch": es})


def _client_auth(cfg: StackConfig) -> EsAuth | None:
    return es_security.credential(cfg, "load") if cfg.elasticsearch.secure else None


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _rag(cfg: StackConfig) -> list[float]:
    out = []
    with httpx.Client(base_url=cfg.url(cfg.gateway.port), timeout=30) as client:
        for _ in range(REQUESTS):
            r = client.post("/rag/query", json={"query": "decode JSON", "max_tokens": 1})
            r.raise_for_status()
            out.append(r.json()["timings"]["retrieve_ms"])
    return out


def _searches(cfg: StackConfig, keep_alive: bool, n: int) -> list[float]:
    auth = _client_auth(cfg)
    headers = auth.authorization() if auth else {}
    verify = auth.ssl_context() if auth else True
    url = f"{cfg.es_url}/{cfg.corpus.index}/_search"
    out = []
    client = httpx.Client(headers=headers, verify=verify, timeout=30)
    try:
        for _ in range(n):
            if not keep_alive:
                client.close()
                client = httpx.Client(headers=headers, verify=verify, timeout=30)
            start = time.perf_counter()
            client.post(url, json=QUERY).raise_for_status()
            out.append((time.perf_counter() - start) * 1000)
    finally:
        client.close()
    return out


def one_round(secure: bool) -> dict[str, float]:
    cfg = _config(secure)
    load = wait_quiet(f"stack up {'--secure' if secure else '(plain)'}")
    start = time.monotonic()
    supervisor.up(cfg)
    up_s = time.monotonic() - start
    try:
        _searches(cfg, True, 20)  # warm: the first searches compile, caches fill
        rag = _percentiles(_rag(cfg))
        kept = _percentiles(_searches(cfg, True, REQUESTS))
        fresh = _percentiles(_searches(cfg, False, NEW_CONNECTIONS))
    finally:
        supervisor.down(cfg, purge=True)
    return {
        "load": load,
        "up_s": up_s,
        "rag_p50": rag[0],
        "rag_p99": rag[1],
        "kept_p50": kept[0],
        "kept_p99": kept[1],
        "new_p50": fresh[0],
        "new_p99": fresh[1],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for secure in (False, True):
            results[secure].append(one_round(secure))
            print(secure, results[secure][-1], flush=True)
    keys = ["up_s", "rag_p50", "rag_p99", "kept_p50", "kept_p99", "new_p50", "new_p99"]
    rows = []
    for secure in (False, True):
        runs = results[secure]
        median = {k: statistics.median(r[k] for r in runs) for k in keys}
        loads = "/".join(f"{r['load']:.1f}" for r in runs)
        rows.append(
            [
                "secure" if secure else "plain",
                loads,
                *(fmt(median[k], ".0f" if k == "up_s" else ".2f") for k in keys),
            ]
        )
    print_table(
        f"Elasticsearch security, medians of {args.rounds} rounds (ms; stack up in s)",
        ["stack", "load avg", *keys],
        rows,
    )
    plain, secure = (
        {k: statistics.median(r[k] for r in results[s]) for k in keys} for s in (False, True)
    )
    readme_line(
        f"stack up {plain['up_s']:.0f} s -> {secure['up_s']:.0f} s; RAG retrieval p50 "
        f"{plain['rag_p50']:.2f} -> {secure['rag_p50']:.2f} ms, p99 {plain['rag_p99']:.2f} -> "
        f"{secure['rag_p99']:.2f} ms; kept-alive search p50 {plain['kept_p50']:.2f} -> "
        f"{secure['kept_p50']:.2f}, p99 {plain['kept_p99']:.2f} -> {secure['kept_p99']:.2f} ms; "
        f"new connection p50 {plain['new_p50']:.2f} -> {secure['new_p50']:.2f} ms "
        f"(load average {os.getloadavg()[0]:.1f} at the end)"
    )


if __name__ == "__main__":
    main()
