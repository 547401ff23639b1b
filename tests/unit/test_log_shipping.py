"""The shipper's generated rsyslog config, checked by the real rsyslogd (`-N1`: the
config run, no start), and what it ships where; the log streams' lifecycle."""

from __future__ import annotations

import subprocess

from slakit.catalogue.defaults import LOG_INDEX_PATTERN, log_stream
from slakit.stack import log_streams, shipper
from slakit.stack.config import ShipperConfig, StackConfig


def test_rsyslogd_accepts_the_generated_config(tmp_path):
    cfg = StackConfig(state_dir=tmp_path, engine="sim", replicas=2)
    spec = shipper.spec(cfg)
    config = spec.argv[spec.argv.index("-f") + 1]
    check = subprocess.run(
        [spec.argv[0], "-N1", "-f", config], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
    assert "error" not in check.stderr.lower(), check.stderr


def test_each_part_log_goes_to_its_data_stream():
    cfg = StackConfig(engine="sim", replicas=2)
    routes = shipper.shipped(cfg)
    assert {path.rsplit("/", 1)[1]: s for path, s in routes.items()} == {
        "gateway.log": log_stream("gateway"),
        "sim*.log": log_stream("engine"),  # sim-1.log, sim-2.log: every replica
    }
    config = shipper.rsyslog_config(cfg)
    for stream in routes.values():
        assert f'searchIndex="{stream}"' in config
    assert all(s.startswith("logs-slakit.") for s in routes.values())
    assert LOG_INDEX_PATTERN == "logs-slakit.*-*"


def test_the_policy_rolls_over_by_size_and_age_as_seed_000():
    policy = log_streams.policy(ShipperConfig())
    assert policy["phases"]["hot"]["actions"]["rollover"] == {"max_size": "50gb", "max_age": "30d"}
    assert policy["phases"]["warm"] == {
        "min_age": "30d",
        "actions": {"forcemerge": {"max_num_segments": 1}},
    }
