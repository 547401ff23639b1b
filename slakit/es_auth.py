"""How a part of slakit authenticates to Elasticsearch and trusts its certificate: one
model for every part that talks to it (the gateway, the ES exporter, the corpus indexer,
the `es_search` / `es_bulk` load kinds), and one line for what went wrong.

Secrets are `SecretStr`: they print as `**********` and only reach the Authorization
header. They come from the environment or a config file, never from a command line
(`slakit.settings`); `problem` never quotes a response body (one may echo the header).
"""

from __future__ import annotations

import base64
import ssl
from typing import Any

from elastic_transport import ConnectionTimeout, TlsError, TransportError
from elasticsearch import ApiError
from pydantic import BaseModel, ConfigDict, FilePath, SecretStr, model_validator

from slakit.errors import safe_text

AUTH_FAILED = "authentication failed (401)"
REFUSED = "privileges refused (403)"
VERIFY_FAILED = "TLS: certificate verify failed"


class EsAuth(BaseModel):
    """Basic auth or an API key, and the TLS trust of an `https://` Elasticsearch."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None  # the encoded key (`id:api_key` in base64), as ES returns it
    ca_file: FilePath | None = None  # PEM CA bundle; unset: the system's trust store
    verify_tls: bool = True  # false accepts any certificate

    @model_validator(mode="after")
    def _one_credential(self) -> EsAuth:
        if self.api_key is not None and (self.username or self.password is not None):
            raise ValueError("set either api_key or username/password, not both")
        if self.password is not None and not self.username:
            raise ValueError("password is set but username is not")
        return self

    def authorization(self) -> dict[str, str]:
        """The Authorization header (empty without a credential)."""
        if self.api_key is not None:
            return {"Authorization": f"ApiKey {self.api_key.get_secret_value()}"}
        if self.username:
            secret = self.password.get_secret_value() if self.password is not None else ""
            token = base64.b64encode(f"{self.username}:{secret}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    def client_options(self, url: str) -> dict[str, Any]:
        """Keyword arguments of elasticsearch-py's client for `url`."""
        options: dict[str, Any] = {}
        if self.api_key is not None:
            options["api_key"] = self.api_key.get_secret_value()
        elif self.username:
            secret = self.password.get_secret_value() if self.password is not None else ""
            options["basic_auth"] = (self.username, secret)
        if url.startswith("https:"):
            options["verify_certs"] = self.verify_tls
            options["ssl_show_warn"] = self.verify_tls
            if self.ca_file is not None and self.verify_tls:
                options["ca_certs"] = str(self.ca_file)
        return options

    def ssl_context(self) -> ssl.SSLContext:
        """The client-side TLS context (for httpx, geventhttpclient)."""
        if not self.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def secrets(self) -> dict[str, Any]:
        """Every field with the secrets in clear, for a process that hands this model to
        another over a private channel (a distributed run's worker plan)."""
        out = self.model_dump(mode="json")
        for name in ("password", "api_key"):
            value = getattr(self, name)
            out[name] = value.get_secret_value() if value is not None else None
        return out

    def public(self) -> dict[str, Any]:
        """What a report may say about it: who, and how TLS is trusted; never a secret."""
        kind = "api_key" if self.api_key is not None else "basic" if self.username else None
        return {
            "credential": kind,
            "username": self.username,
            "ca_file": str(self.ca_file) if self.ca_file else None,
            "verify_tls": self.verify_tls,
        }


def reason(exc: BaseException) -> str:
    """What an Elasticsearch client failure means to whoever configured the part."""
    if isinstance(exc, ApiError):
        if exc.meta.status == 401:
            return AUTH_FAILED
        if exc.meta.status == 403:
            return REFUSED
        return f"HTTP {exc.meta.status} ({safe_text(str(exc.error))})"
    if isinstance(exc, TlsError) or isinstance(exc, ssl.SSLError):
        # The client's own message may be a summary: the ssl error it wraps says why.
        causes = _causes(exc)
        if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
            return VERIFY_FAILED
        return tls_reason(" ".join(str(c) for c in causes))
    if isinstance(exc, ConnectionTimeout):
        return "timed out"
    if isinstance(exc, TransportError):
        return tls_reason(str(exc)) if "SSL" in str(exc) else "unreachable"
    return type(exc).__name__


def _causes(exc: BaseException, depth: int = 4) -> list[BaseException]:
    """`exc` and what it wraps: elastic_transport's `errors` and the `raise ... from` chain."""
    out = [exc]
    if depth > 0:
        for inner in (*getattr(exc, "errors", ()), exc.__cause__):
            if isinstance(inner, BaseException):
                out += _causes(inner, depth - 1)
    return out


def tls_reason(message: str) -> str:
    """One line for a TLS failure, from any client's message."""
    if "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message:
        return VERIFY_FAILED
    if "WRONG_VERSION_NUMBER" in message or "wrong version number" in message:
        return "TLS: the server does not speak TLS (is the URL http://?)"
    return "TLS: handshake failed"


def status_reason(status: int) -> str | None:
    """The line for an HTTP status that means the credential is wrong or too weak."""
    return {401: AUTH_FAILED, 403: REFUSED}.get(status)


def problem(part: str, url: str, exc: BaseException) -> str:
    """`part: url: reason`, the one line a wrong password or a bad CA gives."""
    return f"{part}: {url}: {reason(exc)}"
