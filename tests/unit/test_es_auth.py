"""How parts authenticate to Elasticsearch (`slakit.es_auth`) and the stack's file realm
(`slakit.stack.es_security`): the parts that need no server. The live behaviour against
real Elasticsearch security is tests/integration/test_es_security.py."""

from __future__ import annotations

import base64
import hashlib
import ssl
from pathlib import Path

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, TlsError
from elasticsearch import AuthenticationException
from pydantic import ValidationError

from slakit.es_auth import AUTH_FAILED, VERIFY_FAILED, EsAuth, problem, reason
from slakit.stack import es_security
from slakit.stack.config import StackConfig


def test_basic_auth_header_and_client_options_carry_the_secret_public_does_not() -> None:
    auth = EsAuth(username="u", password="p@ss:word")
    token = auth.authorization()["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(token).decode() == "u:p@ss:word"
    assert EsAuth(api_key="abc").authorization() == {"Authorization": "ApiKey abc"}
    assert auth.client_options("https://es:9200")["basic_auth"] == ("u", "p@ss:word")
    assert "p@ss" not in repr(auth) and "p@ss" not in str(auth.public())
    assert EsAuth(**auth.secrets()).password.get_secret_value() == "p@ss:word"


def test_one_credential_at_a_time() -> None:
    with pytest.raises(ValidationError, match="either api_key or username"):
        EsAuth(username="u", password="p", api_key="k")
    with pytest.raises(ValidationError, match="password is set but username is not"):
        EsAuth(password="p")


def test_reasons_say_what_is_wrong() -> None:
    meta = ApiResponseMeta(401, "1.1", HttpHeaders(), 0.0, NodeConfig("https", "es", 9200))
    refused = AuthenticationException("security_exception", meta, {})
    assert reason(refused) == AUTH_FAILED
    assert (
        problem("gateway", "https://es:9200", refused) == f"gateway: https://es:9200: {AUTH_FAILED}"
    )
    # elastic_transport's own TlsError only says "TLS error": why is in what it wraps.
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] nope")
        except ssl.SSLError as exc:
            raise TlsError("TLS error") from exc
    except TlsError as wrapped:
        assert reason(wrapped) == VERIFY_FAILED


def test_file_realm_hashes_verify_as_elasticsearch_does(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path / "state", elasticsearch={"secure": True})
    conf = tmp_path / "config"
    es_security.write_node_files(cfg, conf)
    passwords = es_security.passwords(cfg)
    users = dict(line.split(":", 1) for line in (conf / "users").read_text().splitlines())
    assert set(users) == {a.username for a in es_security.ACCOUNTS.values()} == set(passwords)
    for name, stored in users.items():  # Hasher.verifyPbkdf2Hash: {PBKDF2}cost$salt$key
        cost, salt, key = stored.removeprefix("{PBKDF2}").split("$")
        again = hashlib.pbkdf2_hmac(
            "sha512", passwords[name].encode(), base64.b64decode(salt), int(cost), 32
        )
        assert base64.b64encode(again).decode() == key
    roles = (conf / "users_roles").read_text()
    assert "superuser:slakit_admin" in roles and "slakit_retrieval:slakit_gateway" in roles
    assert es_security.secrets_file(cfg).stat().st_mode & 0o077 == 0
    assert (conf / "certs" / "node.key").stat().st_mode & 0o077 == 0
    # Clients are given one CA certificate, which loads as one.
    context = ssl.create_default_context(cafile=str(es_security.ca_file(cfg)))
    assert context.cert_store_stats()["x509_ca"] == 1
    assert es_security.passwords(cfg) == passwords  # made once per state dir
