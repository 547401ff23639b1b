"""What exporting its spans to Jaeger costs the gateway (issue 13 section 4).

The gateway in front of the simulated engine (no delays: the engine adds next to nothing),
once without a span exporter and once exporting OTLP/HTTP to a real Jaeger through the
OpenTelemetry SDK's batch span processor (the embedded stack's settings), alternating
ROUNDS times. Each round sends REQUESTS streamed chat completions one after another (a
traceparent each, as the load does), after WARMUP unmeasured ones, and measures the
gateway's CPU per request (its process's user + system time over the round) and the
client's time to first byte and to the end of the stream. One span and one event per
chat request (a RAG request has three spans). In the exporting rounds the last request's
trace is read back from Jaeger, so the spans did leave.

    flock /tmp/slakit-stack.lock .venv/bin/python benchmarks/span_export.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from _common import console, free_port, print_table, wait_quiet

from slakit.stack import jaeger, process
from slakit.stack.config import StackConfig
from slakit.traces.query import fetch_trace
from tests.servers import serve_module, wait_until

REQUESTS = 400
WARMUP = 50
MODEL = "slakit-tiny"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "hello"}],
    "max_tokens": 8,
    "stream": True,
}


def one_round(gateway: str, client: httpx.Client) -> dict[str, float | str]:
    """REQUESTS streamed chats through `gateway`: CPU per request, TTFB and latency."""
    (pid,) = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if gateway.rsplit(":", 1)[1] in (p.info["cmdline"] or [])
    ]
    gw = psutil.Process(pid)
    ttfb, total, trace = [], [], ""
    for i in range(WARMUP + REQUESTS):
        if i == WARMUP:
            cpu = gw.cpu_times()
        trace = secrets.token_hex(16)
        headers = {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"}
        t0 = time.perf_counter()
        with client.stream(
            "POST", f"{gateway}/v1/chat/completions", json=BODY, headers=headers
        ) as r:
            chunks = r.iter_raw()
            next(chunks)
            t1 = time.perf_counter()
            for _ in chunks:
                pass
        if i >= WARMUP:
            ttfb.append(t1 - t0)
            total.append(time.perf_counter() - t0)
    after = gw.cpu_times()
    used = (after.user - cpu.user) + (after.system - cpu.system)
    return {
        "cpu_ms": used / REQUESTS * 1000,
        "ttfb_p50": float(np.percentile(ttfb, 50)) * 1000,
        "ttfb_p99": float(np.percentile(ttfb, 99)) * 1000,
        "total_p50": float(np.percentile(total, 50)) * 1000,
        "total_p99": float(np.percentile(total, 99)) * 1000,
        "last_trace": trace,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    state = Path(tempfile.mkdtemp(prefix="span-export-"))
    ports = {k: free_port() for k in ("port", "grpc_port", "otlp_grpc_port", "otlp_http_port")}
    cfg = StackConfig(state_dir=state, jaeger=ports)
    spec = jaeger.spec(cfg)
    pid = process.start(spec)
    results: dict[str, list[dict]] = {"no exporter": [], "OTLP to Jaeger": []}
    try:
        wait_until(lambda: process.check_health(spec), 30, "jaeger")
        with serve_module("slakit.stack.sim_engine", "--model-name", MODEL, "--ttft-ms", "0",
                          "--token-delay-ms", "0") as engine:  # fmt: skip
            gateway_args = (
                "--engine-url",
                engine,
                "--es-url",
                "http://127.0.0.1:9",
                "--model",
                MODEL,
            )
            wait_quiet("the span export rounds")
            with httpx.Client(timeout=10) as client:
                for r in range(args.rounds):
                    for mode, env in (
                        ("no exporter", {}),
                        ("OTLP to Jaeger", jaeger.exporter_env(cfg)),
                    ):
                        with serve_module("slakit.gateway", *gateway_args, env=env) as gw:
                            got = one_round(gw, client)
                        if env:  # its spans left: the last request's trace is in Jaeger
                            time.sleep(jaeger.EXPORT_DELAY_MS / 1000 + 1)
                            spans = fetch_trace(client, jaeger.query_url(cfg), got["last_trace"])
                            assert spans, "the exporting gateway's spans did not reach Jaeger"
                        results[mode].append(got)
                        figures = (f"{k} {v:.3f}" for k, v in got.items() if k != "last_trace")
                        console.print(f"round {r + 1} {mode}: " + ", ".join(figures))
    finally:
        process.stop(pid)
    columns = ("cpu_ms", "ttfb_p50", "ttfb_p99", "total_p50", "total_p99")
    rows = [
        [mode, *(f"{statistics.median(r[c] for r in runs):.3f}" for c in columns)]
        for mode, runs in results.items()
    ]
    print_table(
        f"The gateway, {REQUESTS} streamed chats per round, medians of {args.rounds} rounds (ms)",
        ["mode", "CPU per request", "TTFB p50", "TTFB p99", "latency p50", "latency p99"],
        rows,
    )


if __name__ == "__main__":
    main()
