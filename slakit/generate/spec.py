"""The SLO spec `slakit gen alerts` reads: SLOs, how to alert on their budget, and resources.

`slos` are the scenario's own `Slo` objects, so one file can hold a load test's objectives
and the alerts that guard them in production; a scenario file is accepted too (its `slos`,
default alerting), and so is an OpenSLO SLO document (`openslo_import`). Durations here
are Prometheus durations (`30s`, `5m`, `1h`, `1d`, `1w`) because budget windows run to
days; they are held in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from slakit.catalogue import thresholds
from slakit.catalogue.defaults import LOG_ERROR_LEVEL, LOG_LINES_QUERY
from slakit.errors import InputError
from slakit.generate import budget, openslo_import
from slakit.scenario import Slo, load_scenario
from slakit.units import PROM_DURATION, parse_duration, parse_prom_duration, prom_duration
from slakit.yamlconf import FieldProblem, format_validation_error, load_model, read_yaml

PromDuration = Annotated[
    float,
    BeforeValidator(parse_prom_duration),
    PlainSerializer(prom_duration, return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": PROM_DURATION.pattern}),
]


def _percent(value: object) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1])
        except ValueError:
            number = -1.0
        if 0 <= number <= 100:
            return number / 100
    raise ValueError(f"expected a percentage like '90%', got {value!r}")


Percent = Annotated[
    float,
    BeforeValidator(_percent),
    PlainSerializer(lambda ratio: f"{ratio * 100:g}%", return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d+)?%$"}),
]
Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda seconds: f"{seconds:g}s", return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}),
]
Severity = Literal["page", "ticket"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- burn-rate alerting ----------------------------------------------------------------


class BurnRate(Strict):
    """Alert when the budget burns `factor` times too fast over both windows (the short one
    makes the alert stop soon after the burn does). No `for:`: the long window already
    filters blips, so a `for:` would only page later than the workbook's detection time."""

    severity: Severity
    factor: float = Field(gt=0)
    long_window: PromDuration
    short_window: PromDuration

    @model_validator(mode="before")
    @classmethod
    def _no_for(cls, data: object) -> object:
        if isinstance(data, dict) and "for" in data:
            raise FieldProblem(
                ("for",),
                "burn-rate alerts take no `for:` (the long window filters blips; a `for:` "
                "only delays the alert): remove it",
            )
        return data

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnRate:
        if self.short_window >= self.long_window:
            raise FieldProblem(("short_window",), "must be shorter than long_window")
        return self


# The Google SRE workbook's four alerts for a 30-day budget: 2% of it spent in an hour or
# 5% in six hours pages; 10% in a day or 10% in three days opens a ticket.
DEFAULT_BURN_RATES = [
    BurnRate(severity="page", factor=14.4, long_window="1h", short_window="5m"),
    BurnRate(severity="page", factor=6, long_window="6h", short_window="30m"),
    BurnRate(severity="ticket", factor=3, long_window="1d", short_window="2h"),
    BurnRate(severity="ticket", factor=1, long_window="3d", short_window="6h"),
]


class Alerting(Strict):
    budget_window: PromDuration = Field(30 * 86400, description="the SLO period, e.g. 30d")
    burn_rates: list[BurnRate] = Field(default_factory=lambda: list(DEFAULT_BURN_RATES))
    runbook_url_base: str = Field(
        "alert_rules/RUNBOOK.md",
        description="each alert's runbook_url is this + '#' + the alert name in lower case",
    )

    @model_validator(mode="after")
    def _distinct_windows(self) -> Alerting:
        seen: set[tuple[float, float]] = set()
        for i, rate in enumerate(self.burn_rates):
            pair = (rate.long_window, rate.short_window)
            if pair in seen:
                raise FieldProblem(
                    ("burn_rates", i), "two burn rates use the same long and short windows"
                )
            if rate.long_window > self.budget_window:
                raise FieldProblem(
                    ("burn_rates", i, "long_window"), "must not exceed budget_window"
                )
            seen.add(pair)
        return self


