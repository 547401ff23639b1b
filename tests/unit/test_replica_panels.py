"""The per-replica panels (vLLM dashboard, and so the report) read the labels the stack
really gives: the `replica` label of each engine's scrape (slakit/stack/monitoring.py) and
HAProxy's backend and server names (slakit/stack/balancer.py). Their queries, bound as the
report binds them, run in the real PromQL engine (`promtool test rules`) over series
labelled by those generators: one series per replica, the balancer's other pools left out,
a replica out of the pool at 0. A label renamed on either side fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slakit.catalogue import metrics as m
from slakit.catalogue.panels import REPLICA_PANELS, VLLM_DASHBOARD, PanelDef, bind
from slakit.stack import monitoring
from slakit.stack.balancer import haproxy_config
from slakit.stack.config import StackConfig
from tests.promtool_cases import counter, gauge, run

MINUTES = 10
DOWN_AT = 5  # replica 2 leaves the pool
PER_MINUTE = {"1": 60.0, "2": 120.0}  # requests each replica finishes a minute
RUNNING, WAITING = {"1": 3.0, "2": 5.0}, {"1": 0.0, "2": 2.0}
SESSIONS = {0: 4.0, 1: 6.0}  # HAProxy's open connections to server 0 and 1


def _replica_scrapes(cfg: StackConfig) -> list[dict[str, str]]:
    """The engine job's targets as Prometheus labels them (job, instance, static labels)."""
    [vllm] = [
        j for j in monitoring.prometheus_config(cfg)["scrape_configs"] if j["job_name"] == "vllm"
    ]
    return [
        {"job": "vllm", "instance": target, **c["labels"]}
        for c in vllm["static_configs"]
        for target in c["targets"]
    ]


def _pool(cfg: StackConfig) -> tuple[str, list[str]]:
    """The backend and its server names, as the generated HAProxy config has them."""
    text = haproxy_config(cfg)
    [backend] = re.findall(r"^backend (\S+)$", text, re.MULTILINE)
    return backend, re.findall(r"^\s+server (\S+) ", text, re.MULTILINE)


def _sel(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> StackConfig:
    return StackConfig(state_dir=tmp_path_factory.mktemp("state"), engine="sim", replicas=2)


def _series(cfg: StackConfig) -> list[dict]:
    series = []
    for labels in _replica_scrapes(cfg):
        replica = labels[m.REPLICA_LABEL]
        model = {**labels, m.VLLM_MODEL_LABEL: "slakit-tiny"}
        done = {**model, m.VLLM_FINISHED_REASON_LABEL: "length"}
        series += [
            {
                "series": _sel(m.VLLM_REQUEST_SUCCESS_TOTAL, done),
                "values": counter(0, (MINUTES, PER_MINUTE[replica])),
            },
            {
                "series": _sel(m.VLLM_NUM_REQUESTS_RUNNING, model),
                "values": gauge((MINUTES + 1, RUNNING[replica])),
            },
            {
                "series": _sel(m.VLLM_NUM_REQUESTS_WAITING, model),
                "values": gauge((MINUTES + 1, WAITING[replica])),
            },
        ]
    backend, servers = _pool(cfg)
    balancer = {"job": m.BALANCER_JOB, "instance": monitoring.scrape_targets(cfg)[m.BALANCER_JOB]}
    for i, server in enumerate(servers):
        labels = {**balancer, "proxy": backend, m.HAPROXY_SERVER_LABEL: server}
        series.append(
            {
                "series": _sel(m.HAPROXY_SERVER_CURRENT_SESSIONS, labels),
                "values": gauge((MINUTES + 1, SESSIONS[i])),
            }
        )
        for state in ("UP", "DOWN"):
            up = state == "UP"
            later = up if i == 0 else not up  # the second server leaves the pool
            series.append(
                {
                    "series": _sel(
                        m.HAPROXY_SERVER_STATUS, {**labels, m.HAPROXY_STATE_LABEL: state}
                    ),
                    "values": gauge((DOWN_AT, float(up)), (MINUTES + 1 - DOWN_AT, float(later))),
                }
            )
    # Another pool of the same HAProxy (a deployment's other backend) is not an engine's.
    other = {**balancer, "proxy": "other", m.HAPROXY_SERVER_LABEL: servers[0]}
    series.append(
        {
            "series": _sel(m.HAPROXY_SERVER_CURRENT_SESSIONS, other),
            "values": gauge((MINUTES + 1, 99)),
        }
    )
    series.append(
        {
            "series": _sel(m.HAPROXY_SERVER_STATUS, {**other, m.HAPROXY_STATE_LABEL: "UP"}),
            "values": gauge((MINUTES + 1, 1)),
        }
    )
    return series


def _panel(title: str) -> PanelDef:
    return next(p for p in REPLICA_PANELS if p.title == title)


def _expect(panel: str, index: int, samples: list[tuple[dict[str, str], float]]) -> dict:
    promql, _ = _panel(panel).queries[index]
    return {
        "expr": bind(promql, rate_interval="2m", range_="5m"),
        "eval_time": f"{MINUTES}m",
        "exp_samples": [
            {
                "labels": "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
                "value": value,
            }
            for labels, value in samples
        ],
    }


def test_each_per_replica_panel_has_one_series_per_replica(
    stack: StackConfig, tmp_path: Path
) -> None:
    assert set(REPLICA_PANELS) <= set(VLLM_DASHBOARD.panels)  # Grafana's, and the report's
    replicas = [labels[m.REPLICA_LABEL] for labels in _replica_scrapes(stack)]
    _, servers = _pool(stack)
    assert replicas == ["1", "2"] and len(servers) == 2
    by_replica = [{m.REPLICA_LABEL: r} for r in replicas]
    by_server = [{m.HAPROXY_SERVER_LABEL: s} for s in servers]
    tests = [
        _expect(
            "Requests per replica",
            0,
            [(labels, PER_MINUTE[labels[m.REPLICA_LABEL]] / 60) for labels in by_replica],
        ),
        _expect(
            "Running and waiting requests per replica",
            0,
            [(labels, RUNNING[labels[m.REPLICA_LABEL]]) for labels in by_replica],
        ),
        _expect(
            "Running and waiting requests per replica",
            1,
            [(labels, WAITING[labels[m.REPLICA_LABEL]]) for labels in by_replica],
        ),
        _expect(
            "Balancer sessions per replica", 0, [(s, SESSIONS[i]) for i, s in enumerate(by_server)]
        ),
        _expect("Replicas in the balancer's pool", 0, [(by_server[0], 1.0), (by_server[1], 0.0)]),
    ]
    rules = tmp_path / "none.rules.yml"
    rules.write_text("groups: []\n")
    group = {
        "name": "per-replica panels",
        "input_series": _series(stack),
        "promql_expr_test": tests,
    }
    problems = run(rules, [group], tmp_path)
    assert problems == [], "\n".join(problems)
