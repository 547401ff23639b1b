"""The embedded Elasticsearch: Maven Central's integ-test-zip, single node, loopback only.

The integ-test-zip has no bundled JDK and few modules (no analysis-common, so only the
standard analyzer). It runs on the machine's Java 17. Elasticsearch refuses to run as
root, so when we are root it runs as an unprivileged user whose home holds the unpacked
distribution and the node's files (root's own home is not readable by that user).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import zipfile
from pathlib import Path

from slakit.errors import StackError
from slakit.stack import es_security
from slakit.stack.config import StackConfig
from slakit.stack.process import PartSpec

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"


def _java_home() -> str:
    """ES_JAVA_HOME for the node: $ES_JAVA_HOME, $JAVA_HOME, else the `java` on PATH."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            return os.environ[var]
    java = shutil.which("java")
    if not java:
        raise StackError("elasticsearch: no Java found (install openjdk-17-jre-headless)")
    return str(Path(java).resolve().parent.parent)


def run_as(cfg: StackConfig) -> str | None:
    """The user Elasticsearch runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(cfg.elasticsearch.user)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--create-home",
                "--home-dir",
                f"/var/lib/{cfg.elasticsearch.user}",
                "--shell",
                "/usr/sbin/nologin",
                cfg.elasticsearch.user,
            ],
            check=True,
            capture_output=True,
        )
    return cfg.elasticsearch.user


def _owned_root(cfg: StackConfig) -> Path:
    """Where files the node must read or write live: our cache, or the ES user's home."""
    user = run_as(cfg)
    return Path(pwd.getpwnam(user).pw_dir) if user else cfg.cache_dir


def download(cfg: StackConfig) -> Path:
    """The distribution zip, fetched once with Maven into the cache."""
    version = cfg.elasticsearch.version
    target = cfg.cache_dir / "downloads" / f"elasticsearch-{version}.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={ARTIFACT.format(version=version)}",
            f"-DoutputDirectory={target.parent}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not target.exists():
        last = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise StackError(f"elasticsearch: cannot fetch {version} from Maven Central", *last)
    return target


def distribution(cfg: StackConfig) -> Path:
    """The unpacked distribution (unpacked once, then reused)."""
    version = cfg.elasticsearch.version
    home = _owned_root(cfg) / "dist" / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    archive = download(cfg)
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(staging)
    for script in (staging / f"elasticsearch-{version}" / "bin").iterdir():
        script.chmod(0o755)
    (staging / f"elasticsearch-{version}").rename(home)
    staging.rmdir()
    _chown_tree(cfg, home.parent)
    return home


def workdir(cfg: StackConfig) -> Path:
    """The node's config, data and logs. Under the state dir, or (as root) under the ES
    user's home keyed by the state dir, with a symlink from the state dir to it."""
    link = cfg.state_dir / "elasticsearch"
    if run_as(cfg) is None:
        return link
    key = hashlib.sha1(str(cfg.state_dir.resolve()).encode()).hexdigest()[:10]
    real = _owned_root(cfg) / "stacks" / key
    real.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(link, ignore_errors=True)
        link.symlink_to(real)
    return real


def _chown_tree(cfg: StackConfig, path: Path) -> None:
    user = run_as(cfg)
    if user:
        subprocess.run(["chown", "-R", f"{user}:", str(path)], check=True)


def _write_config(cfg: StackConfig, home: Path, work: Path) -> Path:
    es = cfg.elasticsearch
    conf = work / "config"
    if not conf.exists():
        shutil.copytree(home / "config", conf)
    for sub in ("data", "logs"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (conf / "elasticsearch.yml").write_text(
        "# Written by slakit at every `stack up`; edit slakit's stack config instead.\n"
        "cluster.name: slakit\n"
        "node.name: slakit-node-1\n"
        "discovery.type: single-node\n"
        f"network.host: {cfg.host}\n"
        f"http.port: {es.port}\n"
        f"transport.port: {es.transport_port}\n"
        + (es_security.node_settings() if es.secure else "xpack.security.enabled: false\n")
        + "action.destructive_requires_name: true\n"
        # A laptop's disk is often fuller than Elasticsearch's default 85% watermark.
        "cluster.routing.allocation.disk.threshold_enabled: false\n"
        f"path.data: {work / 'data'}\n"
        f"path.logs: {work / 'logs'}\n"
    )
    if es.secure:
        es_security.write_node_files(cfg, conf)
    _chown_tree(cfg, work)
    return conf


def spec(cfg: StackConfig) -> PartSpec:
    """The node as a supervised part. Fetches and unpacks the distribution if needed."""
    home = distribution(cfg)
    work = workdir(cfg)
    conf = _write_config(cfg, home, work)
    url = cfg.es_url
    return PartSpec(
        name="elasticsearch",
        argv=[str(home / "bin" / "elasticsearch")],
        url=url,
        log=cfg.state_dir / "logs" / "elasticsearch.log",
        health_url=f"{url}/_cluster/health",
        timeout_s=cfg.elasticsearch.start_timeout_s,
        env={
            "ES_JAVA_HOME": _java_home(),
            "ES_PATH_CONF": str(conf),
            "ES_JAVA_OPTS": f"-Xms{cfg.elasticsearch.heap} -Xmx{cfg.elasticsearch.heap}",
        },
        cwd=work,
        user=run_as(cfg),
        healthy=lambda r: r.status_code == 200 and r.json().get("status") in ("green", "yellow"),
        health_auth=health_auth(cfg),
    )


def health_auth(cfg: StackConfig):
    """What the node's health check authenticates with: the exporter's (monitoring) user
    when security is on, else nothing."""
    return es_security.credential(cfg, "es-exporter") if cfg.elasticsearch.secure else None
