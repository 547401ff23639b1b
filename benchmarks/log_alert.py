"""The ERROR-rate alert's time to fire with the rule as generated (`for: 2m`, not the live
test's short windows): the embedded stack on the simulated engine, healthy traffic, then
every request failing (`POST /sim/faults`); from the first ERROR line's @timestamp in
Elasticsearch to the webhook's receipt of `LogErrorsHigh`. About 3.5 min.

    flock /tmp/slakit-stack.lock .venv/bin/python benchmarks/log_alert.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import _common as c
from elasticsearch import Elasticsearch

from slakit.stack import supervisor
from tests.conftest import stack_config
from tests.integration.test_log_alert_live import (
    ALERT,
    SHIFT,
    Traffic,
    burst,
    load_resource_rules,
    time_to_fire,
)

WITHIN_S = 300  # for: 2m, plus scrape, evaluation and delivery, with room


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="slakit-log-alert-") as tmp:
        cfg = stack_config(Path(tmp) / "state", engine="sim", shift=SHIFT)
        supervisor.up(cfg)
        try:
            load_resource_rules(cfg, Path(tmp) / "rules", short_windows=False)
            traffic = Traffic(cfg)
            b = burst(cfg, traffic, WITHIN_S)
            if not b.fired:
                c.console.print(f"[red]{ALERT} did not reach the webhook in {WITHIN_S} s[/red]")
                raise SystemExit(1)
            es = Elasticsearch(cfg.url(cfg.elasticsearch.port), request_timeout=10)
            took = time_to_fire(cfg, es, b.started)
            c.console.print(
                f"{ALERT} (for: 2m): first ERROR line to webhook delivery {took:.1f} s; "
                f"{len(traffic.failed)} requests failed meanwhile"
            )
        finally:
            supervisor.down(cfg, purge=True)


if __name__ == "__main__":
    main()
