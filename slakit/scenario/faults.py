"""`faults:` in a scenario: what is done to the embedded stack's engine replicas during the
load (`slakit.stack.fault_driver` does it; the report says what each cost)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slakit.scenario.fields import Duration, Strict


class Fault(Strict):
    """One fault, `at` seconds after the load starts."""

    at: Duration = Field(description="seconds after the load starts")
    action: Literal["kill", "restart", "rolling-restart", "errors"] = Field(
        description="kill: SIGKILL one replica; restart: drain, restart, restore one; "
        "rolling-restart: each in turn; errors: the simulated replica fails requests"
    )
    replica: int = Field(1, ge=1, description="which replica (1..replicas); not for rolling")
    error_rate: float = Field(1.0, gt=0, le=1, description="errors: the share that fails")
    for_: Duration = Field(10.0, alias="for", gt=0, description="errors: for how long")
