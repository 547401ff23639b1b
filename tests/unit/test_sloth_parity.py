"""slakit's burn-rate alerts first fire at the same minute as Sloth's, for the same SLO:
Sloth v0.16.0 itself (`go install github.com/slok/sloth/cmd/sloth@v0.16.0`) generates its
rules from `slakit gen alerts --format sloth`, and one promtool test evaluates both rule
sets on the same series. Skipped where no sloth binary is installed."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from slakit.generate.alerts import generate_alerts
from tests.promtool_cases import run
from tests.unit.test_alert_timing import PAGE, SPEC, TICKET, Incident, series, workbook_detection

SLOTH_ALERT = "SloBurnErrors"  # Sloth names page and ticket alike: `sloth_severity` differs


def _sloth() -> str | None:
    gopath = Path(os.environ.get("GOPATH") or Path.home() / "go")
    return shutil.which("sloth") or next(
        (str(p) for p in [gopath / "bin" / "sloth"] if p.exists()), None
    )


SLOTH = _sloth()
pytestmark = pytest.mark.skipif(SLOTH is None, reason="no sloth binary (go install ...@v0.16.0)")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("sloth")
    spec = out / "spec.yaml"
    spec.write_text(textwrap.dedent(SPEC).replace("name: t\n", "name: parity\n", 1))
    generate_alerts(spec, out, formats=["prometheus", "sloth"])
    # `go install` builds say `dev` to `sloth version`; the binary's module version is v0.16.0.
    if shutil.which("go"):
        built = subprocess.run(["go", "version", "-m", SLOTH], capture_output=True, text=True)
        assert "github.com/slok/sloth\tv0.16.0" in built.stdout, built.stdout[:300]
    done = subprocess.run(
        [
            SLOTH,
            "generate",
            "-i",
            str(out / "sloth.yaml"),
            "-o",
            str(out / "sloth.rules.yml"),
            "--default-slo-period",
            "30d",
            "--slo-period-windows-path",
            str(out / "sloth-windows"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out / "slo.rules.yml", out / "sloth.rules.yml"


def _firing_count(alert: str, minute: int, expected: int, **labels: str) -> dict:
    matchers = ", ".join(
        [f'alertname="{alert}"', 'alertstate="firing"', *(f'{k}="{v}"' for k, v in labels.items())]
    )
    return {
        "expr": f"count(ALERTS{{{matchers}}}) or vector(0)",
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": "{}", "value": expected}],
    }


@pytest.mark.parametrize(
    ("burn", "severity", "start"), [(20, "page", 360), (7, "page", 360), (3.5, "ticket", 4320)]
)
def test_slakit_and_sloth_first_fire_at_the_same_minute(
    both: tuple[Path, Path], tmp_path: Path, burn: float, severity: str, start: int
) -> None:
    slakit_rules, sloth_rules = both
    minute = start + math.floor(workbook_detection(burn, severity)) + 1
    ours = PAGE if severity == "page" else TICKET
    checks = [
        _firing_count(alert, t, count, **labels)
        for t, count in ((minute - 1, 0), (minute, 1))
        for alert, labels in ((ours, {}), (SLOTH_ALERT, {"sloth_severity": severity}))
    ]
    group = {
        "name": f"{burn}x: slakit and Sloth",
        # A sample past the last checked minute: with none, Sloth's alert (its own group,
        # reading its recording group's series) was not yet firing at promtool's last step.
        "input_series": series(Incident(burn, start), minute + 1),
        "promql_expr_test": checks,
    }
    problems = run([slakit_rules, sloth_rules], [group], tmp_path)
    assert problems == [], "\n".join(problems)
