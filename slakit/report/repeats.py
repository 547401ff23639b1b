"""The "Repeated runs" section (`repeat: N`), built once for Markdown and HTML alike:
each SLO's value per run, its mean and interval, and which of them the gate judged."""

from __future__ import annotations

from slakit.report.formatting import MISSING, fmt_value, verdict_word
from slakit.report.model import Report
from slakit.report.tables import Table

JUDGED = {"mean": "mean", "low": "interval's low end", "high": "interval's high end"}


def repeat_table(report: Report) -> Table:
    """One row per SLO: its value in each run, the mean, the interval, the verdict."""
    repeats = report.repeats
    by_name = {s.name: s for s in report.slos}
    headers = ["SLO", *(run.dir for run in repeats.runs), "Mean", "Interval", "Judged on"]
    rows, verdicts = [], []
    for spread in repeats.slos:
        slo = by_name[spread.name]
        shown = [fmt_value(v, slo.dimension) for v in spread.values]
        interval = (
            f"{fmt_value(spread.low, slo.dimension)} to {fmt_value(spread.high, slo.dimension)}"
            if spread.low is not None
            else MISSING
        )
        mean = fmt_value(spread.mean, slo.dimension)
        rows.append([spread.name, *shown, mean, interval, JUDGED[spread.judged_on]])
        verdicts.append(slo.verdict)
    return Table(headers, rows, verdicts)


def repeat_text(report: Report) -> str:
    """One sentence: how many runs, how each went, at what confidence the interval is."""
    repeats = report.repeats
    ran = ", ".join(f"{run.dir} {verdict_word(run.verdict)}" for run in repeats.runs)
    confidence = repeats.slos[0].confidence if repeats.slos else None
    interval = (
        f" Intervals: {confidence:.0%} bootstrap intervals of the mean over the runs."
        if confidence
        else ""
    )
    return (
        f"{len(repeats.runs)} of {repeats.repeat} runs ran ({ran}); each SLO is judged on "
        f"its spread over them, the load and server series are the last run's.{interval}"
    )
