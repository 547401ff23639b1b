"""The one rule that turns SLO results, and how the run went, into a verdict and an exit
code. `run scenario`, sweeps, `check` and the tests' report factory all call it, so a
stored report and a fresh run are judged the same way."""

from __future__ import annotations

from collections.abc import Iterable

from slakit.report.formatting import fmt_value
from slakit.report.model import MeasurementError, MeasurementReport, SloResult, Verdict
from slakit.sli import CATALOGUE

BOUND = "max_measurement_error"


def overall(results: Iterable[SloResult], inconclusive_fails: bool) -> tuple[Verdict, int]:
    """The SLOs alone: 0 when all pass or warn; 1 on any fail (or inconclusive, by default)."""
    return _worst({r.verdict for r in results}, inconclusive_fails)


def _worst(verdicts: set[str], inconclusive_fails: bool) -> tuple[Verdict, int]:
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
    measurement: Verdict | None = None,
) -> tuple[Verdict, int]:
    """The gate. A sweep passes when it found a capacity (its steps' SLOs are judged per
    step); a run cut short never passes: what it measured is kept, a pass or warn becomes
    a fail, and the exit code is 1 whatever else held. The measurement bound's verdict
    (`judge_measurement`), when the scenario sets one, counts as one more objective's."""
    if capacity_found is None:
        verdicts = {r.verdict for r in results}
    else:
        verdicts = {"pass" if capacity_found else "fail"}
    verdict, code = _worst(verdicts | ({measurement} if measurement else set()), inconclusive_fails)
    if partial:
        return ("fail" if verdict in ("pass", "warn") else verdict), 1
    return verdict, code


def judge_measurement(
    measurement: MeasurementReport | None, slos: list[SloResult], bound_s: float | None
) -> MeasurementReport | None:
    """`measurement` with the verdicts that would change on wire times (its `wire_slos`
    against `slos`) and the verdict of the scenario's bound `bound_s`; None when the run
    was not checked and the scenario sets no bound.

    A bound the run did not check (no `--wire-check`) is inconclusive, not a
    pass and not a plain fail: nothing says the numbers are within it, as with too few
    samples, so it fails the run under the default `gate.inconclusive_fails` and is only
    a note where the scenario lets inconclusive results through."""
    if measurement is None:
        if bound_s is None:
            return None
        measurement = MeasurementReport()
    changed = changed_verdicts(slos, measurement.wire_slos)
    verdict, detail = _bound_verdict(measurement.error, changed, bound_s)
    return measurement.model_copy(
        update={"changed_verdicts": changed, "verdict": verdict, "detail": detail}
    )


def changed_verdicts(slos: list[SloResult], wire_slos: list[SloResult]) -> list[str]:
    """Names of the SLOs whose verdict on wire times differs from the client's, in order."""
    on_wire = {s.name: s.verdict for s in wire_slos}
    return [s.name for s in slos if on_wire.get(s.name, s.verdict) != s.verdict]


def _largest_error(error: MeasurementError) -> tuple[str, float] | None:
    """(SLI, p99 of |client - wire|) of the SLI furthest from the wire; None if none matched."""
    sizes = [(sli, s.abs_p99_s) for sli, s in error.errors.items() if s.abs_p99_s is not None]
    return max(sizes, key=lambda pair: pair[1]) if sizes else None


def _bound_verdict(
    error: MeasurementError | None, changed: list[str], bound_s: float | None
) -> tuple[Verdict | None, str]:
    if bound_s is None:
        return None, ""
    bound = fmt_value(bound_s, "seconds")
    if error is None:
        return "inconclusive", f"{BOUND} {bound} was not checked: run with --wire-check"
    worst = _largest_error(error)
    if worst is None:
        return "inconclusive", f"{BOUND} {bound}: no successful request was matched on the wire"
    sli, size = worst
    measured = (
        f"the client's {CATALOGUE[sli].title.lower()} is {fmt_value(size, 'seconds')} "
        "from the wire at p99"
    )
    problems = [f"{measured}, over {BOUND} {bound}"] if size > bound_s else []
    if changed:
        problems.append(f"the verdict of {', '.join(changed)} would change on wire times")
    if problems:
        return "fail", "; ".join(problems)
    return "pass", f"{measured}, within {BOUND} {bound}"
