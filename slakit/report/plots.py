"""The HTML report's plots, as inline SVG text made by matplotlib.

Each function takes a Report and returns one SVG document, or None when the report has
no data for it (the HTML then leaves the plot out). Every time axis is seconds since
`started_at`, so client and server plots line up. Figures are built on `Figure` directly
(no pyplot): no global state, no GUI backend, safe in threads.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from slakit.report.formatting import fmt_value, objective_of
from slakit.report.model import Report, ServerSeries, SloResult
from slakit.sli import PERCENTILES
from slakit.units import Objective

VERDICT_COLOURS = {
    "pass": "#2e7d32",
    "warn": "#e69f00",
    "fail": "#c62828",
    "inconclusive": "#757575",
}
# Percentiles in one blue family (light p50, dark p95); thresholds in verdict colours.
P50, P95, WARMUP, OFFERED = "#86b0de", "#1f4e8c", "#e8e8e8", "#6b6b6b"
WIDTH = 9.0  # inches; the HTML scales the SVG to its column
BAR_CAP = 3.0  # bars past 3x the objective are drawn at 3x and labelled "off scale"

_RC = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, no embedded glyphs
    "text.parse_math": False,  # a `$` in a kind or series name is text, not TeX
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#888888",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.fontsize": 8,
    "legend.frameon": False,
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _render(name: str, height: float, draw: Callable[[Figure], None], aligned: bool = False) -> str:
    """Draw on a fresh figure and return it as SVG fit to inline in HTML.

    `aligned` figures get fixed margins instead of a fitted layout, so the time plots'
    axes start and end at the same place and a moment lines up down the page.
    """
    with mpl.rc_context({**_RC, "svg.hashsalt": name}):  # salt: same report, same bytes
        fig = Figure(figsize=(WIDTH, height), layout=None if aligned else "constrained")
        draw(fig)
        if aligned:
            fig.subplots_adjust(
                left=0.09, right=0.73, top=1 - 0.32 / height, bottom=0.5 / height, hspace=0.35
            )
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    return _inline(buf.getvalue(), name)


def _inline(svg: str, prefix: str) -> str:
    """Drop the XML prolog and prefix ids: several SVGs share one HTML id namespace."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\bid="', f'id="{prefix}-', svg)
    return svg.replace('href="#', f'href="#{prefix}-').replace("url(#", f"url(#{prefix}-")


def _format_y(ax: Axes, dimension: str) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, dimension)))


def _time_axis(ax: Axes, report: Report) -> None:
    """Seconds since start on every time plot, warm-up shaded, so the plots align."""
    ax.set_xlim(0, report.ended_at - report.started_at)
    warmup = report.warmup_end - report.started_at
    if warmup > 0:
        ax.axvspan(0, warmup, color=WARMUP, zorder=0, label="warm-up")


