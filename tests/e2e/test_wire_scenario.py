"""slakit's own load generator against the wire: `slakit run scenario` streams chat from
the simulated engine (100 ms to the first token, 10 ms between tokens) while tcpdump
captures lo, and every sample it wrote is found on the wire by its traceparent."""

from __future__ import annotations

from pathlib import Path

import yaml

from slakit.load.samples import read_samples
from slakit.wire import Capture, arbitrate, loopback_ports, read_exchanges
from tests.conftest import run_cli
from tests.servers import serve_module

TTFT_MS = 100
MS = 0.001
SCENARIO = {
    "name": "wire",
    "workload": [{"kind": "chat", "stream": True, "output_tokens": 8}],
    "load": {"rate": {"rps": 5, "duration": "6s"}},
    "slos": [{"name": "ttft-p95", "sli": "ttft", "aggregation": "p95", "objective": "< 2s"}],
    "gate": {"min_samples": 10},
}


def test_every_sample_of_a_run_is_found_on_the_wire(tmp_path: Path) -> None:
    scenario, target, out = tmp_path / "wire.yaml", tmp_path / "target.yaml", tmp_path / "out"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    args = ("--model-name", "slakit-tiny", "--ttft-ms", str(TTFT_MS), "--token-delay-ms", "10")
    with serve_module("slakit.stack.sim_engine", *args) as url:
        target.write_text(yaml.safe_dump({"openai": url}))
        with Capture(tmp_path, loopback_ports([url])) as capture:
            r = run_cli(
                "run", "scenario", str(scenario), "--out", str(out), "--target", str(target)
            )
    assert r.returncode == 0, r.stdout + r.stderr
    assert capture.clean and capture.dropped == 0  # all users' connections closing at once
    (run_dir,) = out.iterdir()
    samples = read_samples(run_dir)
    traffic = read_exchanges(capture.paths)
    assert (traffic.headless_connections, traffic.broken_connections) == (0, 0)
    check = arbitrate(samples, traffic.exchanges)
    error = check.error
    assert len(samples) >= 15 and error.matched == len(samples), error
    # What no sample claims is the target check and the prompt sizing (slakit.load.sizing)
    # before the load, which carry no trace.
    unclaimed = {(e.method, e.path) for e in traffic.exchanges if e.trace_id is None}
    assert error.unmatched_wire == len(traffic.exchanges) - len(samples), error
    before_load = {("GET", "/v1/models"), ("POST", "/tokenize"), ("POST", "/detokenize")}
    assert unclaimed <= before_load, unclaimed
    assert len({e.connection for e in traffic.exchanges}) > 1  # Locust's users, in parallel
    wire_ttft = check.wire["ttft_s"].astype(float)
    assert wire_ttft.min() >= TTFT_MS * MS and wire_ttft.median() < (TTFT_MS + 15) * MS
    assert error.itl_mismatched == 0 and error.errors["itl"].count > 0
    # A load generator sharing two busy cores: the median is close, the tail may not be.
    assert 0 <= error.errors["ttft"].p50_s < 10 * MS, error
    assert 0 <= error.send_delay.p50_s < 10 * MS, error
