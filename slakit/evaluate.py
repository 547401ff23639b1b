"""Samples + server series -> SLI values -> verdicts, with pandas.

Every SLO is computed over the evaluation window (after warm-up), on its scope (one
request kind, or all), with the number of samples behind it. Too few samples is
`inconclusive`, never `pass`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from slakit.catalogue.thresholds import FROM_DUE_MATERIAL, LATE_S
from slakit.metrics import Window
from slakit.report.formatting import fmt_value
from slakit.report.model import KindSummary, Point, SloResult, Verdict
from slakit.scenario import Scenario, Slo, parse_relative
from slakit.sli import CATALOGUE, PERCENTILES, Sli
from slakit.units import parse_objective


@dataclass
class EvalWindow:
    start: float  # end of warm-up
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)


def in_window(samples: pd.DataFrame, window: EvalWindow) -> pd.DataFrame:
    return samples[(samples["start"] >= window.start) & (samples["start"] <= window.end)]


def scoped(frame: pd.DataFrame, slo: Slo) -> pd.DataFrame:
    """The requests an SLO is about: of its kind (`scope`), of its turns (`turn`: first
    turns include every request outside a conversation)."""
    if slo.scope is not None:
        frame = frame[frame["kind"] == slo.scope]
    if slo.turn is not None:
        later = frame["turn"].fillna(1).astype(int) > 1
        frame = frame[later if slo.turn == "later" else ~later]
    return frame


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["error"].isna()]


def per_request(frame: pd.DataFrame, sli: Sli) -> pd.Series:
    """The SLI's values over the successful requests in `frame` (per token for ITL)."""
    ok = _ok(frame)
    if sli.per_token:
        return pd.Series([g for gaps in ok["itl_s"] for g in gaps], dtype=float)
    if sli.per_request is None:
        raise ValueError(f"{sli.name} has no per-request values")
    return sli.per_request(ok).dropna()


def _reduce(values: pd.Series, aggregation: str) -> float | None:
    if values.empty:
        return None
    if aggregation in PERCENTILES:
        return float(values.quantile(PERCENTILES[aggregation]))
    return float(values.mean() if aggregation == "mean" else values.max())


def client_value(
    frame: pd.DataFrame, slo: Slo, all_slos: list[Slo], window: EvalWindow
) -> tuple[float | None, int]:
    """(value, samples behind it) of a client-side SLO over `frame`."""
    sli = CATALOGUE[slo.sli]
    if sli.per_request or sli.per_token:
        values = per_request(frame, sli)
        return _reduce(values, slo.aggregation), len(values)
    total = len(frame)
    if sli.name == "error_rate":
        return (frame["error"].notna().sum() / total if total else None), total
    if sli.name == "throughput_rps":
        return len(_ok(frame)) / window.seconds, total
    if sli.name == "output_tokens_per_s":
        return float(_ok(frame)["tokens_out"].fillna(0).sum()) / window.seconds, total
    if sli.name == "goodput":
        return (goodput_mask(frame, all_slos).mean() if total else None), total
    raise ValueError(f"no client-side computation for {sli.name}")


def goodput_mask(frame: pd.DataFrame, slos: list[Slo]) -> pd.Series:
    """True for each request that succeeded and met every per-request objective."""
    good = frame["error"].isna()
    for slo in slos:
        sli = CATALOGUE[slo.sli]
        if not sli.per_request or slo.scope is not None or slo.turn is not None:
            continue
        objective = parse_objective(slo.objective)
        values = sli.per_request(frame)
        good &= values.isna() | values.apply(objective.holds)
    return good


def judge(
    slo: Slo, value: float | None, samples: int, min_samples: int, note: str = ""
) -> tuple[Verdict, str]:
    sli = CATALOGUE[slo.sli]
    if value is None:
        return "inconclusive", note or "no samples in the evaluation window"
    shown = fmt_value(value, sli.dimension)
    if samples < min_samples:
        return (
            "inconclusive",
            f"{samples} samples, fewer than the {min_samples} required (measured {shown})",
        )
    objective = parse_objective(slo.objective)
    measured = f"{slo.aggregation} {shown}"
    if not objective.holds(value):
        return "fail", f"{measured} breaks objective {slo.objective}"
    if slo.warn and not parse_objective(slo.warn).holds(value):
        return "warn", f"{measured} meets {slo.objective} but not the warning level {slo.warn}"
    return "pass", f"{measured} meets {slo.objective}"


def evaluate_slos(
    scenario: Scenario, samples: pd.DataFrame, window: EvalWindow, prometheus: Window | None
) -> list[SloResult]:
    """Every SLO of the scenario, judged over the evaluation window."""
    frame = in_window(samples, window)
    results = []
    for slo in scenario.slos:
        sli = CATALOGUE[slo.sli]
        within = scoped(frame, slo)
        note = ""
        per_kind: dict[str, float | None] = {}
        if sli.side == "client":
            value, count = client_value(within, slo, scenario.slos, window)
            if slo.scope is None:
                for kind in scenario.kind_names():
                    per_kind[kind] = client_value(
                        within[within["kind"] == kind], slo, scenario.slos, window
                    )[0]
        elif prometheus is None:
            value, count, note = None, 0, "no Prometheus URL for this target"
        else:
            server = prometheus.evaluate(sli, slo.aggregation)
            value, count, note = server.value, server.samples, server.note
        verdict, detail = judge(slo, value, count, scenario.gate.min_samples, note)
        results.append(
            SloResult(
                name=slo.name,
                sli=slo.sli,
                title=sli.title,
                side=sli.side,
                aggregation=slo.aggregation,
                objective=slo.objective,
                warn=slo.warn,
                scope=slo.scope,
                turn=slo.turn,
                dimension=sli.dimension,
                value=value,
                samples=int(count),
                verdict=verdict,
                detail=detail,
                per_kind=per_kind,
            )
        )
    return results


