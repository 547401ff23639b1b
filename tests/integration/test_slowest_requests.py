"""The report's "Slowest requests" on the real stack: a short run through the gateway to real
vLLM, the traces read back from the real Jaeger, checked against Jaeger's own spans and the
run's samples, and the HTML section painted by a real headless Chromium."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from PIL import Image

from slakit.load.samples import read_samples
from slakit.stack import jaeger
from slakit.stack.config import StackConfig
from slakit.traces.query import fetch_trace
from slakit.traces.slowest import slowest_requests
from slakit.traces.timeline import ATTR_QUEUE, ENGINE_SPAN
from tests.conftest import run_cli, stack_env
from tests.integration.test_html_chromium import _chromium
from tests.servers import free_port

pytestmark = pytest.mark.integration

SLOWEST = 3
BARS = ((229, 57, 53), (251, 140, 0), (142, 36, 170))  # engine queue, prefill, decode
CROP_ABOVE, CROP_BELOW = 320, 60  # px: from the section's heading to its last lane
SCENARIO = {
    "name": "slowest-live",
    "target": "embedded",
    "workload": [
        {"kind": "chat", "weight": 2, "stream": True, "input_tokens": 48, "output_tokens": 24},
        {"kind": "rag", "weight": 1, "top_k": 3, "output_tokens": 16},
    ],
    "load": {"rate": {"rps": 4, "arrivals": "poisson", "duration": "12s"}},
    "slos": [{"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 5%"}],
    "report": {"slowest": SLOWEST},
}


@pytest.fixture(scope="module")
def run_dir(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("slowest")
    scenario = base / "slowest.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    r = run_cli("run", "scenario", str(scenario), "--out", str(base / "out"), env=stack_env(stack))
    assert r.returncode == 0, r.stdout + r.stderr
    (found,) = (base / "out").iterdir()
    return found


def _samples(run_dir: Path) -> list[dict]:
    lines = (run_dir / "samples-local.jsonl").read_text().splitlines()
    return [s for s in map(json.loads, lines) if s["error"] is None]


def test_the_slowest_are_the_samples_slowest_each_with_the_engines_own_spans(
    run_dir: Path, stack: StackConfig
):
    report = json.loads((run_dir / "report.json").read_text())
    slowest = report["slowest"]
    assert slowest["source"] == jaeger.query_url(stack) and slowest["note"] == ""
    samples = _samples(run_dir)
    by_ttft = sorted(samples, key=lambda s: s["ttft_s"] or 0, reverse=True)[:SLOWEST]
    assert [r["trace_id"] for r in slowest["by_ttft"]] == [s["trace_id"] for s in by_ttft]
    by_latency = sorted(samples, key=lambda s: s["latency_s"], reverse=True)[:SLOWEST]
    assert [r["trace_id"] for r in slowest["by_latency"]] == [s["trace_id"] for s in by_latency]

    with httpx.Client() as client:
        for request in slowest["by_ttft"] + slowest["by_latency"]:
            phases = {p["name"]: p for p in request["timeline"]}
            assert {"gateway", "first token", "engine queue", "prefill", "decode"} <= set(phases)
            assert ("retrieve" in phases) == (request["kind"] == "rag"), phases
            assert "% of its" in request["cause"], request["cause"]
            # Jaeger's own record: vLLM's span is a child of the gateway's engine call (the
            # traceparent the gateway passed on), and the queue time is vLLM's, as it said.
            spans = fetch_trace(client, jaeger.query_url(stack), request["trace_id"])
            (engine,) = [s for s in spans if s.name == ENGINE_SPAN]
            (call,) = [s for s in spans if s.name == "generate" and s.service == "slakit-gateway"]
            assert engine.parent_id == call.span_id and engine.service == "vllm"
            queue_ms = phases["engine queue"]["duration_ms"]
            assert queue_ms == pytest.approx(engine.attributes[ATTR_QUEUE] * 1000, abs=0.01)
            # One clock for all: the engine's first token precedes the gateway's, which
            # precedes the client's; everything lies within the client's latency.
            prefill_end = phases["prefill"]["start_ms"] + phases["prefill"]["duration_ms"]
            first = phases["first token"]["start_ms"]
            assert 0 <= phases["gateway"]["start_ms"] < prefill_end <= first + 5
            assert first <= request["ttft_s"] * 1000 + 1
            end = phases["gateway"]["start_ms"] + phases["gateway"]["duration_ms"]
            assert end <= request["latency_s"] * 1000 + 1


def test_a_missing_trace_or_jaeger_is_said_per_request_with_no_timeline(
    run_dir: Path, stack: StackConfig
):
    frame = read_samples(run_dir)
    frame = frame[frame["error"].isna()].head(2).copy()
    unknown = secrets.token_hex(16)  # no request carried it
    frame.loc[frame.index[0], "trace_id"] = unknown
    section = slowest_requests(frame, jaeger.query_url(stack), 2, ended=0)
    causes = {r.trace_id: (r.cause, r.timeline) for r in section.by_latency}
    assert causes[unknown] == (f"no timeline: Jaeger holds no trace {unknown}", [])
    (known,) = set(causes) - {unknown}
    assert causes[known][1] and section.note == ""
    closed = f"http://127.0.0.1:{free_port()}"
    down = slowest_requests(frame, closed, 2, ended=0)
    assert down.note == f"Jaeger unreachable at {closed}: ConnectError"
    assert {(r.cause, len(r.timeline)) for r in down.by_latency} == {
        (f"no timeline: {down.note}", 0)
    }


def test_markdown_lists_them_with_their_causes(run_dir: Path):
    report = json.loads((run_dir / "report.json").read_text())
    md = (run_dir / "summary.md").read_text()
    section = md.split("### Slowest requests", 1)[1].split("###", 1)[0]
    for request in report["slowest"]["by_ttft"]:
        assert request["trace_id"] in section and request["cause"] in section


def test_html_section_paints_in_chromium(run_dir: Path, tmp_path: Path):
    page = (run_dir / "report.html").as_uri()
    dom = _chromium(tmp_path, "--dump-dom", page).stdout
    section = dom.split('id="slowest"', 1)[1].split("</section>", 1)[0]
    assert section.count('class="bar') >= 2 * SLOWEST * 6  # client and >= 5 phases each
    # The whole page in one tall window (headless Chromium paints a fragment's target
    # blank), then the rows that hold the section's bar colours.
    full = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={full}", "--window-size=1280,12000", page)
    with Image.open(full) as image:
        pixels = np.asarray(image.convert("RGB"))
    rows = {colour: np.flatnonzero((pixels == colour).all(axis=2).any(axis=1)) for colour in BARS}
    # The queue, prefill and decode bars are painted (not just present in the DOM).
    assert all(len(found) for found in rows.values()), {c: len(r) for c, r in rows.items()}
    top = min(r.min() for r in rows.values()) - CROP_ABOVE
    bottom = max(r.max() for r in rows.values()) + CROP_BELOW
    crop = tmp_path / "slowest.png"
    Image.fromarray(pixels[top:bottom]).save(crop)
    print(f"screenshot of the section: {crop}")
