"""What the RAG gateway adds, measured on the wire (issue 9 section 4).

`scenarios/smoke.yaml` (4 req/s Poisson, 3 chat : 1 RAG) through the embedded stack's
gateway, ROUNDS times, each run captured by tcpdump on the gateway's, vLLM's and
Elasticsearch's ports. Each gateway request is matched to the request it sent to vLLM by
the trace id of the `traceparent` both carry. Per round, p50/p99/max of:

- chat: gateway-added TTFT, (first token at the gateway port - request's first byte)
  minus the same at the vLLM port; split into the time before forwarding (request in at
  the gateway -> upstream request out) and the first token's relay back;
- RAG: time before forwarding, and the retrieval inside it (the Elasticsearch search's
  first byte out to its answer's last byte in, the one search on the wire in that window)
  and what follows it (the search's answer in -> the request to vLLM out);
- the gateway's CPU per request.

Then the medians over rounds against the targets (added TTFT p99 <= 2 ms, retrieval
p99 <= 20 ms). Uses a running stack (SLAKIT_STACK_STATE_DIR picks it), else starts one and
stops it afterwards. Needs root (tcpdump). What else runs: the whole embedded stack (vLLM's
worker bound to core 0; Elasticsearch, Prometheus, Alertmanager, the three exporters, whose
inference canary streams through the gateway every 5 s, and the webhook on the other
core), the load generator, tcpdump, and whatever else the machine runs: each round prints
the load average it began at.

    .venv/bin/python benchmarks/gateway_overhead.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from _common import (
    QUIET_WAIT_S,
    REPO,
    SLAKIT,
    fmt,
    print_table,
    readme_line,
    run_measured,
    wait_quiet,
    workdir,
)

from slakit.stack import process, supervisor
from slakit.stack.config import load_stack_config
from slakit.wire import Capture, Exchange, read_exchanges

ADDED_TTFT_TARGET_S = 0.002
RETRIEVAL_TARGET_S = 0.020
SCENARIO = REPO / "scenarios" / "smoke.yaml"
RUN_TIMEOUT_S = 300
STACK_TIMEOUT_S = 600
CHAT = "/v1/chat/completions"
RAG = "/rag/query"
SEARCH = "/_search"
FIGURES = ("chat added TTFT", "chat before forwarding", "chat first-token relay",
           "RAG before forwarding", "RAG retrieval (ES wire)",
           "RAG search to forward")  # fmt: skip


@dataclass
class Round:
    load: float
    figures: dict[str, list[float]]
    matched: int
    unmatched: int
    gateway_cpu_ms: float  # per request the gateway answered (any route)
    ambiguous_searches: int


def _ttft(e: Exchange) -> float | None:
    return e.token_times[0] - e.sent_first if e.token_times else None


def analyse(exchanges: list[Exchange], ports: dict[str, int]) -> tuple[dict, int, int]:
    """The figures (seconds) of every gateway request matched to its upstream request, the
    RAG requests without exactly one search inside them, and the chat and RAG requests
    not matched (no upstream request with their trace id on the wire). Connections open
    before the capture (the gateway's kept-alive ones to Elasticsearch) are read from
    their first whole request on."""
    by_port: dict[int, list[Exchange]] = {}
    for e in exchanges:
        by_port.setdefault(e.server_port, []).append(e)
    upstream = {e.trace_id: e for e in by_port.get(ports["engine"], []) if e.trace_id}
    searches = [e for e in by_port.get(ports["es"], []) if SEARCH in e.path]
    figures: dict[str, list[float]] = {name: [] for name in FIGURES}
    ambiguous = unmatched = 0
    for gw in by_port.get(ports["gateway"], []):
        if gw.path not in (CHAT, RAG) or gw.status != 200:
            continue
        up = upstream.get(gw.trace_id) if gw.trace_id else None
        if up is None:
            unmatched += 1
            continue
        before = up.sent_first - gw.sent_last
        if gw.path == CHAT and _ttft(gw) is not None and _ttft(up) is not None:
            figures["chat added TTFT"].append(_ttft(gw) - _ttft(up))
            figures["chat before forwarding"].append(before)
            figures["chat first-token relay"].append(gw.token_times[0] - up.token_times[0])
        elif gw.path == RAG:
            figures["RAG before forwarding"].append(before)
            inside = [
                s
                for s in searches
                if gw.sent_last <= s.sent_first
                and s.received_last is not None
                and s.received_last <= up.sent_first
            ]
            if len(inside) == 1:
                (search,) = inside
                figures["RAG retrieval (ES wire)"].append(search.received_last - search.sent_first)
                figures["RAG search to forward"].append(up.sent_first - search.received_last)
            else:
                ambiguous += 1
    return figures, ambiguous, unmatched


def one_round(work: Path, ports: dict[str, int], gateway_pid: int, max_wait_s: float) -> Round:
    load = wait_quiet(f"smoke through the gateway ({work.name})", max_wait_s)
    gateway = psutil.Process(gateway_pid)
    cpu_before = sum(gateway.cpu_times()[:2])
    with Capture(work, ports.values()) as capture:
        run = run_measured(
            [SLAKIT, "run", "scenario", str(SCENARIO), "--out", str(work / "reports")],
            RUN_TIMEOUT_S,
            work / "slakit.log",
        )
    cpu_s = sum(gateway.cpu_times()[:2]) - cpu_before
    if run.returncode not in (0, 1):
        raise SystemExit(f"smoke run failed ({run.returncode}); see {run.log}")
    traffic = read_exchanges(capture.paths)
    figures, ambiguous, unmatched = analyse(traffic.exchanges, ports)
    served = sum(len(figures[name]) for name in ("chat added TTFT", "RAG before forwarding"))
    requests = sum(e.server_port == ports["gateway"] for e in traffic.exchanges)
    return Round(load, figures, served, unmatched, 1000 * cpu_s / requests, ambiguous)


def stats_ms(values: list[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    p50, p99 = np.percentile(values, [50, 99])
    return p50 * 1000, p99 * 1000, max(values) * 1000


def running_stack() -> dict[str, supervisor.RunningPart] | None:
    parts = {p.part: p for p in supervisor.read_state(load_stack_config(None))}
    if parts and all(process.is_running(p.pid) for p in parts.values()):
        return parts
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--max-wait", type=float, default=QUIET_WAIT_S, help="seconds to wait for a quiet machine"
    )
    args = parser.parse_args()
    started_here = running_stack() is None
    if started_here:
        subprocess.run([SLAKIT, "stack", "up"], check=True, cwd=REPO, timeout=STACK_TIMEOUT_S)
    try:
        parts = running_stack()
        cfg = load_stack_config(None)
        ports = {
            "gateway": cfg.gateway.port,
            "engine": cfg.engine_port,
            "es": cfg.elasticsearch.port,
        }
        work = workdir("gateway-overhead")
        rounds = [
            one_round(work / f"round-{i + 1}", ports, parts["gateway"].pid, args.max_wait)
            for i in range(args.rounds)
        ]
    finally:
        if started_here:
            subprocess.run([SLAKIT, "stack", "down"], cwd=REPO, timeout=STACK_TIMEOUT_S)
    report(rounds)


def report(rounds: list[Round]) -> None:
    rows = []
    for i, r in enumerate(rounds, 1):
        for name in FIGURES:
            s = stats_ms(r.figures[name])
            cells = [fmt(v, ".2f", " ms") for v in s] if s else ["-"] * 3
            rows.append([f"{i} (load {r.load:.1f})", name, str(len(r.figures[name])), *cells])
        rows.append([f"{i}", "not matched upstream", str(r.unmatched), "", "", ""])
        rows.append([f"{i}", "gateway CPU per request", "",
                     fmt(r.gateway_cpu_ms, ".2f", " ms"), "", ""])  # fmt: skip
        rows.append(
            [f"{i}", "RAG without exactly one search", str(r.ambiguous_searches), "", "", ""]
        )
    print_table("gateway overhead on the wire", ["round", "what", "n", "p50", "p99", "max"], rows)

    def median_of(name: str, column: int) -> float | None:
        values = [s[column] for r in rounds if (s := stats_ms(r.figures[name]))]
        return statistics.median(values) if values else None

    def line(name: str, target_s: float | None = None) -> str:
        p50, p99, top = (median_of(name, c) for c in range(3))
        text = f"{name} p50/p99/max {fmt(p50, '.2f')}/{fmt(p99, '.2f')}/{fmt(top, '.2f')} ms"
        if target_s is None or p99 is None:
            return text
        verdict = "met" if p99 <= target_s * 1000 else "missed"
        return f"{text} (p99 / {target_s * 1000:g} ms = {p99 / (target_s * 1000):.2f}x, {verdict})"

    cpu = statistics.median(r.gateway_cpu_ms for r in rounds)
    n = sum(r.matched for r in rounds)
    readme_line(
        f"gateway overhead, {len(rounds)} smoke runs, {n} requests matched, medians of rounds: "
        f"{line('chat added TTFT', ADDED_TTFT_TARGET_S)}; {line('RAG before forwarding')}; "
        f"{line('RAG retrieval (ES wire)', RETRIEVAL_TARGET_S)}; gateway CPU {cpu:.2f} ms/request"
    )


if __name__ == "__main__":
    main()
