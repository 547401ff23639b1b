"""The scenario file: what to send, how hard, and which objectives must hold.

Validated by pydantic with unknown fields forbidden; `slakit schema` prints the JSON
Schema of `Scenario`. Durations, percentages and objectives go through `slakit.units`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    field_validator,
    model_validator,
)

from slakit.catalogue.defaults import INDEX, MODEL
from slakit.sli import AGGREGATIONS, CATALOGUE
from slakit.units import parse_duration, parse_objective, stricter
from slakit.yamlconf import FieldProblem, Located, load_model

# The name is part of the run directory's name (`<time>-<name>`), which a file system
# bounds at 255 bytes; a longer name is a description.
MAX_NAME_CHARS = 100
# What a run directory's name keeps of the scenario name; anything else becomes `-`.
_UNSAFE_IN_DIR_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda seconds: f"{Decimal(repr(seconds)).normalize():f}s", return_type=str),
    Field(
        description="a duration with a unit: '500ms', '30s', '2m'",
        json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"},
    ),
]


def _objective(text: str) -> str:
    parse_objective(text)
    return text


ObjectiveText = Annotated[
    str,
    AfterValidator(_objective),
    Field(description="e.g. '< 500ms', '>= 99.5%', '< 1%', '> 5 rps'"),
]


class Strict(Located):
    """Unknown fields are typos; NaN and infinity are never a rate, weight or size (NaN
    even slips past every bound: `nan <= 5000` is not false but unordered)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _http_url(value: str) -> str:
    """Refuse what is not an absolute http(s) URL (`http//x`) here, with its line, instead
    of as an unreachable target later."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL like 'http://127.0.0.1:8000', got {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


# --- target --------------------------------------------------------------------------


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
    prometheus: HttpUrl | None = None
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


# --- workload -----------------------------------------------------------------------


class Distribution(Strict):
    """Token counts drawn per request."""

    dist: Literal["uniform", "normal"]
    min: int | None = Field(None, ge=1)
    max: int | None = Field(None, ge=1)
    mean: float | None = Field(None, gt=0)
    stddev: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        if self.dist == "uniform" and (self.min is None or self.max is None):
            raise ValueError("a uniform distribution needs min and max")
        if self.dist == "uniform" and self.min > self.max:
            raise ValueError("min must not exceed max")
        if self.dist == "normal" and (self.mean is None or self.stddev is None):
            raise ValueError("a normal distribution needs mean and stddev")
        return self


def _tokens_shape(value: object) -> str | None:
    """A mapping is a distribution, a number a count: only that reading's problem is
    reported, not pydantic's attempt at each (`constrained-int`, `function-after[...]`)."""
    if isinstance(value, dict | Distribution):
        return "distribution"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "count"
    return None


Tokens = Annotated[
    Annotated[int, Field(ge=1), Tag("count")] | Annotated[Distribution, Tag("distribution")],
    Discriminator(
        _tokens_shape,
        custom_error_type="tokens",
        custom_error_message="expected a token count like 64 or a distribution like "
        "{dist: uniform, min: 16, max: 128}",
    ),
]


class PromptSource(Strict):
    source: Literal["corpus", "text", "jsonl"] = "corpus"
    text: str | None = None
    path: Path | None = Field(None, description='JSONL file, one {"prompt": ...} per line')

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> PromptSource:
        if self.source == "text" and not self.text:
            raise ValueError("source 'text' needs `text`")
        if self.source == "jsonl" and not self.path:
            raise ValueError("source 'jsonl' needs `path`")
        return self


class _Kind(Strict):
    weight: float = Field(1.0, gt=0)
    name: str | None = Field(None, description="label in reports; defaults to the kind")


class LlmKind(_Kind):
    kind: Literal["chat", "completions"]
    stream: bool = True
    prompt: PromptSource = PromptSource()
    input_tokens: Tokens = Field(
        64,
        description="prompt length in the served model's tokens (corpus prompts): sized "
        "with the server's /tokenize, else with `tokenizer`, else in corpus words",
    )
    output_tokens: Tokens = 32
    ignore_eos: bool = True
    tokenizer: Path | None = Field(
        None,
        description="the served model's HuggingFace tokenizer directory, to size corpus "
        "prompts when the server has no /tokenize (needs `transformers`)",
    )


class RagKind(_Kind):
    kind: Literal["rag"]
    stream: bool = True
    top_k: int = Field(3, ge=1, le=20)
    output_tokens: Tokens = 32
    queries: PromptSource = PromptSource()


