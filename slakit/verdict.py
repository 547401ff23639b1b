"""The one rule that turns SLO results, and how the run went, into a verdict and an exit
code. `run scenario`, sweeps, `check` and the tests' report factory all call it, so a
stored report and a fresh run are judged the same way."""

from __future__ import annotations

from collections.abc import Iterable

from slakit.report.model import SloResult, Verdict


def overall(results: Iterable[SloResult], inconclusive_fails: bool) -> tuple[Verdict, int]:
    """The SLOs alone: 0 when all pass or warn; 1 on any fail (or inconclusive, by default)."""
    verdicts = {r.verdict for r in results}
    if "fail" in verdicts:
        return "fail", 1
    if "inconclusive" in verdicts:
        return "inconclusive", 1 if inconclusive_fails else 0
    return ("warn" if "warn" in verdicts else "pass"), 0


def judge_run(
    results: Iterable[SloResult],
    inconclusive_fails: bool,
    *,
    partial: bool,
    capacity_found: bool | None = None,
) -> tuple[Verdict, int]:
    """The gate. A sweep passes when it found a capacity (its steps' SLOs are judged per
    step); a run cut short never passes: what it measured is kept, a pass or warn becomes
    a fail, and the exit code is 1 whatever else held."""
    if capacity_found is None:
        verdict, code = overall(results, inconclusive_fails)
    else:
        verdict, code = ("pass", 0) if capacity_found else ("fail", 1)
    if partial:
        return ("fail" if verdict in ("pass", "warn") else verdict), 1
    return verdict, code
