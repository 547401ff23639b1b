"""Which objectives must hold: SLOs and the gate's settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from slakit.scenario.fields import Duration, ObjectiveText, Strict
from slakit.sli import AGGREGATIONS, CATALOGUE
from slakit.units import parse_objective, stricter
from slakit.yamlconf import FieldProblem

TURNS = ("first", "later")
"""What an SLO's `turn` scopes to: conversations' first turns, or the turns after them."""


class Slo(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    sli: str
    aggregation: str = "p95"
    objective: ObjectiveText
    warn: ObjectiveText | None = None
    scope: str | None = Field(None, description="request kind name; default all kinds")
    turn: Literal[TURNS] | None = Field(
        None,
        description="conversations: only their first turns, or only their later turns "
        "(growing prompts, cached prefixes); default every request",
    )
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
        if self.turn is not None and sli.side == "server":
            raise FieldProblem(
                ("turn",), f"sli {self.sli!r} is the server's, which does not count by turn"
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
    confidence: float | None = Field(
        None,
        gt=0.5,
        lt=1,
        description="with `repeat: N`: judge each SLO on the pessimistic end of its "
        "bootstrap interval at this confidence (e.g. 0.95) instead of its mean over the runs",
    )