class EsSearchKind(_Kind):
    kind: Literal["es_search"]
    index: str = INDEX
    queries: Literal["corpus_terms"] | Path = "corpus_terms"
    size: int = Field(10, ge=1, le=100)


class EsBulkKind(_Kind):
    kind: Literal["es_bulk"]
    index: str = "slakit-bulk"
    docs_per_request: int = Field(50, ge=1, le=5000)


RequestKind = Annotated[LlmKind | RagKind | EsSearchKind | EsBulkKind, Field(discriminator="kind")]


# --- load ---------------------------------------------------------------------------

# A stage, a rate run or a sweep step of no time offers no load and leaves nothing to judge.
LoadDuration = Annotated[Duration, Field(gt=0)]


class Stage(Strict):
    users: int = Field(ge=1, le=2000)
    spawn_rate: float = Field(gt=0)
    duration: LoadDuration


class UsersLoad(Strict):
    """Closed loop: a fixed population of users, each waits `think_time` between requests."""

    stages: list[Stage] = Field(min_length=1)
    think_time: Duration = 0.0


class RateLoad(Strict):
    """Open loop: requests start on an arrival schedule, whatever the target's latency."""

    rps: float = Field(gt=0, le=5000)
    arrivals: Literal["poisson", "constant"] = "poisson"
    duration: LoadDuration
    max_concurrency: int = Field(
        256,
        ge=1,
        le=5000,
        description="requests in flight at most; arrivals beyond it "
        "are late and the report says the rate was not kept",
    )


class SweepLoad(Strict):
    """Capacity search: raise the rate until an SLO breaks; report the highest that held."""

    mode: Literal["step", "bisect"] = "step"
    rates: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="explicit rates for `step` mode; leave out to step from `start`"
    )
    start: float = Field(1.0, gt=0)
    max_rps: float = Field(64.0, gt=0)
    factor: float = Field(2.0, gt=1, description="step mode without `rates`: start * factor^n")
    precision: float = Field(0.1, gt=0, lt=1, description="bisect stops at this relative width")
    step_duration: LoadDuration
    arrivals: Literal["poisson", "constant"] = "poisson"
    max_steps: int = Field(8, ge=1, le=30)
    max_concurrency: int = Field(256, ge=1, le=5000)

    @model_validator(mode="after")
    def _has_a_rate_to_try(self) -> SweepLoad:
        if self.rates == []:
            raise FieldProblem(
                ("rates",),
                "`rates: []` lists no rate to try; list rates, or leave `rates` out to "
                "step from `start` by `factor`",
            )
        if self.rates is None and self.start > self.max_rps:
            raise FieldProblem(
                ("start",),
                f"start ({self.start:g} req/s) is above max_rps ({self.max_rps:g} req/s): "
                "the sweep would have no rate to try",
            )
        return self


class Distributed(Strict):
    workers: int = Field(ge=1, le=64)


class Load(Strict):
    users: UsersLoad | None = None
    rate: RateLoad | None = None
    sweep: SweepLoad | None = None
    distributed: Distributed | None = None
    request_timeout: Duration = 60.0

    @field_validator("request_timeout")
    @classmethod
    def _timeout_allows_a_request(cls, seconds: float) -> float:
        if seconds <= 0:
            raise ValueError("must be longer than 0s: every request would time out unanswered")
        return seconds

    @model_validator(mode="after")
    def _exactly_one(self) -> Load:
        chosen = [k for k in ("users", "rate", "sweep") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "choose exactly one of `users`, `rate`, `sweep` "
                f"(got {', '.join(chosen) or 'none'})"
            )
        return self

    @property
    def mode(self) -> str:
        return next(k for k in ("users", "rate", "sweep") if getattr(self, k) is not None)

    @property
    def open_loop_slots(self) -> int:
        """Requests an open-loop (`rate` or `sweep`) run may have in flight at once."""
        return (self.rate or self.sweep).max_concurrency


# --- objectives ---------------------------------------------------------------------