def _pct(values: pd.Series, q: float) -> float | None:
    return float(values.quantile(q)) if len(values) else None


def _input_tokens(frame: pd.DataFrame) -> dict:
    """Requested vs counted prompt tokens (KindSummary's `tokens_in_*`): means over the
    successful requests with both counts, and how the prompts were sized."""
    sized_by = ", ".join(sorted(frame["tokens_in_sized_by"].dropna().unique()))
    summary = {"tokens_in_sized_by": sized_by or None}
    both = _ok(frame).dropna(subset=["tokens_in_requested", "tokens_in"])
    if both.empty:
        return summary
    requested = both["tokens_in_requested"].astype(float)
    actual = both["tokens_in"].astype(float)
    return {
        **summary,
        "tokens_in_requested_mean": float(requested.mean()),
        "tokens_in_actual_mean": float(actual.mean()),
        "tokens_in_mismatched": int((requested != actual).sum()),
    }


def summarise(frame: pd.DataFrame, window: EvalWindow) -> KindSummary:
    ok = _ok(frame)
    ttft = ok["ttft_s"].dropna().astype(float)
    itl = per_request(frame, CATALOGUE["itl"])
    tpot = per_request(frame, CATALOGUE["tpot"])
    tokens = ok["tokens_out"].dropna()
    return KindSummary(
        requests=len(frame),
        errors=int(frame["error"].notna().sum()),
        error_rate=float(frame["error"].notna().mean()) if len(frame) else 0.0,
        throughput_rps=len(ok) / window.seconds,
        latency_p50=_pct(ok["latency_s"], 0.5),
        latency_p95=_pct(ok["latency_s"], 0.95),
        latency_p99=_pct(ok["latency_s"], 0.99),
        ttft_p50=_pct(ttft, 0.5),
        ttft_p95=_pct(ttft, 0.95),
        ttft_p99=_pct(ttft, 0.99),
        tpot_p50=_pct(tpot, 0.5),
        itl_p50=_pct(itl, 0.5),
        itl_p99=_pct(itl, 0.99),
        output_tokens_per_s=float(tokens.sum()) / window.seconds if len(tokens) else None,
        ttft_from_due_p99=_pct(per_request(frame, CATALOGUE["ttft_from_due"]), 0.99),
        latency_from_due_p99=_pct(per_request(frame, CATALOGUE["latency_from_due"]), 0.99),
        errors_by_class={str(k): int(v) for k, v in frame["error"].value_counts().items()},
        **_input_tokens(frame),
    )


def from_due_differs(summary: KindSummary) -> list[str]:
    """The SLIs (ttft, latency) whose p99 timed from the due time is materially above the
    client's own (FROM_DUE_MATERIAL larger, and by more than LATE_S)."""
    differs = []
    for sli in ("ttft", "latency"):
        sent, due = getattr(summary, f"{sli}_p99"), getattr(summary, f"{sli}_from_due_p99")
        if None not in (sent, due) and due > sent * (1 + FROM_DUE_MATERIAL) and due - sent > LATE_S:
            differs.append(sli)
    return differs


def summarise_kinds(samples: pd.DataFrame, window: EvalWindow) -> dict[str, KindSummary]:
    frame = in_window(samples, window)
    kinds = {"all": summarise(frame, window)}
    for kind, group in frame.groupby("kind"):
        kinds[str(kind)] = summarise(group, window)
    return kinds


def timeseries(samples: pd.DataFrame) -> list[Point]:
    """Per-second client series (by completion time), warm-up included for the plots."""
    if samples.empty:
        return []
    frame = samples.assign(second=np.floor(samples["end"]).astype(int))
    points = []
    for second, group in frame.groupby("second"):
        ok = _ok(group)
        points.append(
            Point(
                t=float(second),
                requests=len(group),
                errors=int(group["error"].notna().sum()),
                latency_p50=_pct(ok["latency_s"], 0.5),
                latency_p95=_pct(ok["latency_s"], 0.95),
                ttft_p95=_pct(ok["ttft_s"].dropna(), 0.95),
                output_tokens=int(ok["tokens_out"].fillna(0).sum()),
            )
        )
    return points


def exact(value: float) -> Decimal:
    """`value` as the decimal its shortest repr writes, so relative changes compare as
    exactly as objectives do: 1.0 -> 1.1 is +10%, not +10.000000000000009%."""
    return Decimal(repr(value))


def compare_baseline(
    results: list[SloResult], baseline: list[SloResult], slos: list[Slo]
) -> list[SloResult]:
    """Attach baseline values and relative change (+ is worse); fail relative objectives
    (`baseline: within 10%`) that regressed more than allowed."""
    by_name = {r.name: r for r in baseline}
    relative = {s.name: s.baseline for s in slos}
    out = []
    for result in results:
        old = by_name.get(result.name)
        if old is None or old.value is None or result.value is None or old.value == 0:
            out.append(result)
            continue
        higher_better = parse_objective(result.objective).higher_is_better
        change = (exact(result.value) - exact(old.value)) / abs(exact(old.value))
        regression = -change if higher_better else change
        update = {"baseline_value": old.value, "regression": float(regression)}
        allowed = relative.get(result.name)
        if (
            allowed
            and regression > exact(parse_relative(allowed))
            and result.verdict != "inconclusive"
        ):
            update |= {
                "verdict": "fail",
                "detail": f"{result.detail}; {float(regression):+.1%} vs "
                f"baseline {fmt_value(old.value, result.dimension)} (allowed {allowed})",
            }
        out.append(result.model_copy(update=update))
    return out