def _legend(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _seconds(report: Report, times) -> np.ndarray:
    return np.asarray(times, dtype=float) - report.started_at


def _series(report: Report, attr: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one timeseries field, leaving out the seconds that had no value."""
    pairs = [(p.t, getattr(p, attr)) for p in report.timeseries if getattr(p, attr) is not None]
    if not pairs:
        return np.array([]), np.array([])
    times, values = zip(*pairs, strict=True)
    return _seconds(report, times), np.asarray(values, dtype=float)


def _threshold_slos(report: Report, sli: str) -> list[tuple[SloResult, float]]:
    """SLOs on `sli` with a percentile aggregation, with their thresholds (base unit)."""
    found = []
    for slo in report.slos:
        objective = objective_of(slo.objective)
        if slo.sli == sli and slo.aggregation in PERCENTILES and objective is not None:
            found.append((slo, objective.threshold))
    return found


def _latency_panel(ax: Axes, report: Report, sli: str, lines: dict[str, str]) -> None:
    _time_axis(ax, report)
    for label, attr in lines.items():
        x, y = _series(report, attr)
        ax.plot(x, y, lw=1.1, color=P50 if label.endswith("p50") else P95, label=label)
    for slo, threshold in _threshold_slos(report, sli):
        scope = f" [{slo.scope}]" if slo.scope else ""
        ax.axhline(
            threshold,
            color=VERDICT_COLOURS[slo.verdict],
            ls="--",
            lw=1.2,
            label=f"{slo.name}{scope}: {slo.aggregation} {slo.objective}",
        )
    ax.set_ylim(bottom=0)
    _format_y(ax, "seconds")
    _legend(ax)


def latency_over_time(report: Report) -> str | None:
    """Latency and TTFT percentiles per second, with the SLO thresholds they answer to."""
    panels = [
        (title, sli, lines)
        for title, sli, lines in [
            (
                "End-to-end latency",
                "latency",
                {"latency p50": "latency_p50", "latency p95": "latency_p95"},
            ),
            ("Time to first token", "ttft", {"TTFT p95": "ttft_p95"}),
        ]
        if any(_series(report, attr)[0].size for attr in lines.values())
    ]
    if not panels:
        return None

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (title, sli, lines) in zip(axes, panels, strict=True):
            ax.set_title(title)
            _latency_panel(ax, report, sli, lines)
        axes[-1].set_xlabel("seconds since start")

    return _render("latency", 0.4 + 2.4 * len(panels), draw, aligned=True)


def _used(value: float, objective: Objective) -> float:
    """How much of its objective `value` used: measured/objective, oriented so past 1 =
    missed (inverted for 'higher is better')."""
    if objective.higher_is_better:
        return objective.threshold / value if value else float("inf")
    return value / objective.threshold


def _headroom(slo: SloResult) -> tuple[float, str] | None:
    """(`_used` of the SLO's value; the bar's text), or None."""
    objective = objective_of(slo.objective)
    if slo.value is None or objective is None or objective.threshold == 0:
        return None
    ratio = _used(slo.value, objective)
    text = f"{fmt_value(slo.value, slo.dimension)} vs {slo.objective}"
    return ratio, text + (" (off scale)" if ratio > BAR_CAP else "")


def slo_bars(report: Report) -> str | None:
    """Every SLO with a value on one scale: how much of its objective it used."""
    bars = [(slo, *h) for slo in report.slos if (h := _headroom(slo)) is not None]
    if not bars:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        ys = np.arange(len(bars))[::-1]
        ax.barh(
            ys,
            [min(ratio, BAR_CAP) for _, ratio, _ in bars],
            height=0.6,
            color=[VERDICT_COLOURS[slo.verdict] for slo, _, _ in bars],
        )
        for y, (_, ratio, text) in zip(ys, bars, strict=True):  # text clear of the line
            ax.text(max(min(ratio, BAR_CAP), 1.0) + 0.04, y, text, va="center", fontsize=8)
        ax.axvline(1.0, color="#222222", lw=1.2, ls="--")
        ax.set_yticks(ys, [f"{slo.name} ({slo.aggregation})" for slo, _, _ in bars])
        ax.set_xlim(0, BAR_CAP + 1.1)
        ax.set_xticks([0, 0.5, 1, 1.5, 2, 2.5, 3])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(
            "measured relative to objective (dashed line = objective; "
            "past it = missed; inverted for 'higher is better')"
        )

    return _render("slo-bars", 0.9 + 0.32 * len(bars), draw)


def _moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` points: per-second counts are noisy at low rates."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, values.size + 1), window)
    return (sums[1:] - sums[np.maximum(np.arange(1, values.size + 1) - window, 0)]) / counts


def throughput_over_time(report: Report) -> str | None:
    """Completed requests and errors per second, against the offered rate."""
    if not report.timeseries:
        return None
    x = _seconds(report, [p.t for p in report.timeseries])
    requests = np.array([p.requests for p in report.timeseries], dtype=float)
    errors = np.array([p.errors for p in report.timeseries], dtype=float)

    def draw(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        _time_axis(top, report)
        top.plot(x, requests, lw=0.7, color=P50, label="requests/s")
        top.plot(x, _moving_mean(requests, 10), lw=1.4, color=P95, label="10 s mean")
        if report.load.requested_rps is not None:
            top.axhline(
                report.load.requested_rps,
                color=OFFERED,
                ls="--",
                lw=1.1,
                label=f"requested {fmt_value(report.load.requested_rps, 'per_second')}",
            )
        top.set_title("Throughput")
        top.set_ylim(bottom=0)
        _format_y(top, "per_second")
        _legend(top)
        _time_axis(bottom, report)
        bottom.stairs(
            errors,
            np.append(x, x[-1] + 1),
            fill=True,  # one path, not 600 bars
            color=VERDICT_COLOURS["fail"],
            label="errors/s",
        )
        bottom.set_title("Errors")
        bottom.set_ylim(bottom=0, top=max(1.0, errors.max() * 1.15))
        _format_y(bottom, "per_second")
        _legend(bottom)
        bottom.set_xlabel("seconds since start")

    return _render("throughput", 3.8, draw, aligned=True)


def _server_panel(ax: Axes, report: Report, group: list[ServerSeries]) -> None:
    """One dashboard panel (or one SLI): every series of the group as a line."""
    first = group[0]
    ax.set_title(first.panel or first.title, fontsize=9)
    drawn = [s for s in group if s.points]
    if not drawn:
        ax.set_axis_off()
        note = first.note or "no data"
        ax.text(
            0.5,
            0.5,
            textwrap.fill(note, 48),
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#666666",
            style="italic",
        )
        return
    _time_axis(ax, report)
    lowest = 0.0
    for series in drawn:
        times, values = zip(*series.points, strict=True)
        ax.plot(_seconds(report, times), values, lw=1.1, label=series.legend or None)
        lowest = min(lowest, min(values))
    if lowest >= 0:
        ax.set_ylim(bottom=0)
    if len(drawn) > 1:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    _format_y(ax, first.unit)


def _grouped(series: list[ServerSeries]) -> list[list[ServerSeries]]:
    """Series of one panel together, in first-seen order; those with data first."""
    groups: dict[str, list[ServerSeries]] = {}
    for s in series:
        groups.setdefault(s.panel or s.name, []).append(s)
    return sorted(groups.values(), key=lambda g: not any(s.points for s in g))


def server_series(report: Report) -> str | None:
    """Prometheus series as small multiples on the client plots' time axis: the same panels
    as the Grafana dashboards, one plot per panel.

    Panels with data come first; those without (a note instead) fill the last places,
    and an x label goes on each plot with no plot below it.
    """
    if not report.server:
        return None
    ordered = _grouped(report.server)
    rows = (len(ordered) + 1) // 2

    def has_data(i: int) -> bool:
        return i < len(ordered) and any(s.points for s in ordered[i])

    def draw(fig: Figure) -> None:
        axes = fig.subplots(rows, 2, squeeze=False).ravel()
        for i, ax in enumerate(axes):
            if i >= len(ordered):
                ax.set_axis_off()
                continue
            _server_panel(ax, report, ordered[i])
            if has_data(i) and not has_data(i + 2):
                ax.set_xlabel("seconds since start")

    return _render("server", 0.4 + 1.9 * rows, draw)


def _key_latency(report: Report) -> str | None:
    """The SLO the sweep curve shows: the first one on a latency percentile."""
    names = [
        s.name
        for step in report.sweep
        for s in step.slos
        if s.dimension == "seconds" and s.aggregation in PERCENTILES
    ]
    return names[0] if names else None


def _sweep_panel(ax: Axes, report: Report, values: list[float | None], colours: list[str]) -> None:
    rates = [step.rate for step in report.sweep]
    ys = np.array([np.nan if v is None else v for v in values], dtype=float)
    ax.plot(rates, ys, color="#999999", lw=1, zorder=1)
    ax.scatter(rates, ys, c=colours, s=36, zorder=2)
    if max(rates) / min(rates) >= 8:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, "per_second")))
    if report.capacity_rps is not None:
        ax.axvline(
            report.capacity_rps,
            color=VERDICT_COLOURS["pass"],
            lw=1.3,
            label=f"capacity {fmt_value(report.capacity_rps, 'per_second')}",
        )
    ax.set_xlabel("offered rate")
    ax.set_ylim(bottom=0)


def sweep_curve(report: Report) -> str | None:
    """Achieved rate and the key latency SLO per offered rate, capacity marked."""
    if not report.sweep:
        return None
    key = _key_latency(report)
    colours = [VERDICT_COLOURS[step.verdict] for step in report.sweep]

    def draw(fig: Figure) -> None:
        axes = fig.subplots(1, 2 if key else 1, squeeze=False)[0]
        _sweep_panel(axes[0], report, [s.achieved_rps for s in report.sweep], colours)
        rates = [step.rate for step in report.sweep]
        axes[0].plot(rates, rates, ls=":", color=OFFERED, lw=1, label="achieved = offered")
        axes[0].set_title("Achieved rate")
        _format_y(axes[0], "per_second")
        axes[0].legend(loc="upper left")
        if key:
            _key_panel(axes[1], report, key, colours)

    return _render("sweep", 3.2, draw)


def _key_panel(ax: Axes, report: Report, key: str, colours: list[str]) -> None:
    slos = [next((s for s in step.slos if s.name == key), None) for step in report.sweep]
    _sweep_panel(ax, report, [s.value if s else None for s in slos], colours)
    first = next(s for s in slos if s)
    objective = objective_of(first.objective)
    if objective is not None:
        ax.axhline(
            objective.threshold,
            color=VERDICT_COLOURS["fail"],
            ls="--",
            lw=1.1,
            label=f"objective {first.objective}",
        )
    ax.set_title(f"{key}: {first.title} {first.aggregation}")
    _format_y(ax, "seconds")
    ax.legend(loc="upper left")


def _capped(value: float, objective: Objective) -> float:
    """`_used`, drawn at most at BAR_CAP."""
    return min(_used(value, objective), BAR_CAP)


def repeat_spread(report: Report) -> str | None:
    """Repeated runs: per SLO each run's value (dots), the interval (a bar) and the mean
    (a tick), on the objective-relative scale of `slo_bars`."""
    if report.repeats is None:
        return None
    rows = []
    for slo, spread in zip(report.slos, report.repeats.slos, strict=True):
        objective = objective_of(slo.objective)
        if objective is None or objective.threshold == 0 or spread.mean is None:
            continue
        ends = [_capped(v, objective) for v in (spread.low, spread.high, spread.mean)]
        rows.append((slo, [_capped(v, objective) for v in spread.values], *ends))
    if not rows:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        ys = np.arange(len(rows))[::-1]
        for y, (slo, values, low, high, mean) in zip(ys, rows, strict=True):
            colour = VERDICT_COLOURS[slo.verdict]
            ax.hlines(y, min(low, high), max(low, high), color=colour, lw=6, alpha=0.35)
            ax.plot(values, [y] * len(values), "o", color=colour, ms=4)
            ax.plot([mean], [y], "|", color="#222222", ms=14, mew=2)
        ax.axvline(1.0, color="#222222", lw=1.2, ls="--")
        ax.set_yticks(ys, [f"{slo.name} ({slo.aggregation})" for slo, *_ in rows])
        ax.set_xlim(0, BAR_CAP + 0.1)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(
            "relative to objective: dots = runs, bar = interval, tick = mean "
            "(dashed line = objective; past it = missed)"
        )

    return _render("repeats", 0.9 + 0.32 * len(rows), draw)


PLOTS: dict[str, tuple[str, Callable[[Report], str | None]]] = {
    "slo-bars": ("Objectives: measured relative to each objective", slo_bars),
    "latency": ("Latency over time", latency_over_time),
    "throughput": ("Throughput and errors over time", throughput_over_time),
    "server": ("Server-side metrics (Prometheus)", server_series),
    "sweep": ("Sweep: achieved rate and latency per offered rate", sweep_curve),
    "repeats": ("Repeated runs: each SLO's spread over the runs", repeat_spread),
}