class Slo(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    sli: str
    aggregation: str = "p95"
    objective: ObjectiveText
    warn: ObjectiveText | None = None
    scope: str | None = Field(None, description="request kind name; default all kinds")
    baseline: str | None = Field(
        None, description="relative objective, e.g. 'within 10%' of the baseline report's value"
    )

    @model_validator(mode="after")
    def _fits_the_sli(self) -> Slo:
        sli = CATALOGUE.get(self.sli)
        if sli is None:
            raise ValueError(
                f"unknown sli {self.sli!r}; expected one of {', '.join(sorted(CATALOGUE))}"
            )
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"unknown aggregation {self.aggregation!r}; expected one of "
                f"{', '.join(AGGREGATIONS)}"
            )
        if self.aggregation not in sli.aggregations:
            raise ValueError(
                f"sli {self.sli!r} supports {', '.join(sli.aggregations)}, not {self.aggregation!r}"
            )
        for text in filter(None, (self.objective, self.warn)):
            dim = parse_objective(text).dimension
            if dim != sli.dimension and not (dim == "number" and sli.dimension == "ratio"):
                raise ValueError(
                    f"objective {text!r} is in {dim} but sli {self.sli!r} "
                    f"is measured in {sli.dimension}"
                )
        if self.warn is not None and not stricter(
            parse_objective(self.warn), parse_objective(self.objective)
        ):
            raise FieldProblem(
                ("warn",),
                f"warn {self.warn!r} must be stricter than the objective {self.objective!r}: "
                "a warning flags a value that meets the objective but is close to breaking it",
            )
        if self.baseline is not None:
            parse_relative(self.baseline)
        return self


def parse_relative(text: str) -> float:
    """`'within 10%'` -> 0.10: allowed relative worsening against the baseline."""
    parts = text.strip().lower().split()
    if len(parts) != 2 or parts[0] != "within" or not parts[1].endswith("%"):
        raise ValueError(f"expected a relative objective like 'within 10%', got {text!r}")
    try:  # in decimal, as objectives are: 'within 14.3%' is 0.143, not 0.14300000000000002
        return float(Decimal(parts[1][:-1]) / 100)
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        raise ValueError(f"expected a relative objective like 'within 10%', got {text!r}") from None


class Gate(Strict):
    min_samples: int = Field(20, ge=1, description="fewer samples behind an SLI: inconclusive")
    inconclusive_fails: bool = True
    max_measurement_error: Annotated[Duration, Field(gt=0)] | None = Field(
        None,
        description="with `run scenario --wire-check`: the largest p99 of |client - wire| "
        "over TTFT, ITL, TPOT and latency allowed, and no verdict may change on wire "
        "times; unchecked (no --wire-check) it is inconclusive",
    )


class Scenario(Strict):
    """One load test: target, request mix, load shape, objectives."""

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    description: str = ""
    target: Target = EmbeddedTarget()
    workload: list[RequestKind] = Field(min_length=1)
    load: Load
    warmup: Duration = 0.0
    slos: list[Slo] = Field(default_factory=list)
    gate: Gate = Gate()
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = self.kind_names()
        for i, name in enumerate(names):
            if name in names[:i]:
                raise FieldProblem(
                    ("workload", i),
                    f"two request kinds are named {name!r}; give each a distinct `name`",
                )
        seen: set[str] = set()
        for i, slo in enumerate(self.slos):
            if slo.scope is not None and slo.scope not in names:
                raise FieldProblem(
                    ("slos", i, "scope"),
                    f"scope {slo.scope!r} is not a request "
                    f"kind of this workload ({', '.join(names)})",
                )
            if slo.name in seen:
                raise FieldProblem(("slos", i, "name"), f"two SLOs share the name {slo.name!r}")
            seen.add(slo.name)
        if self.load.sweep:
            span, what = self.load.sweep.step_duration, "a sweep step"
            why = ": every step is judged after its own warm-up"
        else:
            span, what, why = self.total_duration(), "the load's duration", ""
        if self.warmup >= span:
            raise FieldProblem(
                ("warmup",),
                f"warmup ({self.warmup:g}s) must be shorter than {what} ({span:g}s){why}",
            )
        return self

    def run_dir_name(self) -> str:
        """The name as one readable path segment (`../../x` -> `x`, `a b/c` -> `a-b-c`):
        it names the run directory under `--out`, and must not lead out of it."""
        return _UNSAFE_IN_DIR_NAME.sub("-", self.name).strip("-.") or "scenario"

    def total_duration(self) -> float:
        """Seconds of load (a sweep's is bounded by max_steps * step_duration)."""
        load = self.load
        if load.users:
            return sum(s.duration for s in load.users.stages)
        if load.rate:
            return load.rate.duration
        return load.sweep.step_duration * load.sweep.max_steps

    def kind_names(self) -> list[str]:
        return [k.name or k.kind for k in self.workload]


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; InputError with file:line per problem."""
    return load_model(path, Scenario)
