"""`slakit check`: the CI gate on a stored report, without sending load.

Verdicts are recomputed from the stored values and the scenario's objectives, then an
optional baseline comparison fails every SLO that regressed more than allowed.
"""

from __future__ import annotations

from slakit import evaluate as ev
from slakit.report.model import Report
from slakit.scenario import Scenario


def regate(
    report: Report, baseline: Report | None = None, max_regression: float | None = None
) -> Report:
    scenario = Scenario.model_validate(report.scenario)
    by_name = {s.name: s for s in scenario.slos}
    slos = []
    for result in report.slos:
        slo = by_name[result.name]
        verdict, detail = ev.judge(
            slo, result.value, result.samples, scenario.gate.min_samples, result.detail
        )
        slos.append(result.model_copy(update={"verdict": verdict, "detail": detail}))
    if baseline is not None:
        if max_regression is not None:
            scenario = scenario.model_copy(
                update={
                    "slos": [
                        s.model_copy(update={"baseline": f"within {max_regression * 100:g}%"})
                        for s in scenario.slos
                    ]
                }
            )
        slos = ev.compare_baseline(slos, baseline.slos, scenario.slos)
    verdict, code = ev.overall(slos, scenario.gate.inconclusive_fails)
    if report.status == "partial":
        verdict, code = ("fail" if verdict in ("pass", "warn") else verdict), 1
    return report.model_copy(
        update={
            "slos": slos,
            "verdict": verdict,
            "exit_code": code,
            "baseline_run_id": baseline.run_id if baseline else report.baseline_run_id,
        }
    )
