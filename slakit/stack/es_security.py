"""The embedded Elasticsearch with security on (`slakit stack up --secure`): TLS on HTTP
with a CA the stack generates, and one file-realm user per part with the least privileges
that part needs.

The CA and the node's certificate are made with `cryptography` once per state dir (the
CA's key is never written: nothing else can be signed with it); clients trust
`tls_dir(cfg) / "ca.crt"`. Users, their roles and their password hashes are files in the
node's config directory (`users`, `users_roles`, `roles.yml`: Elasticsearch's file realm),
written at every start, so no API call, keystore or bootstrap password is needed. The
passwords are generated once per state dir into `secrets_file(cfg)` (mode 600) and reach
each part only through its environment or a client built in-process, never a command line.

Who is who (`ACCOUNTS`; the privileges are `roles`):

- `gateway` (`slakit_gateway`): read the corpus index; cluster `monitor` for `/ready`'s health.
- `indexer` (`slakit_indexer`): create the corpus index and write it.
- `es-exporter` (`slakit_monitor`): `monitor` and `view_index_metadata` on every index,
  cluster `monitor`, and `read` on the corpus (its canary and freshness queries) and on
  slakit's log streams (its count of log lines by level) only.
- `load` (`slakit_load`): the `es_search` / `es_bulk` kinds: read the corpus, write
  `slakit-bulk*`; and `read` on slakit's log streams, for the run report's ERROR lines.
- `log-shipper` (`slakit_logs`): `create_doc` (and `auto_configure`, to create the stream
  on its first document) on `logs-*`, nothing else. For a shipper started by the stack:
  `credential(cfg, "log-shipper")` and `ca_file(cfg)`.
- `admin` (`slakit_admin`): `superuser`, for setup the stack does (templates, policies)
  and tests; no part runs as it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from slakit.catalogue.defaults import LOG_INDEX_PATTERN
from slakit.es_auth import EsAuth
from slakit.stack.config import StackConfig

CERTS = "certs"  # below the node's config directory
PBKDF2_ITERATIONS = 10_000  # Elasticsearch's default cost for `{PBKDF2}` hashes
CERT_DAYS = 825  # the longest validity clients accept for a server certificate


@dataclass(frozen=True)
class Account:
    username: str
    role: str


ACCOUNTS = {
    "gateway": Account("slakit_gateway", "slakit_retrieval"),
    "indexer": Account("slakit_indexer", "slakit_corpus_writer"),
    "es-exporter": Account("slakit_monitor", "slakit_monitor"),
    "load": Account("slakit_load", "slakit_load"),
    "log-shipper": Account("slakit_logs", "slakit_log_shipper"),
    "admin": Account("slakit_admin", "superuser"),
}
BULK_INDICES = "slakit-bulk*"  # what `es_bulk` writes (its default index and any like it)
LOG_INDICES = "logs-*"


def roles(cfg: StackConfig) -> dict[str, dict]:
    """Every role of `ACCOUNTS` but the built-in `superuser`, as Elasticsearch reads them."""
    corpus = cfg.corpus.index
    return {
        "slakit_retrieval": {
            "cluster": ["monitor"],
            "indices": [{"names": [corpus], "privileges": ["read"]}],
        },
        "slakit_corpus_writer": {
            "indices": [
                {
                    "names": [corpus],
                    "privileges": [
                        "create_index",
                        "write",
                        "read",  # `_count`, to see whether the corpus is complete
                        "maintenance",  # `_refresh`
                        "view_index_metadata",
                    ],
                }
            ]
        },
        "slakit_monitor": {
            "cluster": ["monitor"],
            "indices": [
                {"names": ["*"], "privileges": ["monitor", "view_index_metadata"]},
                {"names": [corpus, LOG_INDEX_PATTERN], "privileges": ["read"]},
            ],
        },
        "slakit_load": {
            "cluster": ["monitor"],  # the reachability check's `_cluster/health`
            "indices": [
                {"names": [corpus, LOG_INDEX_PATTERN], "privileges": ["read"]},
                {"names": [BULK_INDICES], "privileges": ["create_index", "write"]},
            ],
        },
        "slakit_log_shipper": {
            "indices": [{"names": [LOG_INDICES], "privileges": ["create_doc", "auto_configure"]}]
        },
    }


def tls_dir(cfg: StackConfig) -> Path:
    return cfg.state_dir / "tls"


def ca_file(cfg: StackConfig) -> Path:
    """The CA certificate every client of the secured node trusts."""
    return tls_dir(cfg) / "ca.crt"


def secrets_file(cfg: StackConfig) -> Path:
    return cfg.state_dir / "secrets" / "elasticsearch.json"


def passwords(cfg: StackConfig) -> dict[str, str]:
    """username -> password, generated once per state dir (mode 600)."""
    path = secrets_file(cfg)
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    wanted = {a.username for a in ACCOUNTS.values()}
    if set(known) == wanted:
        return known
    made = {name: known.get(name) or secrets.token_urlsafe(24) for name in sorted(wanted)}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(made, out)
    path.with_suffix(".tmp").replace(path)
    return made


def credential(cfg: StackConfig, part: str) -> EsAuth:
    """Part `part`'s credential (a key of `ACCOUNTS`) and the stack's CA."""
    username = ACCOUNTS[part].username
    return EsAuth(username=username, password=passwords(cfg)[username], ca_file=ca_file(cfg))


def environment(cfg: StackConfig, part: str, prefix: str) -> dict[str, str]:
    """`credential(cfg, part)` as the variables of a settings model with env `prefix`
    (`SLAKIT_ES_EXPORTER_`, `SLAKIT_GATEWAY_ES__`, ...)."""
    auth = credential(cfg, part)
    return {
        f"{prefix}USERNAME": auth.username or "",
        f"{prefix}PASSWORD": auth.password.get_secret_value() if auth.password else "",
        f"{prefix}CA_FILE": str(auth.ca_file),
    }


def node_settings() -> str:
    """The elasticsearch.yml lines that switch security and HTTPS on (paths relative to
    the config directory)."""
    return (
        "xpack.security.enabled: true\n"
        "xpack.security.http.ssl.enabled: true\n"
        f"xpack.security.http.ssl.certificate: {CERTS}/node.crt\n"
        f"xpack.security.http.ssl.key: {CERTS}/node.key\n"
        # Single node on loopback: nothing talks to its transport port but itself.
        "xpack.security.transport.ssl.enabled: false\n"
    )


def write_node_files(cfg: StackConfig, conf: Path) -> None:
    """The node's certificate (made once) and its file realm (users, roles), into `conf`."""
    certs = conf / CERTS
    if not (certs / "node.key").exists() or not ca_file(cfg).exists():
        _make_certificates(cfg, certs)
    hashes = {name: _pbkdf2(password) for name, password in passwords(cfg).items()}
    (conf / "users").write_text("".join(f"{name}:{hashes[name]}\n" for name in sorted(hashes)))
    members: dict[str, list[str]] = {}
    for account in ACCOUNTS.values():
        members.setdefault(account.role, []).append(account.username)
    (conf / "users_roles").write_text(
        "".join(f"{role}:{','.join(names)}\n" for role, names in sorted(members.items()))
    )
    (conf / "roles.yml").write_text(yaml.safe_dump(roles(cfg), sort_keys=True))
    for name in ("users", "users_roles"):
        (conf / name).chmod(0o600)


