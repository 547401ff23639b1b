"""Where the load goes: the embedded stack, or explicit URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
)

from slakit.catalogue.defaults import MODEL
from slakit.scenario.fields import HttpUrl, Strict
from slakit.stack.config import MAX_REPLICAS


class ElasticsearchAuth(Strict):
    """How `es_search` / `es_bulk` authenticate to a secured Elasticsearch: a user whose
    password, or an API key, is in the environment variable named here (never in a file),
    and the CA that signed its certificate."""

    username: str | None = None
    password_env: str | None = Field(None, description="variable holding the user's password")
    api_key_env: str | None = Field(
        None, description="variable holding an encoded API key (instead of a user)"
    )
    ca_file: Path | None = Field(None, description="PEM CA bundle (unset: the system's)")
    verify_tls: bool = Field(True, description="false accepts any certificate")


class ExplicitTarget(Strict):
    """A stack that is already running somewhere. Named in the scenario it may be remote;
    a --target file for a scenario whose target is `embedded` must stay on loopback
    (`slakit.target.check_reachable`)."""

    gateway: HttpUrl | None = Field(None, description="RAG gateway base URL (for `rag`)")
    openai: HttpUrl | None = Field(
        None,
        description="OpenAI-compatible base URL (for `chat`, "
        "`completions`); defaults to the gateway",
    )
    elasticsearch: HttpUrl | None = None
    elasticsearch_auth: ElasticsearchAuth | None = None
    prometheus: HttpUrl | None = None
    jaeger: HttpUrl | None = Field(
        None, description="Jaeger query base URL: the report reads the slowest requests' traces"
    )
    model: str = MODEL
    api_key_env: str | None = Field(
        None,
        description="name of the environment variable "
        "holding the API key; the key itself never goes in a file",
    )


class EmbeddedTarget(Strict):
    """The embedded reference stack: brought up for the run, or reused if already up."""

    embedded: Literal[True] = True
    engine: Literal["vllm", "sim"] = "vllm"
    replicas: int = Field(
        1, ge=1, le=MAX_REPLICAS, description="engine instances; more than one: behind HAProxy"
    )
    keep: bool = Field(True, description="leave a stack this run started running afterwards")
    sim: dict[str, float] = Field(
        default_factory=dict, description="sim engine settings (ttft_ms, error_rate, ...)"
    )


def _target(value: object) -> object:
    return {"embedded": True} if value == "embedded" else value


def _target_shape(value: object) -> str | None:
    """Which kind of target a value is written as, so only that kind's problems are
    reported (not one line per kind it might have been)."""
    if isinstance(value, EmbeddedTarget | ExplicitTarget):
        return "embedded" if isinstance(value, EmbeddedTarget) else "explicit"
    if isinstance(value, dict):
        return "embedded" if "embedded" in value else "explicit"
    return None


Target = Annotated[
    Annotated[EmbeddedTarget, Tag("embedded")] | Annotated[ExplicitTarget, Tag("explicit")],
    Discriminator(
        _target_shape,
        custom_error_type="target",
        custom_error_message="expected `embedded` or a mapping of URLs "
        "(gateway, openai, elasticsearch, prometheus)",
    ),
    BeforeValidator(_target),
]
