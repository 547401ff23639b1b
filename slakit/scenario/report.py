"""What the run report shows beyond the objectives: how many slowest requests it explains."""

from __future__ import annotations

from pydantic import Field

from slakit.scenario.fields import Strict

SLOWEST = 5
"""Slowest requests explained by default, by TTFT and by latency each."""
MAX_SLOWEST = 50  # each one is a trace read back from Jaeger


class ReportSettings(Strict):
    slowest: int = Field(
        SLOWEST,
        ge=0,
        le=MAX_SLOWEST,
        description="the N slowest requests by TTFT and by latency, each explained by its "
        "trace (the gateway's and the engine's spans in Jaeger); 0: none",
    )
