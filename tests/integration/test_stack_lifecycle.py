"""`slakit stack up/status/down` as a user runs them, and how `up` fails on bad input.

These use the simulated engine (the serving tests use real vLLM) and their own ports, so
they can bring a stack up and down without disturbing the session's stack.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from slakit.stack import process
from slakit.stack.supervisor import read_state
from tests.conftest import run_cli, stack_config

pytestmark = pytest.mark.integration


def write_config(path: Path, **extra) -> Path:
    cfg = stack_config(path.parent / "state", engine="sim", shift=1000, **extra)
    data = cfg.model_dump(mode="json", exclude={"cache_dir"})
    path.write_text(yaml.safe_dump(data))
    return path


def test_up_status_down_leaves_no_process(tmp_path: Path) -> None:
    config = write_config(tmp_path / "stack.yaml")
    up = run_cli("stack", "up", "--config", str(config))
    assert up.returncode == 0, up.stderr
    cfg = stack_config(tmp_path / "state", engine="sim", shift=1000)
    pids = [p.pid for p in read_state(cfg)]
    assert len(pids) == 11
    status = run_cli("stack", "status", "--json", "--config", str(config))
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)
    assert {r["part"] for r in rows} == {
        "elasticsearch", "sim", "webhook", "alertmanager", "gateway", "prometheus",
        "gpu-exporter", "es-exporter", "inference-exporter", "shipper", "jaeger",
    }  # fmt: skip
    assert all(
        r["healthy"] and r["pid"] > 0 and r["url"].startswith("http://127.0.0.1:") for r in rows
    )
    down = run_cli("stack", "down", "--purge", "--config", str(config))
    assert down.returncode == 0, down.stderr
    assert not any(process.group_alive(pid) for pid in pids)
    assert run_cli("stack", "status", "--config", str(config)).returncode == 1


def test_broken_config_is_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("engine: sim\ngateway:\n  port: 80\n  colour: blue\n")
    r = run_cli("stack", "up", "--config", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert f"slakit: {bad}:3: gateway.port: expected a port between 1024 and 65535" in lines
    assert f"slakit: {bad}:4: gateway.colour: unknown field" in lines
    assert "Traceback" not in r.stderr


def test_busy_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    config = write_config(tmp_path / "stack.yaml")
    cfg = stack_config(tmp_path / "state", engine="sim", shift=1000)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", cfg.gateway.port))
        squatter.listen()
        r = run_cli("stack", "up", "--config", str(config))
    assert r.returncode == 1
    assert f"gateway: port {cfg.gateway.port} on 127.0.0.1 is busy" in r.stderr
    assert "Traceback" not in r.stderr
    assert read_state(cfg) == []


def test_elasticsearch_that_cannot_start_is_named_and_cleaned_up(tmp_path: Path) -> None:
    config = tmp_path / "stack.yaml"
    write_config(config)
    data = yaml.safe_load(config.read_text())
    data["elasticsearch"]["heap"] = "2m"  # too small for the JVM to start Elasticsearch
    config.write_text(yaml.safe_dump(data))
    r = run_cli("stack", "up", "--config", str(config))
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("slakit: ")]
    assert errors[0].startswith("slakit: elasticsearch failed to start: the process exited")
    assert "Traceback" not in r.stderr
    cfg = stack_config(tmp_path / "state", engine="sim", shift=1000)
    assert read_state(cfg) == []
    for port in (cfg.sim.port, cfg.webhook.port):
        with socket.socket() as probe:  # nothing left listening (TIME_WAIT is fine)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
