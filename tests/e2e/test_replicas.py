"""Two engine replicas (the simulated engine, so faults can be injected) behind the real
HAProxy, in the real embedded stack: traffic through the gateway reaches both, Prometheus
scrapes each replica under its own label and HAProxy's own exporter; and the shipped
fault scenarios, end to end: a replica killed (its report draws each replica's load and
the pool it left; EngineReplicaDown reaches the webhook once), a rolling restart, a
breaker opening. The generated rules are loaded with short windows (`for:` / 20), as in
tests/integration/test_alerts_live.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from slakit.catalogue import metrics as names
from slakit.catalogue.panels import REPLICA_PANELS
from slakit.stack import balancer_admin, process, supervisor
from slakit.stack.balancer import server_name
from slakit.stack.config import StackConfig
from slakit.stack.monitoring import alertmanager_config, rules_dir
from slakit.stack.parts import alerts_file
from slakit.stack.webhook import read_alerts
from slakit.units import parse_prom_duration
from tests.conftest import run_cli, stack_config, stack_env
from tests.integration.test_alerts_live import load_rules
from tests.servers import REPO, metric, wait_until

pytestmark = pytest.mark.integration

SHIFT = 2600  # its own ports: clear of the session stack's and the other test stacks'


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    cfg = stack_config(tmp_path_factory.mktemp("replicas"), engine="sim", shift=SHIFT, replicas=2)
    supervisor.up(cfg)
    try:
        load_rules(cfg, tmp_path_factory.mktemp("rules"))
        yield cfg
    finally:
        supervisor.down(cfg, purge=True)


def _prometheus(cfg: StackConfig, query: str) -> list[dict]:
    answer = httpx.get(f"{cfg.url(cfg.prometheus.port)}/api/v1/query", params={"query": query})
    return answer.json()["data"]["result"]


def test_requests_through_the_gateway_reach_both_replicas(replicas: StackConfig) -> None:
    cfg = replicas
    body = {"model": cfg.vllm.served_model_name, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=cfg.url(cfg.gateway.port), timeout=10) as client:
        codes = [
            client.post("/v1/chat/completions", json={**body, "max_tokens": 4}).status_code
            for _ in range(20)
        ]
    assert codes == [200] * 20
    served = [metric(cfg.url(port), "vllm:request_success_total") for port in cfg.replica_ports]
    assert sum(served) >= 20 and min(served) >= 5, served  # least connections: both serve


def test_prometheus_scrapes_each_replica_and_the_balancer(replicas: StackConfig) -> None:
    cfg = replicas
    want = {"1", "2"}

    def scraped() -> bool:
        up = _prometheus(cfg, 'up{job="vllm"} == 1')
        status = _prometheus(cfg, f'{names.HAPROXY_SERVER_STATUS}{{state="UP"}} == 1')
        return {r["metric"].get(names.REPLICA_LABEL) for r in up} == want and len(status) == 2

    wait_until(scraped, 30, "both replicas and HAProxy's servers in Prometheus")
    instances = {r["metric"]["instance"] for r in _prometheus(cfg, 'up{job="vllm"}')}
    assert instances == {f"{cfg.host}:{port}" for port in cfg.replica_ports}
    servers = _prometheus(cfg, f'{names.HAPROXY_SERVER_STATUS}{{state="UP"}}')
    assert {r["metric"]["server"] for r in servers} == {"engine-1", "engine-2"}
    assert all(r["metric"]["job"] == names.BALANCER_JOB for r in servers)


def _run(cfg: StackConfig, name: str, tmp_path: Path) -> tuple[int, dict, str]:
    """`slakit run scenario scenarios/NAME.yaml` on this stack: (exit code, report, output);
    the report also carries its samples, as `_samples`."""
    out = tmp_path / "reports"
    r = run_cli(
        "run",
        "scenario",
        str(REPO / "scenarios" / f"{name}.yaml"),
        "--out",
        str(out),
        env=stack_env(cfg),
        timeout=300,
    )
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    assert (run_dir / "report.json").exists(), r.stdout + r.stderr
    report = json.loads((run_dir / "report.json").read_text())
    samples = (run_dir / "samples-local.jsonl").read_text().splitlines()
    report["_samples"] = [json.loads(line) for line in samples]
    return r.returncode, report, r.stdout + r.stderr


def _pids(cfg: StackConfig) -> dict[str, int]:
    return {p.part: p.pid for p in supervisor.read_state(cfg)}


def test_instance_loss_fails_over_and_names_the_replica(replicas: StackConfig, tmp_path) -> None:
    killed = _pids(replicas)["sim-2"]
    code, report, output = _run(replicas, "instance-loss", tmp_path)
    assert code == 0, output
    [fault] = report["faults"]
    assert (fault["action"], fault["replica"], fault["pid"]) == ("kill", 2, killed)
    assert not process.is_running(killed)
    assert 7.0 <= fault["offset_s"] <= 10.0, fault  # `at: 8s`, from the load's start
    b = replicas.balancer
    assert 0 < fault["out_s"] <= (b.fall + 1) * b.check_interval_s, fault  # failover
    errors = report["kinds"]["all"]["errors"]
    assert fault["failed"] <= errors, report["kinds"]["all"]  # the objective: < 2%
    assert f"replica 2 (pid {killed}) killed" in output
    _assert_the_report_draws_each_replica(report, fault["at"] + fault["out_s"])
    _assert_replica_down_reached_the_webhook_once(replicas, fault["at"] + fault["out_s"])
    # Back for the next test: the CLI's restart of the dead replica.
    r = run_cli("stack", "restart-instance", "2", env=stack_env(replicas))
    assert r.returncode == 0, r.stdout + r.stderr
    assert balancer_admin.state(replicas, 2).status == "UP"


def _assert_the_report_draws_each_replica(report: dict, out_at: float) -> None:
    """Every per-replica panel of the vLLM dashboard has one series per replica in the
    report, and the pool's shows replica 2 leaving it once HAProxy took it out."""
    series: dict[str, dict[str, list]] = {}
    for s in report["server"]:
        series.setdefault(s["panel"], {})[s["legend"]] = s["points"]
    drawn = {p.title: sorted(series.get(p.title, {})) for p in REPLICA_PANELS}
    assert drawn == {
        "Requests per replica": ["replica 1", "replica 2"],
        "Running and waiting requests per replica": [
            f"replica {i} {what}" for i in (1, 2) for what in ("running", "waiting")
        ],
        "Balancer sessions per replica": [server_name(1), server_name(2)],
        "Replicas in the balancer's pool": [server_name(1), server_name(2)],
    }, drawn
    pool = series["Replicas in the balancer's pool"]
    seen_out = out_at + report["scrape"]["interval_s"] + 1  # HAProxy scraped since
    assert {v for _, v in pool[server_name(1)]} == {1.0}, pool
    assert [v for t, v in pool[server_name(2)] if t < out_at - 1][:1] == [1.0], pool
    after = [v for t, v in pool[server_name(2)] if t >= seen_out]
    assert after and set(after) == {0.0}, (out_at, pool)


