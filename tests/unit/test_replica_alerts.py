"""One of two engine replicas goes away behind the balancer: the real promtool on the
generated rules says which alerts fire, when, and how often.

The replica's process dies at minute STOP: HAProxy's checks mark it DOWN and Prometheus can
no longer scrape it (`up` 0 for its own `replica` label). EngineReplicaDown (the balancer's
view) and TargetDown (Prometheus's) each fire once, for that replica only; a replica drained
on purpose (MAINT, as a rolling restart does) fires neither.
"""

from __future__ import annotations

from pathlib import Path

from slakit.catalogue import metrics as names
from slakit.stack.balancer import BACKEND, server_name
from tests.promtool_cases import at, first_fires_at, gauge
from tests.unit.test_outage_alerts import (
    JOBS,
    STOP,
    UNTIL,
    _for_minutes,
    _sel,
    check,
    expect,
    rules,  # noqa: F401 (the module's generated rule file, a fixture)
)

BALANCER = {"instance": "balancer:8405", "job": names.BALANCER_JOB, "proxy": BACKEND}
STATES = ("UP", "DOWN", "MAINT")


def _replica(i: int) -> dict[str, str]:
    return {"instance": f"vllm-{i}:8000", "job": "vllm", names.REPLICA_LABEL: str(i)}


def _server(i: int, after: str) -> list[dict]:
    """HAProxy's status series of replica `i`: UP until STOP, then in state `after`."""
    labels = {**BALANCER, "server": server_name(i)}
    return [
        {
            "series": _sel(names.HAPROXY_SERVER_STATUS, {**labels, "state": state}),
            "values": gauge(
                (STOP, float(state == "UP")), (UNTIL - STOP + 1, float(state == after))
            ),
        }
        for state in STATES
    ]


def _up(i: int, after: float) -> dict:
    return {
        "series": _sel("up", _replica(i)),
        "values": gauge((STOP, 1), (UNTIL - STOP + 1, after)),
    }


def _others_up() -> list[dict]:
    """`up` of every other job, 1 throughout (TargetDown reads them all)."""
    return [
        {"series": _sel("up", {"job": j, "instance": f"{j}:1"}), "values": gauge((UNTIL + 1, 1))}
        for j in JOBS
        if j != "vllm"
    ]


def test_a_replica_that_dies_fires_replica_down_and_target_down_once(
    rules: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    rule, ejected = expect(
        rules, "EngineReplicaDown", {**BALANCER, "server": server_name(1), "state": "DOWN"}, 1
    )
    target_rule, unscraped = expect(rules, "TargetDown", _replica(1), 0)
    series = [*_server(1, "DOWN"), *_server(2, "UP"), _up(1, 0), _up(2, 1), *_others_up()]
    tests = [
        *first_fires_at(STOP + _for_minutes(rule), "EngineReplicaDown", ejected),
        at(UNTIL, "EngineReplicaDown", [ejected]),  # still exactly one: replica 2 never
        *first_fires_at(STOP + _for_minutes(target_rule), "TargetDown", unscraped),
        at(UNTIL, "TargetDown", [unscraped]),
    ]
    assert _for_minutes(rule) == 1 and rule["labels"]["severity"] == "ticket"
    check(rules, tmp_path, "replica 1 dies", series, tests)


def test_a_drained_replica_fires_nothing(rules: Path, tmp_path: Path) -> None:  # noqa: F811
    """MAINT is the operator's (or `stack restart-instance`'s) drain, not an outage."""
    series = [*_server(1, "MAINT"), *_server(2, "UP"), _up(1, 1), _up(2, 1), *_others_up()]
    tests = [at(m, "EngineReplicaDown", []) for m in (STOP + 1, STOP + 5, UNTIL)]
    check(rules, tmp_path, "replica 1 drained", series, tests)
