"""The seeds' ERROR-rate alert end to end on the real parts: the simulated engine injects
failures (`POST /sim/faults`), the gateway and the engine log ERROR lines (ECS JSON),
rsyslog ships them into their data streams, the ES exporter counts them by level,
Prometheus evaluates the generated "ERROR lines > 10 per minute for 2m" rule (short
windows: its `for:` is 6 s) and Alertmanager delivers it to the webhook. Measured: the
time from the first ERROR line to the webhook's delivery. The same stack then checks the
run report's ERROR lines against the lines shipped.

One stack of its own (simulated engine, ports +1550 over the session's): ~35 s to start,
~40 s of traffic.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from slakit.catalogue.defaults import LOG_INDEX_PATTERN, log_stream
from slakit.exporters.elasticsearch.count_queries import time_range
from slakit.generate.alerts import SHORT_WINDOW_FACTOR, generate_alerts
from slakit.stack import supervisor
from slakit.stack.config import StackConfig
from slakit.stack.log_streams import error_lines
from slakit.stack.monitoring import rules_dir
from slakit.stack.parts import alerts_file
from slakit.stack.sim_engine import FAULTS_PATH
from slakit.stack.webhook import read_alerts
from tests.conftest import stack_config

pytestmark = pytest.mark.integration

SPEC = Path(__file__).resolve().parents[2] / "scenarios" / "slo-spec.yaml"
ALERT = "LogErrorsHigh"
SHIFT = 1550  # clear of the session stack's and the other test stacks' ports
RPS = 5
FIRE_WITHIN_S = 90


class Traffic:
    """Chat completions through the gateway at RPS, each with its own trace, remembering
    the trace ids of those that failed."""

    def __init__(self, cfg: StackConfig) -> None:
        self.url = f"{cfg.url(cfg.gateway.port)}/v1/chat/completions"
        self.body = {
            "model": cfg.vllm.served_model_name,
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 4,
        }
        self.failed: list[str] = []

    def send(self, client: httpx.Client) -> None:
        trace = secrets.token_hex(16)
        headers = {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"}
        if client.post(self.url, json=self.body, headers=headers).status_code >= 500:
            self.failed.append(trace)

    def until(self, done, seconds: float) -> bool:
        """Send at RPS until `done()` (checked each second) or `seconds` pass."""
        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                for _ in range(RPS):
                    started = time.monotonic()
                    self.send(client)
                    time.sleep(max(0.0, 1 / RPS - (time.monotonic() - started)))
                if done():
                    return True
        return False


def delivered(cfg: StackConfig) -> list[tuple[float, dict]]:
    """(received at, alert) of every firing LogErrorsHigh the webhook received."""
    return [
        (record["received_at"], alert)
        for record in read_alerts(alerts_file(cfg))
        for alert in record["notification"].get("alerts", [])
        if alert["labels"].get("alertname") == ALERT and alert["status"] == "firing"
    ]


def load_resource_rules(cfg: StackConfig, out: Path, short_windows: bool = True) -> None:
    generate_alerts(SPEC, out, short_windows=short_windows)
    shutil.copy(out / "resources.rules.yml", rules_dir(cfg) / "resources.rules.yml")
    prom = cfg.url(cfg.prometheus.port)
    assert httpx.post(f"{prom}/-/reload", timeout=30).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        groups = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
        if any(r.get("name") == ALERT for g in groups for r in g["rules"]):
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus did not load {ALERT}")


def errors_in(since: float, until: float) -> dict:
    window = time_range("@timestamp", since, until)
    return {"bool": {"filter": [{"term": {"log.level": "error"}}, window]}}


def error_docs(es: Elasticsearch, stream: str, since: float = 0, until: float = 2e9) -> list:
    hits = es.search(index=stream, query=errors_in(since, until), size=1000, sort="@timestamp")
    return [h["_source"] for h in hits["hits"]["hits"]]


@dataclass
class Burst:
    """Healthy traffic, then every request failing until the alert was delivered."""

    healthy_failed: list[str]  # requests that failed before the faults (none expected)
    quiet: list  # alerts delivered before the faults (none expected)
    fired: bool
    started: float  # when the faults were switched on (epoch s)
    ended: float


def burst(cfg: StackConfig, traffic: Traffic, within_s: float) -> Burst:
    traffic.until(lambda: False, 5)  # healthy: no ERROR line, nothing to alert on
    healthy_failed, quiet = list(traffic.failed), delivered(cfg)
    started = time.time()
    sim = cfg.url(cfg.sim.port)
    httpx.post(f"{sim}{FAULTS_PATH}", json={"error_rate": 1.0}).raise_for_status()
    fired = traffic.until(lambda: bool(delivered(cfg)), within_s)
    ended = time.time()
    time.sleep(3)  # the last lines shipped
    return Burst(healthy_failed, quiet, fired, started, ended)


def time_to_fire(cfg: StackConfig, es: Elasticsearch, since: float) -> float:
    """From the first ERROR line after `since` (its @timestamp) to the webhook's receipt."""
    received, _ = delivered(cfg)[0]
    first = error_docs(es, LOG_INDEX_PATTERN, since=since)[0]
    return received - datetime.fromisoformat(first["@timestamp"]).timestamp()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The stack and what its burst did."""
    tmp = tmp_path_factory.mktemp("log-alert")
    cfg = stack_config(tmp / "state", engine="sim", shift=SHIFT)
    supervisor.up(cfg)
    try:
        load_resource_rules(cfg, tmp / "rules")
        traffic = Traffic(cfg)
        es = Elasticsearch(cfg.url(cfg.elasticsearch.port), request_timeout=10)
        yield {
            "cfg": cfg,
            "es": es,
            "traffic": traffic,
            "burst": burst(cfg, traffic, FIRE_WITHIN_S),
        }
    finally:
        supervisor.down(cfg, purge=True)


def test_injected_errors_fire_the_error_rate_alert_at_the_webhook(live) -> None:
    cfg, es, b = live["cfg"], live["es"], live["burst"]
    assert b.healthy_failed == [] and b.quiet == []
    assert b.fired, f"{ALERT} never reached the webhook within {FIRE_WITHIN_S} s"
    _, alert = delivered(cfg)[0]
    assert alert["labels"]["severity"] == "ticket"
    assert alert["labels"]["query"] == "log_lines" and alert["labels"]["group"] == "error"
    assert error_docs(es, LOG_INDEX_PATTERN, until=b.started) == []  # none before the faults
    took = time_to_fire(cfg, es, b.started)
    print(f"\n{ALERT}: first ERROR line to webhook delivery {took:.1f} s")
    # At least its `for:` (2 m / 20), at most the scrape, evaluation and grouping on top.
    assert 120 / SHORT_WINDOW_FACTOR <= took < 60, took


def test_every_failed_request_is_one_error_line_of_its_trace_in_each_stream(live) -> None:
    es, failed = live["es"], live["traffic"].failed
    assert len(failed) > 10
    for part in ("gateway", "engine"):
        traces = [d.get("trace", {}).get("id") for d in error_docs(es, log_stream(part))]
        mine = [t for t in traces if t in set(failed)]
        assert sorted(mine) == sorted(failed), part  # each once: none lost, none repeated


def test_the_report_lists_the_windows_error_lines(live) -> None:
    cfg, es, failed = live["cfg"], live["es"], live["traffic"].failed
    started, ended = live["burst"].started, live["burst"].ended
    logs = error_lines(cfg.url(cfg.elasticsearch.port), started, ended)
    shipped = es.count(index=LOG_INDEX_PATTERN, query=errors_in(started, ended))["count"]
    assert logs.absent is None and logs.count == shipped >= 2 * len(failed)
    top = {m.message: m.count for m in logs.top}
    assert top["simulated engine failure"] >= len(failed)
    assert top["/v1/chat/completions answered 500"] >= len(failed)
