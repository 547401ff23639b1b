"""An Elasticsearch outage pages once: the real Alertmanager (Debian's), with the embedded
stack's generated config and with deploy/compose's, holds back RagCanaryFailing while
ElasticsearchDown fires for the same `stack`, and only for it.

Alerts are posted to Alertmanager's API as Prometheus posts them (the rules' labels plus
the external label `stack`); the embedded config notifies slakit's own webhook receiver,
whose file says what was sent.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

from slakit.catalogue.alerting import ELASTICSEARCH_DOWN, RAG_CANARY_FAILING, STACK_LABEL
from slakit.stack.monitoring import alertmanager_config, binary
from slakit.stack.webhook import make_handler, read_alerts
from tests.conftest import stack_config
from tests.servers import HOST, answers, free_port, stop, wait_until

DEPLOYED = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "alertmanager.yml"
EMBEDDED = "slakit-embedded"  # the embedded Prometheus' `stack`
OTHER = "another-deployment"


def _alert(name: str, stack: str, job: str) -> dict:
    """An alert as Prometheus sends it: rule labels, target labels, external labels."""
    now = datetime.now(UTC)
    labels = {"alertname": name, "severity": "page", "job": job, "instance": f"{job}:1"}
    return {
        "labels": {**labels, STACK_LABEL: stack},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }


def _outage() -> list[dict]:
    """The alerts of an Elasticsearch outage, made when posted: made at import, they had
    ended (endsAt 5 min later) by the time a full suite reached this file."""
    return [
        _alert(ELASTICSEARCH_DOWN, EMBEDDED, "es-exporter"),
        _alert(RAG_CANARY_FAILING, EMBEDDED, "inference-exporter"),
        _alert(RAG_CANARY_FAILING, OTHER, "inference-exporter"),  # Elasticsearch is up there
    ]


@contextmanager
def webhook(received: Path) -> Iterator[int]:
    """slakit's webhook receiver (the stack's part, in a thread) on a free port."""
    server = ThreadingHTTPServer((HOST, free_port()), make_handler(received))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def alertmanager(config: dict, tmp: Path) -> Iterator[str]:
    """The real Alertmanager on a free port with `config`; yields its URL."""
    path = tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    url = f"http://{HOST}:{free_port()}"
    argv = [
        binary("prometheus-alertmanager", "alertmanager"),
        f"--config.file={path}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        "--cluster.listen-address=",
    ]
    with (tmp / "alertmanager.log").open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: answers(f"{url}/-/ready") or proc.poll() is not None, 20, "ready")
            assert proc.poll() is None, (tmp / "alertmanager.log").read_text()
            yield url
        finally:
            stop(proc)


def _statuses(url: str) -> dict[tuple[str, str], dict]:
    """(alertname, stack) -> Alertmanager's status of that alert."""
    alerts = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
    return {(a["labels"]["alertname"], a["labels"][STACK_LABEL]): a["status"] for a in alerts}


def _assert_only_the_same_stacks_canary_is_inhibited(url: str) -> None:
    """ElasticsearchDown first, then the canaries, as an outage usually goes (below).
    Alertmanager mutes a target only if its source is there when the target's group is
    flushed (its group wait, 1 s in the embedded config): all three posted in one batch on
    a machine at load 12, the RAG page went out in one of six runs."""
    outage = _outage()
    source, targets = outage[:1], outage[1:]
    assert httpx.post(f"{url}/api/v2/alerts", json=source, timeout=5).status_code == 200
    wait_until(lambda: len(_statuses(url)) == 1, 10, "ElasticsearchDown in Alertmanager")
    assert httpx.post(f"{url}/api/v2/alerts", json=targets, timeout=5).status_code == 200
    wait_until(lambda: len(_statuses(url)) == len(outage), 10, "the canaries in Alertmanager")
    status = _statuses(url)
    assert status[(RAG_CANARY_FAILING, EMBEDDED)]["state"] == "suppressed", status
    assert status[(RAG_CANARY_FAILING, EMBEDDED)]["inhibitedBy"], status
    for unmuted in ((ELASTICSEARCH_DOWN, EMBEDDED), (RAG_CANARY_FAILING, OTHER)):
        assert status[unmuted] == {**status[unmuted], "state": "active", "inhibitedBy": []}


def test_the_embedded_stack_sends_one_page_for_an_elasticsearch_outage(tmp_path: Path) -> None:
    received = tmp_path / "alerts.jsonl"
    with webhook(received) as port:
        cfg = stack_config(tmp_path, webhook={"port": port})
        with alertmanager(alertmanager_config(cfg), tmp_path) as url:
            _assert_only_the_same_stacks_canary_is_inhibited(url)

            def sent() -> set[tuple[str, str]]:
                return {
                    (a["labels"]["alertname"], a["labels"][STACK_LABEL])
                    for record in read_alerts(received)
                    for a in record["notification"]["alerts"]
                }

            # group_wait 1 s; both groups (one per alert name) flushed within a few seconds.
            wait_until(lambda: len(sent()) >= 2, 15, "two notifications at the webhook")
            time.sleep(2)  # anything else in flight arrives meanwhile
            assert sent() == {(ELASTICSEARCH_DOWN, EMBEDDED), (RAG_CANARY_FAILING, OTHER)}


def test_the_deployed_alertmanager_inhibits_the_same(tmp_path: Path) -> None:
    """Its receivers are the deployment's (unreachable here): the API's status says it."""
    with alertmanager(yaml.safe_load(DEPLOYED.read_text()), tmp_path) as url:
        _assert_only_the_same_stacks_canary_is_inhibited(url)
