"""The scenario file: what to send, how hard, and which objectives must hold.

Validated by pydantic with unknown fields forbidden; `slakit schema` prints the JSON
Schema of `Scenario`. Durations, percentages and objectives go through `slakit.units`.

One module per part of the file: fields (shared types), target, workload, load,
objectives; the scenario itself here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from slakit.scenario.faults import Fault
from slakit.scenario.fields import _UNSAFE_IN_DIR_NAME, MAX_NAME_CHARS, Duration, Strict
from slakit.scenario.load import Load, SweepLoad
from slakit.scenario.objectives import Gate, Slo, parse_relative
from slakit.scenario.report import ReportSettings
from slakit.scenario.target import EmbeddedTarget, ExplicitTarget, Target
from slakit.scenario.workload import (
    Distribution,
    EsBulkKind,
    EsSearchKind,
    LlmKind,
    PromptSource,
    RagKind,
    RequestKind,
)
from slakit.yamlconf import FieldProblem, load_model

MAX_REPEAT = 20  # runs of one scenario; each is a full run, so more is rarely affordable

__all__ = [
    "Distribution",
    "EmbeddedTarget",
    "EsBulkKind",
    "EsSearchKind",
    "ExplicitTarget",
    "Load",
    "LlmKind",
    "PromptSource",
    "RagKind",
    "RequestKind",
    "Scenario",
    "Slo",
    "SweepLoad",
    "load_scenario",
    "parse_relative",
]


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
    repeat: int = Field(
        1,
        ge=1,
        le=MAX_REPEAT,
        description="run the scenario this many times; each SLO is then judged on its "
        "mean over the runs (or, with `gate.confidence`, its interval's pessimistic end)",
    )
    faults: list[Fault] = Field(
        default_factory=list, description="done to the embedded stack's engine replicas"
    )
    report: ReportSettings = ReportSettings()

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
            if slo.turn is not None and not self._has_conversations(slo.scope):
                raise FieldProblem(
                    ("slos", i, "turn"),
                    f"turn {slo.turn!r}: no request kind {'in scope ' if slo.scope else ''}has "
                    "a `conversation`, so every request is a first turn",
                )
            if slo.name in seen:
                raise FieldProblem(("slos", i, "name"), f"two SLOs share the name {slo.name!r}")
            seen.add(slo.name)
        self._repeat_fits()
        self._trace_fits()
        self._faults_fit()
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

    def _trace_fits(self) -> None:
        """A trace gives each request its lengths: only corpus prompts are sized to them."""
        if self.load.trace is None:
            return
        for i, kind in enumerate(self.workload):
            if not isinstance(kind, LlmKind) or kind.prompt.source != "corpus":
                raise FieldProblem(
                    ("workload", i),
                    "a trace replay sends each request with its row's input and output "
                    "lengths: every kind must be chat or completions with corpus prompts",
                )

    def _faults_fit(self) -> None:
        """Faults are done to replicas the embedded stack runs, during one run's load."""
        target = self.target
        for i, fault in enumerate(self.faults):
            if not isinstance(target, EmbeddedTarget) or target.replicas < 2:
                raise FieldProblem(
                    ("faults", i),
                    "faults are done to engine replicas: the target must be `embedded` "
                    "with `replicas: 2` or more",
                )
            if fault.replica > target.replicas:
                raise FieldProblem(
                    ("faults", i, "replica"),
                    f"replica {fault.replica}: the target runs {target.replicas}",
                )
            if fault.action == "errors" and target.engine != "sim":
                raise FieldProblem(
                    ("faults", i, "action"),
                    "errors are injected by the simulated engine: set `engine: sim`",
                )
            if self.repeat > 1 or self.load.sweep or fault.at >= self.total_duration():
                raise FieldProblem(
                    ("faults", i, "at"),
                    "a fault happens once, during the load of a single run: "
                    "`at` within the load's duration, no `repeat`, no sweep",
                )

    def _repeat_fits(self) -> None:
        if self.gate.confidence is not None and self.repeat < 2:
            raise FieldProblem(
                ("gate", "confidence"),
                "an interval needs runs to spread over: set `repeat` to 2 or more, "
                "or leave `confidence` out",
            )
        if self.repeat > 1 and self.load.sweep:
            raise FieldProblem(
                ("repeat",),
                "a sweep cannot be repeated: its steps already judge each rate; "
                "repeat a `rate` run at the capacity it found instead",
            )

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
            return sum(s.duration for s in load.rate.segments())
        if load.trace:
            return load.trace.pace().duration
        return load.sweep.step_duration * load.sweep.max_steps

    def _has_conversations(self, scope: str | None) -> bool:
        return any(
            getattr(kind, "conversation", None) is not None
            for kind, name in zip(self.workload, self.kind_names(), strict=True)
            if scope in (None, name)
        )

    def kind_names(self) -> list[str]:
        return [k.name or k.kind for k in self.workload]


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; InputError with file:line per problem."""
    return load_model(path, Scenario)