# --- resource and health thresholds ------------------------------------------------------


class ResourceRule(Strict):
    """A threshold rule; each subclass sets its own defaults."""

    enabled: bool = True
    for_: PromDuration = Field(alias="for")
    severity: Severity


class GpuMemory(ResourceRule):
    above: Percent = 0.90
    for_: PromDuration = Field(600, alias="for")
    severity: Severity = "ticket"


class GpuTemperature(ResourceRule):
    above_celsius: float = thresholds.GPU_TEMPERATURE_C
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class EsCpu(ResourceRule):
    above: Percent = 0.85
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class EsClusterRed(ResourceRule):
    for_: PromDuration = Field(120, alias="for")
    severity: Severity = "page"


class EsClusterYellow(ResourceRule):
    for_: PromDuration = Field(900, alias="for")
    severity: Severity = "ticket"


class EsSearchRejections(ResourceRule):
    above_per_s: float = Field(0, ge=0, description="search rejections per second (5m rate)")
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class EsIndexingLatency(ResourceRule):
    above: Seconds = 0.5
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class EsJvmHeap(ResourceRule):
    above: Percent = 0.90
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class InferenceLatency(ResourceRule):
    above: Seconds = 2.0
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class ErrorRate(ResourceRule):
    above: Percent = 0.05
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class LogErrors(ResourceRule):
    """More than `above_per_minute` ERROR log lines a minute (seed 004: 10), as the ES
    exporter's count query `query` counts them by `log.level` (`level` its ERROR value)."""

    above_per_minute: float = Field(10, ge=0)
    query: str = Field(LOG_LINES_QUERY, min_length=1, description="the count query's name")
    level: str = Field(LOG_ERROR_LEVEL, min_length=1, description="its group of ERROR lines")
    for_: PromDuration = Field(120, alias="for")
    severity: Severity = "ticket"


class VllmQueueGrowing(ResourceRule):
    kv_cache_at_least: Percent = thresholds.KV_CACHE_FULL
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


# --- outages: a target down, gone, or failing its canary ---------------------------------


class TargetDown(ResourceRule):
    """A job Prometheus cannot scrape (`up == 0`) or has no target of at all (`absent`)."""

    jobs: list[str] | None = Field(
        None, description="Prometheus job names; default every job of the embedded stack"
    )
    for_: PromDuration = Field(120, alias="for")
    severity: Severity = "ticket"


class CanaryFailing(ResourceRule):
    for_: PromDuration = Field(120, alias="for")
    severity: Severity = "page"


class EsDown(ResourceRule):
    """The ES exporter runs but Elasticsearch does not answer it (`slakit_es_up == 0`)."""

    for_: PromDuration = Field(120, alias="for")
    severity: Severity = "page"


class EsIndexFreshness(ResourceRule):
    above: PromDuration = Field(3600, description="newest document older than this")
    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class GpuDown(ResourceRule):
    """NVML or the GPU exporter's collection fails: no GPU metrics, GPU likely lost."""

    for_: PromDuration = Field(300, alias="for")
    severity: Severity = "ticket"


class EngineReplicaDown(ResourceRule):
    """The balancer took an engine replica out: its checks fail or its breaker opened."""

    for_: PromDuration = Field(60, alias="for")
    severity: Severity = "ticket"


