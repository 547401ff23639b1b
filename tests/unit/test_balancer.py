"""`stack up --replicas N`: N engine replicas behind HAProxy, built from the stack config.

The generated HAProxy config is checked by the real `haproxy -c`; the parts, ports and
Prometheus targets by value. The stack running it is tests/e2e/test_replicas.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from slakit.catalogue import metrics as names
from slakit.stack import balancer, monitoring
from slakit.stack.config import StackConfig
from slakit.stack.parts import PARTS, gateway_spec, parts_for, ports
from tests.conftest import run_cli


def _cfg(tmp_path: Path, **extra) -> StackConfig:
    return StackConfig(**{"state_dir": tmp_path, "engine": "sim", "replicas": 2, **extra})


def test_generated_config_is_valid_haproxy_with_the_configured_breaker(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, balancer={"error_limit": 3, "check_interval_s": 0.5, "rise": 4})
    spec = balancer.spec(cfg)
    config = Path(spec.argv[-1])
    check = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "WARNING" not in check.stdout + check.stderr
    text = config.read_text()
    assert "balance leastconn" in text and "option httpchk GET /health" in text
    assert (
        "inter 500 fastinter 1000 downinter 1000 " in text
        and "rise 4 " in text
        and "error-limit 3 on-error mark-down" in text
    )
    servers = [line.split()[1:3] for line in text.splitlines() if line.strip().startswith("server")]
    assert servers == [["engine-1", "127.0.0.1:18000"], ["engine-2", "127.0.0.1:18001"]]


def test_replicas_and_the_balancer_are_parts_the_gateway_waits_for(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    parts = {key: deps for key, _, deps in parts_for(cfg)}
    assert parts["balancer"] == ("engine-1", "engine-2")
    assert parts["gateway"] == ("elasticsearch", "balancer") and "engine" not in parts
    assert gateway_spec(cfg).argv[gateway_spec(cfg).argv.index("--engine-url") + 1] == (
        "http://127.0.0.1:18070"
    )
    names_ = [build(cfg).name for key, build, _ in parts_for(cfg) if key.startswith("engine-")]
    assert names_ == ["sim-1", "sim-2"]
    assert parts_for(StackConfig(state_dir=tmp_path)) is PARTS  # one replica: as before


def test_every_replica_port_and_the_balancer_ports_are_checked(tmp_path: Path) -> None:
    owned = ports(_cfg(tmp_path, replicas=3))
    assert [owned[f"sim-{i}"][0] for i in (1, 2, 3)] == [18000, 18001, 18002]
    assert owned["balancer"][0] == 18070 and owned["balancer stats"][0] == 18071
    assert "sim" not in owned and "balancer" not in ports(StackConfig(state_dir=tmp_path))


def test_prometheus_scrapes_each_replica_with_its_own_label_and_the_balancer(
    tmp_path: Path,
) -> None:
    jobs = {
        j["job_name"]: j for j in monitoring.prometheus_config(_cfg(tmp_path))["scrape_configs"]
    }
    engine = [(s["targets"], s["labels"]) for s in jobs["vllm"]["static_configs"]]
    assert engine == [
        (["127.0.0.1:18000"], {"engine": "sim", names.REPLICA_LABEL: "1"}),
        (["127.0.0.1:18001"], {"engine": "sim", names.REPLICA_LABEL: "2"}),
    ]
    assert jobs[names.BALANCER_JOB]["static_configs"][0]["targets"] == ["127.0.0.1:18071"]
    one = monitoring.prometheus_config(StackConfig(state_dir=tmp_path, engine="sim"))
    assert names.BALANCER_JOB not in {j["job_name"] for j in one["scrape_configs"]}
    [lone] = [j for j in one["scrape_configs"] if j["job_name"] == "vllm"]
    assert [(s["targets"], s["labels"]) for s in lone["static_configs"]] == [
        (["127.0.0.1:18000"], {"engine": "sim", names.REPLICA_LABEL: "1"})
    ]  # a lone engine is replica 1, so the per-replica panels name it


@pytest.mark.parametrize("value", ["0", "9"])
def test_bad_replicas_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    r = run_cli("stack", "up", "--replicas", value, "--state-dir", str(tmp_path))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "stack.json").exists()


@pytest.mark.parametrize("command", [["restart-instance", "1"], ["kill-instance", "2"]])
def test_replica_commands_without_replicas_are_one_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    r = run_cli("stack", *command, "--state-dir", str(tmp_path))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "runs one engine" in lines[0], r.stderr
