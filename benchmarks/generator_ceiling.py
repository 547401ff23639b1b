"""How fast can the load generator itself go? slakit vs vLLM's own benchmark client.

Both drive the same zero-delay simulated engine (a separate process) with streamed chat
completions, 64 input / 64 output tokens, a fixed number of requests in flight. The sim
and the generator share the machine's cores, so raw req/s says little: the figure that
matters is completed requests per generator-CPU-second (process tree, load window only),
i.e. how much load one core of generator can offer. Target: slakit >= 80% of vLLM's.

    .venv/bin/python benchmarks/generator_ceiling.py [--quick]
"""

from __future__ import annotations

import argparse
import json

import _common as c

TOKENS = 64
TARGET_SHARE = 0.80


def vllm_args(url: str, concurrency: int, prompts: int) -> list[str]:
    """vLLM's client against the sim's chat endpoint (the sim reads `max_tokens` only,
    not `max_completion_tokens`, hence the extra body)."""
    return [
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        url,
        "--model",
        "slakit-tiny",
        "--tokenizer",
        str(c.tiny_model_dir()),
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
        "inf",
        "--max-concurrency",
        str(concurrency),
        "--extra-body",
        json.dumps({"max_tokens": TOKENS}),
    ]


def slakit_scenario(concurrency: int, duration_s: float) -> dict:
    """Closed loop at the same concurrency; only a trivial SLO, so the gate never fails."""
    return {
        "name": "generator-ceiling",
        "workload": [
            {
                "kind": "chat",
                "stream": True,
                "input_tokens": TOKENS,
                "output_tokens": TOKENS,
                "ignore_eos": True,
            }
        ],
        "load": {
            "users": {
                "stages": [
                    {"users": concurrency, "spawn_rate": concurrency, "duration": f"{duration_s}s"}
                ]
            },
            "request_timeout": "30s",
        },
        "slos": [
            {"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "<= 100%"}
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter run")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    args = parser.parse_args()
    duration_s = 8 if args.quick else 20
    prompts = duration_s * 1000  # about as long as slakit's run at the ~1,000 req/s seen here
    work = c.workdir("ceiling")
    port = c.free_port()
    url = f"http://{c.HOST}:{port}"

    with c.server(c.sim_engine_argv(port), f"{url}/v1/models", 60, work / "sim.log"):
        load_vllm = c.wait_quiet("vllm.benchmarks.serve")
        peer = c.run_vllm_bench(vllm_args(url, args.concurrency, prompts), work, timeout_s=300)
        load_slakit = c.wait_quiet("slakit")
        run = c.run_slakit(
            slakit_scenario(args.concurrency, duration_s), url, work / "slakit", timeout_s=300
        )

    res = peer.result
    v_cpu = peer.proc.cpu_between(*peer.window)
    v_rps = res["completed"] / res["duration"]
    v_per_cpu = res["completed"] / v_cpu
    kinds = run.report["kinds"]["all"]
    s_seconds = run.window[1] - run.window[0]
    s_done = kinds["throughput_rps"] * s_seconds
    s_cpu = run.proc.cpu_between(*run.window)
    s_per_cpu = s_done / s_cpu
    share = s_per_cpu / v_per_cpu

    rows = [
        [
            "vllm.benchmarks.serve",
            str(res["completed"]),
            str(res["failed"]),
            c.fmt(res["duration"]),
            c.fmt(v_rps, ".0f"),
            c.fmt(res["output_throughput"], ",.0f"),
            c.fmt(v_cpu, ".2f"),
            c.fmt(peer.proc.cpu_total_s, ".2f"),
            c.fmt(v_per_cpu, ".0f"),
            c.fmt(peer.proc.wall_s),
        ],
        [
            "slakit",
            f"{s_done:.0f}",
            str(kinds["errors"]),
            c.fmt(s_seconds),
            c.fmt(kinds["throughput_rps"], ".0f"),
            c.fmt(kinds["output_tokens_per_s"], ",.0f"),
            c.fmt(s_cpu, ".2f"),
            c.fmt(run.proc.cpu_total_s, ".2f"),
            c.fmt(s_per_cpu, ".0f"),
            c.fmt(run.proc.wall_s),
        ],
        [
            "slakit / vLLM",
            "",
            "",
            "",
            c.fmt(kinds["throughput_rps"] / v_rps, ".2f"),
            c.fmt(c.ratio(kinds["output_tokens_per_s"], res["output_throughput"]), ".2f"),
            "",
            "",
            f"{share:.2f}",
            "",
        ],
    ]
    c.print_table(
        f"Generator ceiling: zero-delay sim, streamed chat {TOKENS}/{TOKENS} tokens, "
        f"{args.concurrency} in flight (load avg {load_vllm:.2f} / {load_slakit:.2f})",
        [
            "generator",
            "completed",
            "errors",
            "seconds",
            "req/s",
            "output tok/s",
            "CPU s (load)",
            "CPU s (process)",
            "req per CPU-s",
            "wall s (process)",
        ],
        rows,
    )
    print(f"work dir: {work}")
    verdict = "meets" if share >= TARGET_SHARE else "misses"
    c.readme_line(
        f"Generator ceiling (zero-delay sim, streamed chat {TOKENS}/{TOKENS} tokens, "
        f"{args.concurrency} in flight, 2 cores): slakit {s_per_cpu:.0f} req per generator "
        f"CPU-second vs vllm.benchmarks.serve {v_per_cpu:.0f} = {share:.0%} "
        f"({verdict} the {TARGET_SHARE:.0%} target); raw {kinds['throughput_rps']:.0f} vs "
        f"{v_rps:.0f} req/s."
    )


if __name__ == "__main__":
    main()