class Resources(Strict):
    """Threshold rules on causes (resources, health), beside the SLOs' symptom alerts."""

    gpu_memory: GpuMemory = GpuMemory()
    gpu_temperature: GpuTemperature = GpuTemperature()
    es_cpu: EsCpu = EsCpu()
    es_cluster_red: EsClusterRed = EsClusterRed()
    es_cluster_yellow: EsClusterYellow = EsClusterYellow()
    es_search_rejections: EsSearchRejections = EsSearchRejections()
    es_indexing_latency: EsIndexingLatency = EsIndexingLatency()
    es_jvm_heap: EsJvmHeap = EsJvmHeap()
    inference_latency: InferenceLatency = InferenceLatency()
    error_rate: ErrorRate = ErrorRate()
    log_errors: LogErrors = LogErrors()
    vllm_queue_growing: VllmQueueGrowing = VllmQueueGrowing()
    target_down: TargetDown = TargetDown()
    canary_failing: CanaryFailing = CanaryFailing()
    rag_canary_failing: CanaryFailing = CanaryFailing()
    es_down: EsDown = EsDown()
    es_canary_failing: CanaryFailing = CanaryFailing()
    es_index_freshness: EsIndexFreshness = EsIndexFreshness()
    gpu_down: GpuDown = GpuDown()
    engine_replica_down: EngineReplicaDown = EngineReplicaDown()


# --- the spec ----------------------------------------------------------------------------


class SloSpec(Strict):
    """`slakit gen alerts SPEC`: SLOs judged from Prometheus, alerting policy, resources."""

    name: str = Field(min_length=1)
    description: str = ""
    slos: list[Slo] = Field(default_factory=list)
    alerting: Alerting = Alerting()
    resources: Resources = Resources()
    _imported: list[budget.EventSlo] = PrivateAttr(default_factory=list)  # from OpenSLO

    @model_validator(mode="after")
    def _alertable(self, info: ValidationInfo) -> SloSpec:
        """Every SLO of a spec must become alerts; a scenario's that cannot are skipped."""
        from_scenario = bool(info.context and info.context.get("from_scenario"))
        seen: set[str] = set()
        for i, slo in enumerate(self.slos):
            if slo.name in seen:
                raise FieldProblem(("slos", i, "name"), f"two SLOs share the name {slo.name!r}")
            seen.add(slo.name)
            try:
                budget.plan(slo, self._max_factor())
            except budget.Unalertable as exc:
                if not from_scenario:
                    raise FieldProblem(("slos", i, exc.field), str(exc)) from None
        return self

    def _max_factor(self) -> float:
        return max((r.factor for r in self.alerting.burn_rates), default=1.0)

    def plans(self) -> list[budget.EventSlo | budget.Skipped]:
        """Each SLO's events and budget, or why it gets no alert (scenario files only)."""
        out: list[budget.EventSlo | budget.Skipped] = list(self._imported)
        for slo in self.slos:
            try:
                out.append(budget.plan(slo, self._max_factor()))
            except budget.Unalertable as exc:
                out.append(budget.Skipped(slo, str(exc)))
        return out


def load_spec(path: Path) -> SloSpec:
    """An SLO spec, a scenario file (it has `workload`) read for its `slos`, or an OpenSLO
    SLO document (with slakit's default alerting over its time window)."""
    try:
        data, lines = read_yaml(path)
    except InputError as exc:
        if "another document" in str(exc):  # e.g. an OpenSLO file of several SLOs
            raise InputError(f"{exc} (one document per spec file: split it)") from None
        raise
    if openslo_import.is_openslo(data):
        try:
            fields, plan = openslo_import.read(data)
        except openslo_import.NotReadable as exc:
            raise InputError(f"{path}: {exc}") from None
        try:
            spec = SloSpec.model_validate(fields)
        except ValidationError as exc:
            raise InputError(*format_validation_error(exc, str(path), {})) from None
        if spec._max_factor() * plan.budget >= 1:
            raise InputError(
                f"{path}: spec.objectives.0.target: a budget of {plan.budget:.6g} burnt "
                f"{spec._max_factor():g}x is every event: that alert could never fire"
            )
        spec._imported = [plan]
        return spec
    if not (isinstance(data, dict) and "workload" in data):
        return load_model(path, SloSpec)
    scenario = load_scenario(path)
    try:
        return SloSpec.model_validate(
            {"name": scenario.name, "slos": data.get("slos") or []},
            context={"from_scenario": True},
        )
    except ValidationError as exc:
        raise InputError(*format_validation_error(exc, str(path), lines)) from None
