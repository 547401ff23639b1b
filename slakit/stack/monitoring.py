"""Prometheus and Alertmanager (Debian's binaries) with configs generated from StackConfig.

Prometheus scrapes every HTTP part of the stack every `scrape_interval` and loads rule
files from `<state>/prometheus/rules/`; Alertmanager sends every alert to slakit's webhook,
except one inhibited by another alert of the same cause (`slakit.catalogue.alerting`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from slakit.catalogue import metrics as names
from slakit.catalogue.alerting import INHIBIT_RULES, STACK_LABEL
from slakit.errors import StackError
from slakit.stack.config import StackConfig
from slakit.stack.process import PartSpec


def binary(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    raise StackError(f"{names[0]}: not installed (apt-get install {names[-1]})")


def scrape_targets(cfg: StackConfig) -> dict[str, str]:
    """Prometheus job name -> host:port. The engine's job is `vllm` for both engines so
    rules and dashboards need no second name; the `engine` label tells them apart. Several
    replicas: this is replica 1's, and HAProxy's exporter is the `balancer` job."""
    return {
        "prometheus": cfg.address(cfg.prometheus.port),
        "alertmanager": cfg.address(cfg.alertmanager.port),
        "vllm": cfg.address(cfg.engine_port),
        "gateway": cfg.address(cfg.gateway.port),
        "gpu-exporter": cfg.address(cfg.exporters.gpu.port),
        "es-exporter": cfg.address(cfg.exporters.elasticsearch.port),
        "inference-exporter": cfg.address(cfg.exporters.inference.port),
    } | ({names.BALANCER_JOB: cfg.address(cfg.balancer.stats_port)} if cfg.replicas > 1 else {})


def _static_configs(cfg: StackConfig, job: str, target: str) -> list[dict]:
    """One job's targets; the engine's, one per replica, each with its own `replica` label
    (a lone engine is replica 1: the per-replica panels name it so)."""
    if job != "vllm":
        return [{"targets": [target], "labels": {}}]
    return [
        {
            "targets": [cfg.address(port)],
            "labels": {"engine": cfg.engine, names.REPLICA_LABEL: str(i)},
        }
        for i, port in enumerate(cfg.replica_ports, 1)
    ]


def rules_dir(cfg: StackConfig) -> Path:
    return cfg.state_dir / "prometheus" / "rules"


def prometheus_config(cfg: StackConfig) -> dict:
    jobs = []
    for job, target in scrape_targets(cfg).items():
        jobs.append({"job_name": job, "static_configs": _static_configs(cfg, job, target)})
    return {
        "global": {
            "scrape_interval": cfg.prometheus.scrape_interval,
            "evaluation_interval": cfg.prometheus.scrape_interval,
            "external_labels": {STACK_LABEL: "slakit-embedded"},
        },
        "rule_files": [str(rules_dir(cfg).resolve() / "*.yml")],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [cfg.address(cfg.alertmanager.port)]}]}
            ]
        },
        "scrape_configs": jobs,
    }


def alertmanager_config(cfg: StackConfig) -> dict:
    return {
        "route": {
            "receiver": "slakit-webhook",
            "group_by": ["alertname", "slo"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
        },
        "inhibit_rules": [dict(rule) for rule in INHIBIT_RULES],
        "receivers": [
            {
                "name": "slakit-webhook",
                "webhook_configs": [
                    {"url": f"{cfg.url(cfg.webhook.port)}/alerts", "send_resolved": True}
                ],
            }
        ],
    }


def prometheus_spec(cfg: StackConfig) -> PartSpec:
    base = cfg.state_dir / "prometheus"
    rules_dir(cfg).mkdir(parents=True, exist_ok=True)
    config = base / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(cfg), sort_keys=False))
    url = cfg.url(cfg.prometheus.port)
    return PartSpec(
        name="prometheus",
        argv=[
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={base / 'data'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address={cfg.host}:{cfg.prometheus.port}",
            "--web.enable-lifecycle",
        ],
        url=url,
        log=cfg.state_dir / "logs" / "prometheus.log",
        health_url=f"{url}/-/ready",
        timeout_s=cfg.prometheus.start_timeout_s,
    )


def alertmanager_spec(cfg: StackConfig) -> PartSpec:
    base = cfg.state_dir / "alertmanager"
    base.mkdir(parents=True, exist_ok=True)
    config = base / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(cfg), sort_keys=False))
    url = cfg.url(cfg.alertmanager.port)
    return PartSpec(
        name="alertmanager",
        argv=[
            binary("prometheus-alertmanager", "alertmanager", "prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={base / 'data'}",
            f"--web.listen-address={cfg.host}:{cfg.alertmanager.port}",
            "--cluster.listen-address=",
        ],
        url=url,
        log=cfg.state_dir / "logs" / "alertmanager.log",
        health_url=f"{url}/-/ready",
        timeout_s=cfg.alertmanager.start_timeout_s,
    )
