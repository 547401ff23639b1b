"""Generated alerts on the real embedded stack (simulated engine): with half the requests
failing, the gateway error SLO's page alert fires in Prometheus and reaches the webhook;
with none failing, no page alert fires. Rules use short windows (every window and `for:`
divided by 20), so this takes a minute of traffic, not hours.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from slakit.catalogue import metrics as names
from slakit.generate.alerts import generate_alerts
from slakit.generate.slo_rules import alert_name
from slakit.generate.spec import load_spec
from slakit.stack import supervisor
from slakit.stack.config import StackConfig
from slakit.stack.monitoring import rules_dir
from slakit.stack.parts import alerts_file
from slakit.stack.webhook import read_alerts
from tests.conftest import stack_config

pytestmark = pytest.mark.integration

SPEC = Path(__file__).resolve().parents[2] / "scenarios" / "slo-spec.yaml"
SLO = "gateway-errors"
_FAST = load_spec(SPEC).alerting.burn_rates[0]  # 14.4x over 1h and 5m: a page
PAGE = alert_name(SLO, "page")
RPS = 5


@contextmanager
def sim_stack(tmp_path: Path, error_rate: float) -> Iterator[StackConfig]:
    """A stack of its own (ports +3000 over the session's) whose engine fails `error_rate`
    of requests, with the generated short-window rules loaded into its Prometheus."""
    base = stack_config(tmp_path / "state", engine="sim", shift=3000)
    cfg = stack_config(
        tmp_path / "state",
        engine="sim",
        shift=3000,
        sim={**base.sim.model_dump(), "error_rate": error_rate},
    )
    supervisor.up(cfg)
    try:
        load_rules(cfg, tmp_path / "rules")
        yield cfg
    finally:
        supervisor.down(cfg, purge=True)


def load_rules(cfg: StackConfig, out: Path) -> None:
    generate_alerts(SPEC, out, short_windows=True)
    for path in out.glob("*.rules.yml"):  # the promtool tests stay out of Prometheus
        shutil.copy(path, rules_dir(cfg) / path.name)
    prom = cfg.url(cfg.prometheus.port)
    assert httpx.post(f"{prom}/-/reload", timeout=30).status_code == 200
    wanted = {f"slakit-slo-{SLO}", "slakit-resources"}
    deadline = time.monotonic() + 30
    while True:
        groups = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
        loaded = {g["name"] for g in groups}
        if wanted <= loaded or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert wanted <= loaded


def firing(cfg: StackConfig) -> list[dict]:
    r = httpx.get(f"{cfg.url(cfg.prometheus.port)}/api/v1/alerts", timeout=10)
    return [a for a in r.json()["data"]["alerts"] if a["state"] == "firing"]


def drive(cfg: StackConfig, seconds: float, stop: Callable[[], bool]) -> float | None:
    """Chat completions through the gateway at RPS for up to `seconds`, checking `stop`
    every 2 s; the seconds it took until `stop` held, or None if it never did."""
    gateway = cfg.url(cfg.gateway.port)
    body = {
        "model": cfg.vllm.served_model_name,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 8,
    }
    start = next_check = time.monotonic()
    with httpx.Client(timeout=10) as client:
        while (now := time.monotonic()) - start < seconds:
            client.post(f"{gateway}/v1/chat/completions", json=body)
            if now >= next_check:
                if stop():
                    return time.monotonic() - start
                next_check = now + 2
            time.sleep(max(0.0, 1 / RPS - (time.monotonic() - now)))
    return None


def is_page(alert: dict) -> bool:
    labels = alert["labels"]
    return labels.get("alertname") == PAGE and labels.get("slo") == SLO


def test_error_burst_fires_the_error_slo_page_and_reaches_the_webhook(tmp_path: Path) -> None:
    with sim_stack(tmp_path, error_rate=0.5) as cfg:
        took = drive(cfg, 120, lambda: any(is_page(a) for a in firing(cfg)))
        assert took is not None, f"{PAGE} did not fire within 120 s: {firing(cfg)}"
        alert = next(a for a in firing(cfg) if is_page(a))
        assert alert["labels"]["severity"] == "page"
        assert alert["annotations"]["runbook_url"].endswith(f"#{PAGE.lower()}")
        assert "runbook_url" not in alert["labels"]
        burn = float(alert["annotations"]["burn_rate"])
        assert burn > _FAST.factor, alert  # ~50% errors on a 1% budget: ~50x
        assert alert["annotations"]["objective"].startswith("error_rate ratio < 1%")

        deadline = time.monotonic() + 30
        while True:
            sent = [
                a
                for record in read_alerts(alerts_file(cfg))
                for a in record["notification"].get("alerts", [])
                if a["status"] == "firing" and is_page(a)
            ]
            if sent or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert sent, "the page alert fired in Prometheus but never reached the webhook"
        assert sent[0]["labels"]["severity"] == "page"


def test_healthy_traffic_pages_no_one_and_the_rules_read_served_names(tmp_path: Path) -> None:
    with sim_stack(tmp_path, error_rate=0.0) as cfg:
        pages: list[dict] = []

        def any_page() -> bool:
            pages.extend(a for a in firing(cfg) if a["labels"].get("severity") == "page")
            return bool(pages)

        drive(cfg, 35, any_page)
        assert not pages, pages
        notified = [
            a
            for record in read_alerts(alerts_file(cfg))
            for a in record["notification"].get("alerts", [])
            if a["labels"].get("severity") == "page"
        ]
        assert not notified, notified
        # The resource rules' names are the ones the stack's exporters serve (no GPU here:
        # the DCGM names are checked against the GPU exporter's table by a unit test).
        prom = cfg.url(cfg.prometheus.port)
        served = [
            names.ES_HEALTH_STATUS, names.ES_PROCESS_CPU_PERCENT, names.ES_JVM_MEMORY_USED,
            names.ES_JVM_MEMORY_MAX, names.ES_THREAD_POOL_REJECTED, names.ES_INDEXING_TIME,
            names.ES_INDEXING_TOTAL, names.PROBE_UP, names.PROBES_TOTAL,
            f"{names.PROBE_E2E_LATENCY}_bucket", names.VLLM_NUM_REQUESTS_WAITING,
            names.VLLM_KV_CACHE_NAMES[0], names.GATEWAY_REQUESTS_TOTAL,
        ]  # fmt: skip
        missing = [
            name
            for name in served
            if not httpx.get(
                f"{prom}/api/v1/query", params={"query": f'count({{__name__="{name}"}})'}
            ).json()["data"]["result"]
        ]
        assert not missing, f"Prometheus has no series named {missing}"
