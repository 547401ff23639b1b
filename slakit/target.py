"""Where a scenario's load goes: the embedded stack or explicit URLs, checked before load.

An unreachable target is bad input (exit 2) and is reported per URL before any load is
offered, each problem at the `file:line` of the target field it is about. Credentials
are read from the environment variables the scenario names; the embedded stack's
Elasticsearch credential (with `stack up --secure`) from the stack's own secrets file.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr, ValidationError

from slakit import es_auth
from slakit.errors import InputError, safe_text
from slakit.es_auth import EsAuth
from slakit.scenario import EmbeddedTarget, ExplicitTarget, Scenario
from slakit.stack import es_security, jaeger
from slakit.stack.config import StackConfig


@dataclass
class ResolvedTarget:
    """Base URLs the load and the metric queries use. `None` where the target has none."""

    openai: str | None
    gateway: str | None
    elasticsearch: str | None
    prometheus: str | None
    model: str
    engine: str  # vllm | sim | external
    jaeger: str | None = None  # the query API the report reads traces from
    api_key_env: str | None = None
    # the key itself where it came as data (a distributed run's worker plan), else unset
    key: str | None = field(default=None, repr=False)
    # field -> `file:line: field` where an explicit target wrote it, for problems found later
    origin: dict[str, str] = field(default_factory=dict)
    # how `es_search` / `es_bulk` authenticate and trust TLS; its secrets never in `public`
    es_auth: EsAuth | None = field(default=None, repr=False)

    @property
    def api_key(self) -> str | None:
        if self.key is not None:
            return self.key
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def public(self) -> dict:
        """For reports: URLs and names, never the key itself."""
        public = asdict(self)
        del public["origin"], public["key"]
        public["es_auth"] = self.es_auth.public() if self.es_auth else None
        return public


def from_stack(cfg: StackConfig) -> ResolvedTarget:
    secure = cfg.elasticsearch.secure
    return ResolvedTarget(
        openai=cfg.url(cfg.gateway.port),
        gateway=cfg.url(cfg.gateway.port),
        elasticsearch=cfg.es_url,
        prometheus=cfg.url(cfg.prometheus.port),
        model=cfg.vllm.served_model_name,
        engine=cfg.engine,
        jaeger=jaeger.query_url(cfg),
        es_auth=es_security.credential(cfg, "load") if secure else None,
    )


def _es_auth(t: ExplicitTarget) -> EsAuth | None:
    """The explicit target's Elasticsearch credential, its secrets read from the
    environment; InputError naming the field of a variable that is not set."""
    spec = t.elasticsearch_auth
    if spec is None:
        return None
    secrets: dict[str, SecretStr] = {}
    problems = []
    for name, env in (("password", spec.password_env), ("api_key", spec.api_key_env)):
        if env is None:
            continue
        if env not in os.environ:
            problems.append(f"{spec.where(name + '_env')}: environment variable {env} is not set")
        else:
            secrets[name] = SecretStr(os.environ[env])
    if spec.ca_file is not None and not spec.ca_file.is_file():
        problems.append(f"{spec.where('ca_file')}: no such file: {spec.ca_file}")
    if problems:
        raise InputError(*problems)
    try:
        return EsAuth(
            username=spec.username, ca_file=spec.ca_file, verify_tls=spec.verify_tls, **secrets
        )
    except ValidationError as exc:  # both a user and an API key, or a password without a user
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InputError(f"{t.where('elasticsearch_auth')}: {reason}") from None


def from_explicit(t: ExplicitTarget) -> ResolvedTarget:
    return ResolvedTarget(
        openai=t.openai or t.gateway,
        gateway=t.gateway,
        elasticsearch=t.elasticsearch,
        prometheus=t.prometheus,
        model=t.model,
        engine="external",
        jaeger=t.jaeger,
        api_key_env=t.api_key_env,
        origin={name: t.where(name) for name in type(t).model_fields},
        es_auth=_es_auth(t),
    )


# What each request kind needs from the target, and how to see that it answers.
NEEDS = {
    "chat": ("openai", "/v1/models"),
    "completions": ("openai", "/v1/models"),
    "rag": ("gateway", "/health"),
    "es_search": ("elasticsearch", "/_cluster/health"),
    "es_bulk": ("elasticsearch", "/_cluster/health"),
}

# Seconds a target gets to answer the check before any load.
PROBE_TIMEOUT_S = 5.0
PROMETHEUS_READY = "/-/ready"


def check_reachable(scenario: Scenario, target: ResolvedTarget) -> None:
    """One line per problem with the URLs the workload needs; InputError if any. What can
    be seen without the network is checked first, and if anything is wrong nothing is sent
    (in particular nothing to a remote host the scenario did not name)."""
    needed = sorted({NEEDS[k.kind] for k in scenario.workload})
    problems = _static_problems(scenario, target, [attr for attr, _ in needed])
    if target.prometheus:  # optional, but if named it must answer: else server SLIs are lost
        needed.append(("prometheus", PROMETHEUS_READY))
    if not problems:
        problems = [
            _probe(getattr(target, attr) + path, target, _where(scenario, target, attr))
            for attr, path in needed
        ]
    if any(problems):
        raise InputError(*problems)  # drops the None of each URL that answered


def _where(scenario: Scenario, target: ResolvedTarget, attr: str) -> str:
    """`file:line: field` of a target field: where the --target file or the scenario's
    explicit target wrote it, else the scenario's `target`."""
    return target.origin.get(attr) or f"{scenario.where('target')}.{attr}"