def _pbkdf2(password: str) -> str:
    """Elasticsearch's `{PBKDF2}` hash: PBKDF2-HMAC-SHA512, 32-byte salt, 256-bit key."""
    salt = secrets.token_bytes(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 32)
    b64 = base64.b64encode
    return f"{{PBKDF2}}{PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(key).decode()}"


def _make_certificates(cfg: StackConfig, certs: Path) -> None:
    """A CA (its key discarded once it signed) and the node's certificate for the stack's
    loopback names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=CERT_DAYS))

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("slakit embedded stack CA"))
        .issuer_name(name("slakit embedded stack CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    node_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    sans.append(x509.IPAddress(ipaddress.ip_address("::1")))
    if cfg.host not in ("localhost", "127.0.0.1", "::1"):
        sans.append(x509.IPAddress(ipaddress.ip_address(cfg.host)))
    node = (
        x509.CertificateBuilder()
        .subject_name(name("slakit-node-1"))
        .issuer_name(ca.subject)
        .public_key(node_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    certs.mkdir(parents=True, exist_ok=True)
    key_path = certs / "node.key"
    key_path.write_bytes(
        node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    (certs / "node.crt").write_bytes(node.public_bytes(pem) + ca.public_bytes(pem))
    tls_dir(cfg).mkdir(parents=True, exist_ok=True)
    ca_file(cfg).write_bytes(ca.public_bytes(pem))
