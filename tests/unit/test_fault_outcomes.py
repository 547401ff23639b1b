"""A scenario's `faults:`: refused where they cannot be done (exit 2, one line), and what
each fault cost counted from the run's samples: the failed requests still running at the
fault or sent before it was over, and no others."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from slakit.load.samples import COLUMNS, CUT
from slakit.report.findings import describe
from slakit.stack.fault_outcomes import outcomes
from tests.conftest import run_cli

KILL_AT = 1000.0
OUT_AT = 1001.5


def _samples(*rows: tuple[float, float, str | None]) -> pd.DataFrame:
    records = [{"start": s, "end": e, "error": err} for s, e, err in rows]
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def _kill() -> dict:
    return {"action": "kill", "replica": 2, "pid": 4242, "at": KILL_AT, "out_at": OUT_AT}


def test_a_kill_costs_the_failed_requests_in_flight_or_sent_before_failover() -> None:
    samples = _samples(
        (990.0, 995.0, "http_500"),  # failed, over before the kill: not the kill's
        (999.0, 1000.1, "incomplete_stream"),  # in flight at the kill: lost
        (1001.0, 1001.2, "connection"),  # sent before the replica was out: lost
        (999.5, 1000.5, CUT),  # cut by the run's end, not failed
        (1000.5, 1000.7, None),  # retried on the other replica: fine
        (1003.0, 1003.1, "http_500"),  # after failover: something else
    )
    [seen] = outcomes([{**_kill(), "back_at": None, "opened": 0}], samples, load_start=992.0)
    assert (seen.failed, seen.offset_s, seen.out_s, seen.back_s) == (2, 8.0, 1.5, None)
    text = describe(seen)
    assert "replica 2 (pid 4242) killed" in text and "+8.0 s" in text
    assert "after 1.50 s (failover); 2 requests lost" in text


def test_a_restart_counts_failures_until_it_is_back_and_errors_count_openings() -> None:
    samples = _samples((1004.0, 1004.2, "http_500"), (1009.0, 1009.1, "http_500"))
    restart = {**_kill(), "action": "restart", "back_at": 1005.0, "opened": 0}
    errors = {**_kill(), "action": "errors", "back_at": 1010.0, "opened": 3}
    done, broke = outcomes([restart, errors], samples, load_start=KILL_AT)
    assert (done.failed, done.back_s, broke.failed, broke.opened) == (1, 5.0, 2, 3)
    assert "back in the pool after 5.0 s; 1 request failed" in describe(done)
    assert "circuit breaker opened 3 times (first after 1.50 s)" in describe(broke)


def test_a_fault_that_could_not_be_done_says_why() -> None:
    record = {"action": "kill", "replica": 2, "error": "balancer: no runtime API"}
    [seen] = outcomes([record], _samples(), load_start=0.0)
    assert describe(seen) == "kill of replica 2 was not done: balancer: no runtime API"


@pytest.mark.parametrize(
    ("target", "fault", "says"),
    [
        ({"embedded": True}, {"at": "2s", "action": "kill"}, "replicas: 2"),
        ({"embedded": True, "replicas": 2}, {"at": "2s", "action": "kill", "replica": 3}, "runs 2"),
        ({"embedded": True, "replicas": 2}, {"at": "2s", "action": "errors"}, "engine: sim"),
        ({"embedded": True, "replicas": 2}, {"at": "30s", "action": "kill"}, "within the load"),
    ],
)
def test_faults_that_cannot_be_done_are_bad_input(
    tmp_path: Path, target: dict, fault: dict, says: str
) -> None:
    path = tmp_path / "s.yaml"
    scenario = {
        "name": "f",
        "target": target,
        "workload": [{"kind": "chat"}],
        "load": {"rate": {"rps": 1, "duration": "10s"}},
        "faults": [fault],
    }
    path.write_text(yaml.safe_dump(scenario))
    r = run_cli("run", "scenario", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "faults" in lines[0], r.stderr