def _assert_replica_down_reached_the_webhook_once(cfg: StackConfig, out_at: float) -> None:
    """EngineReplicaDown for replica 2, and only it, notified once: no earlier than its
    `for:` after HAProxy took the replica out, no later than Prometheus could have seen
    it (a scrape, an evaluation to pending, one to firing) and Alertmanager's group wait."""
    rules = (rules_dir(cfg) / "resources.rules.yml").read_text()
    [rule] = [
        r
        for g in yaml.safe_load(rules)["groups"]
        for r in g["rules"]
        if r.get("alert") == "EngineReplicaDown"
    ]
    hold = parse_prom_duration(rule["for"])
    interval = parse_prom_duration(cfg.prometheus.scrape_interval)
    route = alertmanager_config(cfg)["route"]
    wait = parse_prom_duration(route["group_wait"])
    latest = out_at + hold + 3 * interval + wait + 2

    def notified() -> list[tuple[float, dict]]:
        return [
            (record["received_at"], a)
            for record in read_alerts(alerts_file(cfg))
            for a in record["notification"]["alerts"]
            if a["labels"]["alertname"] == "EngineReplicaDown" and a["status"] == "firing"
        ]

    wait_until(notified, latest + 5 - time.time(), "EngineReplicaDown at the webhook")
    # A second notification of the group would come a group interval later at the soonest.
    time.sleep(
        max(0.0, notified()[0][0] + parse_prom_duration(route["group_interval"]) + 1 - time.time())
    )
    [(received, alert)] = notified()
    assert alert["labels"]["server"] == server_name(2), alert
    assert alert["labels"]["severity"] == "ticket", alert
    earliest = out_at - balancer_admin.POLL_S + hold  # out_at: when the driver saw it DOWN
    assert earliest <= received <= latest, (received - out_at, hold, latest - out_at)


def test_rolling_restart_fails_no_request(replicas: StackConfig, tmp_path: Path) -> None:
    before = _pids(replicas)
    code, report, output = _run(replicas, "rolling-restart", tmp_path)
    assert code == 0, output
    assert [(f["action"], f["replica"], f["failed"]) for f in report["faults"]] == [
        ("restart", 1, 0),
        ("restart", 2, 0),
    ]
    assert report["kinds"]["all"]["errors"] == 0 and report["kinds"]["all"]["requests"] > 200
    after = _pids(replicas)
    assert after["sim-1"] != before["sim-1"] and after["sim-2"] != before["sim-2"]
    assert all(f["back_s"] > 0 for f in report["faults"])


def test_the_breaker_opens_on_a_failing_replica_and_holds_errors(
    replicas: StackConfig, tmp_path: Path
) -> None:
    code, report, output = _run(replicas, "breaker", tmp_path)
    [fault] = report["faults"]
    # 10 s of errors, 2 s (rise x probe interval) out per opening: it opened, let it back
    # (half open) and opened again, each time after `error_limit` consecutive failures (a
    # passed check in between starts the count again: up to twice that).
    assert fault["opened"] >= 2, fault
    errors = report["kinds"]["all"]["errors"]
    limit = replicas.balancer.error_limit
    assert fault["failed"] == errors and 0 < errors <= 2 * limit * fault["opened"], fault
    # Without it, least connections sends the fast-failing replica over half the requests.
    during = [s for s in report["_samples"] if 0 <= s["start"] - fault["at"] <= fault["back_s"]]
    assert errors < 0.5 * len(during), (errors, len(during))
    assert code == 0, output
    log = (replicas.state_dir / "logs" / "balancer.log").read_text()
    assert "engine-2 is DOWN, reason: Health analyze" in log
    assert f"Detected {limit} consecutive errors" in log
    assert balancer_admin.state(replicas, 2).status == "UP"