def _static_problems(scenario: Scenario, target: ResolvedTarget, attrs: list[str]) -> list[str]:
    problems = []
    if target.api_key_env and not target.api_key:
        problems.append(
            f"{_where(scenario, target, 'api_key_env')}: "
            f"environment variable {target.api_key_env} is not set"
        )
    for attr in attrs:
        base = getattr(target, attr)
        where = _where(scenario, target, attr)
        if not base:
            problems.append(f"{where}: the workload needs it, but no URL is given")
        elif is_embedded(scenario) and not is_loopback_url(base):
            # The scenario was written for the stack on this machine; a --target file must
            # not turn its load (sim faults, sweeps to saturation) on someone's remote stack.
            problems.append(
                f"{where}: {base} is not on this machine, but the scenario's target is "
                "`embedded`: write the remote URLs as the scenario's own `target` to load it"
            )
    return problems


def _probe(url: str, target: ResolvedTarget, where: str) -> str | None:
    """A problem line if `url` does not answer with success, else None. What the target
    sent (its reason phrase) is made safe to print; httpx's advice lines are dropped."""
    es = target.elasticsearch is not None and url.startswith(target.elasticsearch)
    # The API key is the gateway's, never sent to Prometheus or Elasticsearch, which have
    # their own credential (or none).
    keyed = (
        target.api_key and not es and not url.startswith(f"{target.prometheus}{PROMETHEUS_READY}")
    )
    headers = {"Authorization": f"Bearer {target.api_key}"} if keyed else {}
    verify: bool | object = True
    if es and target.es_auth is not None:
        headers, verify = target.es_auth.authorization(), target.es_auth.ssl_context()
    try:
        httpx.get(url, headers=headers, verify=verify, timeout=PROBE_TIMEOUT_S).raise_for_status()
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        status = f"HTTP {code} {safe_text(exc.response.reason_phrase).strip()}".strip()
        if es and (refused := es_auth.status_reason(code)):
            return f"{where}: {url}: {refused}"
        if code in (401, 403):
            refused = "the API key" if target.api_key else "a request without an API key"
            return f"{where}: target refused {refused} ({status}) at {url}"
        return f"{where}: target answered {status} at {url}"
    except httpx.HTTPError as exc:
        if "SSL" in str(exc):
            return f"{where}: {url}: {es_auth.tls_reason(str(exc))}"
        reason = safe_text((str(exc).splitlines() or [""])[0])
        return f"{where}: target unreachable at {url}: {type(exc).__name__}: {reason}"
    return None


def is_loopback_url(url: str) -> bool:
    """Whether `url`'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def is_embedded(scenario: Scenario) -> bool:
    return isinstance(scenario.target, EmbeddedTarget)
