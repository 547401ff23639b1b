"""The embedded stack with Elasticsearch security on (`stack up --secure`): HTTPS with the
CA the stack made, one least-privilege user per part, against real Elasticsearch security.

One stack (simulated engine, so it starts in seconds besides Elasticsearch) serves every
test here: each part works with its credential, each credential is refused what its part
must not do, no secret reaches a process list, a log or a report, and a wrong password or
a CA that did not sign the node's certificate is one line and exit 2.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from slakit.catalogue.defaults import log_stream
from slakit.es_auth import AUTH_FAILED, VERIFY_FAILED, EsAuth
from slakit.gateway.settings import ES_ENV_PREFIX
from slakit.stack import es_security, shipper, supervisor
from slakit.stack.config import StackConfig
from tests.conftest import run_cli, stack_config, stack_env
from tests.integration.test_es_exporter import COLLECTOR_UP, eventually, scrape
from tests.servers import serve_module

pytestmark = pytest.mark.integration

SHIFT = 850  # its own ports: clear of the session stack's and the other test stacks'
LOG_STREAM = "logs-slakit.test-default"
OTHER_LOG_STREAM = "logs-other.app-default"  # not slakit's: no part but the shipper's may touch it


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    cfg = stack_config(tmp_path_factory.mktemp("secure-stack"), engine="sim", shift=SHIFT)
    es = cfg.elasticsearch.model_copy(update={"secure": True})
    cfg = cfg.model_copy(update={"elasticsearch": es})
    supervisor.up(cfg)
    yield cfg
    supervisor.down(cfg, purge=True)


def client(cfg: StackConfig, part: str | None) -> httpx.Client:
    """An HTTPS client of the secured node as part `part` (None: no credential)."""
    auth = es_security.credential(cfg, part) if part else EsAuth(ca_file=es_security.ca_file(cfg))
    return httpx.Client(
        base_url=cfg.es_url, headers=auth.authorization(), verify=auth.ssl_context(), timeout=30
    )


def test_every_part_works_with_its_credential(secured: StackConfig) -> None:
    cfg = secured
    assert cfg.es_url.startswith("https://")
    # The indexer's corpus is complete (read back by the gateway's user).
    with client(cfg, "gateway") as gateway:
        count = gateway.get(f"/{cfg.corpus.index}/_count").json()["count"]
    assert count == cfg.corpus.max_docs
    # The gateway retrieves over HTTPS with its user.
    ready = httpx.get(f"{cfg.url(cfg.gateway.port)}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["elasticsearch"] == "ok", ready.text
    rag = httpx.post(
        f"{cfg.url(cfg.gateway.port)}/rag/query",
        json={"query": "decode JSON", "max_tokens": 4},
        timeout=60,
    )
    assert rag.status_code == 200 and rag.json()["documents"], rag.text
    # The ES exporter (its http.client node, over TLS) reads every section and its canary.
    exporter = cfg.url(cfg.exporters.elasticsearch.port)
    canary = "slakit_es_canary_search_seconds_count"
    eventually(lambda: scrape(exporter).value(canary, index=cfg.corpus.index) >= 1, 30, "canary")
    got = scrape(exporter)
    assert got.value("slakit_es_up") == 1
    assert {name: got.value(name) for name in COLLECTOR_UP} == dict.fromkeys(COLLECTOR_UP, 1)
    assert got.by_name("slakit_es_canary_failures_total") == {}
    assert got.value("slakit_es_index_freshness_seconds", index=cfg.corpus.index) > 0
    # `stack check` reads health and the corpus as the monitoring user.
    check = run_cli("stack", "check", env=stack_env(cfg), timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    # rsyslog ships the gateway's log lines over HTTPS as the shipper's user.
    stream = log_stream("gateway")
    with client(cfg, "admin") as admin:
        eventually(
            lambda: admin.get(f"/{stream}/_count").json().get("count", 0) >= 1, 60, "shipped"
        )
    # The log shipper's user appends a document to a logs-* stream.
    with client(cfg, "log-shipper") as shipper:
        now = datetime.datetime.now(datetime.UTC).isoformat()
        doc = {"@timestamp": now, "message": "hello", "log.level": "info"}
        r = shipper.post(f"/{LOG_STREAM}/_create/1", json=doc)
    assert r.status_code == 201, r.text


def test_es_search_and_bulk_load_with_the_load_user(secured: StackConfig, tmp_path: Path) -> None:
    scenario = tmp_path / "es.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "es-secured",
                "target": {"embedded": True, "engine": "sim"},
                "workload": [
                    {"kind": "es_search", "weight": 2},
                    {"kind": "es_bulk", "weight": 1, "docs_per_request": 5},
                ],
                "load": {"rate": {"rps": 10, "arrivals": "constant", "duration": "4s"}},
                "slos": [
                    {
                        "name": "errors",
                        "sli": "error_rate",
                        "aggregation": "ratio",
                        "objective": "< 1%",
                    }
                ],
                "gate": {"min_samples": 10},
            }
        )
    )
    out = tmp_path / "out"
    r = run_cli("run", "scenario", str(scenario), "--out", str(out), env=stack_env(secured))
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(next(out.rglob("report.json")).read_text())
    assert report["target"]["elasticsearch"].startswith("https://")
    assert report["target"]["es_auth"]["username"] == "slakit_load"
    secrets = list(es_security.passwords(secured).values())
    for path in out.rglob("*"):  # samples, reports in every format, logs
        if path.is_file():
            assert not [s for s in secrets if s in path.read_text(errors="replace")], path
    kinds = report["kinds"]
    assert kinds["es_search"]["errors"] == 0 and kinds["es_bulk"]["errors"] == 0
    assert kinds["es_search"]["requests"] > 0 and kinds["es_bulk"]["requests"] > 0


# (part, method, path, body): what each part must be refused. A role any broader than
# its part needs lets one of these through, and the test fails.
REFUSED = {
    "gateway": [
        ("POST", "/{corpus}/_doc", {"text": "x"}),  # retrieval only reads
        ("GET", "/{logs}/_search", None),
        ("DELETE", "/{corpus}", None),
    ],
    "es-exporter": [
        # Documents: only the corpus (its canary) and slakit's log streams (count queries).
        ("GET", "/{other_logs}/_search", None),
        ("POST", "/{logs}/_doc", {"message": "x"}),
        ("POST", "/{corpus}/_doc", {"text": "x"}),
        ("PUT", "/slakit-exporter-made", None),
    ],
    "indexer": [
        ("GET", "/{logs}/_search", None),
        ("DELETE", "/{corpus}", None),
        ("PUT", "/another-index", None),
        ("GET", "/_nodes/stats", None),
    ],
    "load": [
        ("POST", "/{corpus}/_doc", {"text": "x"}),
        ("GET", "/{other_logs}/_search", None),  # slakit's streams only, for ERROR lines
        ("POST", "/{logs}/_doc", {"message": "x"}),
        ("DELETE", "/slakit-bulk", None),
    ],
    "log-shipper": [
        ("GET", "/{logs}/_search", None),  # append only
        ("GET", "/{corpus}/_search", None),
        ("POST", "/{corpus}/_doc", {"text": "x"}),
        ("DELETE", "/{logs}", None),
        ("GET", "/_cluster/health", None),
    ],
}


@pytest.mark.parametrize("part", sorted(REFUSED))
def test_each_credential_is_refused_what_its_part_must_not_do(
    secured: StackConfig, part: str
) -> None:
    names = {"corpus": secured.corpus.index, "logs": LOG_STREAM, "other_logs": OTHER_LOG_STREAM}
    with client(secured, "admin") as admin:  # the streams exist, so refusals are not 404s
        now = datetime.datetime.now(datetime.UTC).isoformat()
        for stream in (LOG_STREAM, OTHER_LOG_STREAM):
            admin.post(f"/{stream}/_doc", json={"@timestamp": now, "message": "x"})
    with client(secured, part) as es:
        for method, path, body in REFUSED[part]:
            r = es.request(method, path.format(**names), json=body)
            assert r.status_code == 403, f"{part}: {method} {path}: {r.status_code} {r.text}"
    with client(secured, None) as anonymous:
        assert anonymous.get("/_cluster/health").status_code == 401


def test_no_secret_in_process_lists_logs_or_reports(secured: StackConfig) -> None:
    secrets = list(es_security.passwords(secured).values())
    argv = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    assert not [a for a in argv for s in secrets if s in a], "a password on a command line"
    # The two files meant to hold secrets, both mode 600: the stack's secrets file and
    # rsyslog's config (omelasticsearch reads its password from there, not from argv).
    allowed = {
        es_security.secrets_file(secured).resolve(),
        shipper.base_dir(secured).resolve() / "rsyslog.conf",
    }
    for path in allowed:
        assert path.stat().st_mode & 0o077 == 0, path
    leaked = []
    for path in secured.state_dir.resolve().rglob("*"):
        if path.is_file() and path not in allowed:
            text = path.read_bytes().decode(errors="replace")
            leaked += [str(path) for s in secrets if s in text]
    es_logs = (secured.state_dir / "elasticsearch").resolve() / "logs"
    for path in es_logs.rglob("*"):
        if path.is_file():
            leaked += [str(path) for s in secrets if s in path.read_text(errors="replace")]
    assert leaked == []
    assert es_security.secrets_file(secured).stat().st_mode & 0o077 == 0


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA that did not sign the node's certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "other-ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.parametrize("problem", ["wrong password", "bad CA"])
def test_a_wrong_password_or_ca_is_one_line_and_exit_2(
    secured: StackConfig, tmp_path: Path, other_ca: Path, problem: str
) -> None:
    scenario = tmp_path / "search.yaml"
    scenario.write_text(
        "name: es-refused\n"
        "target: {elasticsearch: " + secured.es_url + ",\n"
        "  elasticsearch_auth: {username: slakit_load, password_env: SLAKIT_TEST_ES_PASSWORD,\n"
        f"    ca_file: {other_ca if problem == 'bad CA' else es_security.ca_file(secured)}}}}}\n"
        "workload: [{kind: es_search, weight: 1}]\n"
        "load: {rate: {rps: 1, duration: 2s}}\n"
        "slos: [{name: errors, sli: error_rate, aggregation: ratio, objective: '< 1%'}]\n"
    )
    right = es_security.passwords(secured)["slakit_load"]
    password = right + "-wrong" if problem == "wrong password" else right
    r = run_cli(
        "run",
        "scenario",
        str(scenario),
        "--out",
        str(tmp_path / "out"),
        env={"SLAKIT_TEST_ES_PASSWORD": password},
    )
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    expected = AUTH_FAILED if problem == "wrong password" else VERIFY_FAILED
    assert len(lines) == 1 and expected in lines[0] and secured.es_url in lines[0], r.stderr
    assert "Traceback" not in r.stderr and password not in r.stdout + r.stderr


@pytest.mark.parametrize("problem", ["wrong password", "bad CA"])
def test_the_gateway_and_the_exporter_say_what_is_wrong(
    secured: StackConfig, tmp_path: Path, other_ca: Path, problem: str
) -> None:
    """A gateway and an exporter started with a wrong password or CA keep running and say
    why: the gateway's /ready and one log line, the exporter's error reason and its log."""
    right = es_security.passwords(secured)["slakit_gateway"]
    password = right + "-wrong" if problem == "wrong password" else right
    ca = other_ca if problem == "bad CA" else es_security.ca_file(secured)
    expected = AUTH_FAILED if problem == "wrong password" else VERIFY_FAILED
    gateway_env = {
        f"{ES_ENV_PREFIX}USERNAME": "slakit_gateway",
        f"{ES_ENV_PREFIX}PASSWORD": password,
        f"{ES_ENV_PREFIX}CA_FILE": str(ca),
    }
    flags = ["--engine-url", secured.engine_url, "--es-url", secured.es_url, "--model", "m"]
    log = tmp_path / "gateway.log"
    with serve_module("slakit.gateway", *flags, env=gateway_env, log_file=log) as gateway:
        ready = [httpx.get(f"{gateway}/ready", timeout=10) for _ in range(3)]
    assert {r.status_code for r in ready} == {503}
    assert {r.json()["elasticsearch"] for r in ready} == {expected}
    lines = [line for line in log.read_text().splitlines() if expected in line]
    assert len(lines) == 1, lines  # once, not once per probe
    assert f"gateway: {secured.es_url}: {expected}" in lines[0]
    assert password not in log.read_text()
    exporter_env = {
        "SLAKIT_ES_EXPORTER_URL": secured.es_url,
        "SLAKIT_ES_EXPORTER_USERNAME": "slakit_monitor",
        "SLAKIT_ES_EXPORTER_PASSWORD": password,
        "SLAKIT_ES_EXPORTER_CA_FILE": str(ca),
    }
    log = tmp_path / "exporter.log"
    reason = "http_401" if problem == "wrong password" else "tls"
    with serve_module("slakit.exporters.elasticsearch", env=exporter_env, log_file=log) as exporter:
        scrape(exporter)
        got = scrape(exporter)
    assert got.value("slakit_es_up") == 0
    assert got.value("slakit_es_scrape_errors_total", reason=reason) >= 1
    assert expected in log.read_text() and password not in log.read_text()
