"""Two engine replicas (the simulated engine, so faults can be injected) behind the real
HAProxy, in the real embedded stack: traffic through the gateway reaches both, Prometheus
scrapes each replica under its own label and HAProxy's own exporter; and the shipped
fault scenarios, end to end: a replica killed, a rolling restart, a breaker opening."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slakit.catalogue import metrics as names
from slakit.stack import balancer_admin, process, supervisor
from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_config, stack_env
from tests.servers import REPO, metric, wait_until

pytestmark = pytest.mark.integration

SHIFT = 2600  # its own ports: clear of the session stack's and the other test stacks'


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    cfg = stack_config(tmp_path_factory.mktemp("replicas"), engine="sim", shift=SHIFT, replicas=2)
    supervisor.up(cfg)
    yield cfg
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
    # Back for the next test: the CLI's restart of the dead replica.
    r = run_cli("stack", "restart-instance", "2", env=stack_env(replicas))
    assert r.returncode == 0, r.stdout + r.stderr
    assert balancer_admin.state(replicas, 2).status == "UP"


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
