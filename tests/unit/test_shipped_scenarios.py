"""Every scenario shipped under scenarios/ validates: a user's first copy of one must not
start with a schema error. (slo-spec.yaml is an SLO spec for `gen alerts`, not a run.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from slakit.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(p.name for p in SCENARIOS.glob("*.yaml") if p.name != "slo-spec.yaml")


def test_the_scenarios_directory_is_found() -> None:
    assert "smoke.yaml" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_scenario_validates(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    assert scenario.slos, f"{name} defines no SLO: its gate would judge nothing"
