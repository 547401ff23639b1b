"""Run `python -m slakit.gateway` against a secured Elasticsearch.

The gateway takes Elasticsearch's address only as `--es-url`, and a cluster with security on
needs credentials. Written into that URL on the command line, a password shows in every
`ps` on the host. This wrapper passes all other flags through untouched, adds `--es-url`
built from the environment, and runs the gateway's own `main` in this process, so the
credentials never reach a process list:

    SLAKIT_DEPLOY_ES_URL       https://es01:9200 (no credentials in it)
    SLAKIT_DEPLOY_ES_USERNAME  the gateway's Elasticsearch user
    SLAKIT_DEPLOY_ES_PASSWORD  its password

The Elasticsearch client turns `user:password@` in the URL into a Basic auth header and
does not log it. A private CA is trusted through SSL_CERT_FILE (the client's default SSL
context loads it). Used by deploy/compose and deploy/k8s alike; copied into the image at
/opt/slakit/gateway_entrypoint.py by deploy/compose/Dockerfile.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlsplit, urlunsplit

URL_ENV = "SLAKIT_DEPLOY_ES_URL"
USERNAME_ENV = "SLAKIT_DEPLOY_ES_USERNAME"
PASSWORD_ENV = "SLAKIT_DEPLOY_ES_PASSWORD"


def es_url(environ: Mapping[str, str]) -> str:
    """The `--es-url` value: the URL from the environment with the credentials put in."""
    url = environ.get(URL_ENV, "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SystemExit(f"{URL_ENV}: expected an http:// or https:// URL, got {url!r}")
    if parts.username or parts.password:
        raise SystemExit(f"{URL_ENV}: put credentials in {USERNAME_ENV}/{PASSWORD_ENV}")
    username = environ.get(USERNAME_ENV, "")
    password = environ.get(PASSWORD_ENV, "")
    if bool(username) != bool(password):
        raise SystemExit(f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
    if not username:
        return url
    # Percent-encoded so any character survives; the client decodes them again.
    userinfo = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def gateway_argv(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The gateway's command line: `argv` plus `--es-url` from the environment."""
    if any(arg == "--es-url" or arg.startswith("--es-url=") for arg in argv):
        raise SystemExit(f"--es-url is built from {URL_ENV}; remove it from the command")
    return [*argv, "--es-url", es_url(environ)]


def main() -> None:
    from slakit.gateway.__main__ import main as gateway_main

    gateway_main(gateway_argv(sys.argv[1:], os.environ))


if __name__ == "__main__":
    main()
