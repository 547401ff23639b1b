"""How long does judging a big run take? slakit's evaluation vs a plain numpy baseline.

A long or distributed run leaves millions of samples; re-gating it (`slakit check`) and
writing its report must stay quick. This builds 1,000,000 synthetic samples (the columns
of `slakit.load.samples.COLUMNS`, as `read_samples` would give them; 16 inter-token gaps
per streamed request, to keep the frame near 1 GB), a scenario with 8 client-side SLOs
of different SLIs, aggregations and scopes, and times `evaluate_slos` + `summarise_kinds`
+ `timeseries` against numpy computing the same figures (checked to agree).

    .venv/bin/python benchmarks/evaluation_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import time

import _common as c
import numpy as np
import pandas as pd

from slakit.evaluate import EvalWindow, evaluate_slos, summarise_kinds, timeseries
from slakit.load.samples import COLUMNS
from slakit.scenario import Scenario
from slakit.units import parse_objective

KINDS = ("chat", "rag", "es_search")
KIND_SHARE = (0.6, 0.3, 0.1)
STREAMED = ("chat", "rag")
ITL_PER_REQUEST = 16
RATE = 500.0  # req/s the synthetic run was offered: 1M samples = 2,000 s
WARMUP_S = 10.0
ERRORS = ("http_500", "timeout", "connection", "incomplete_stream")
PCTS = {"p50": 50, "p95": 95, "p99": 99}

SLOS = [
    {"name": "latency-p95", "sli": "latency", "aggregation": "p95", "objective": "< 2s"},
    {
        "name": "chat-ttft-p99",
        "sli": "ttft",
        "aggregation": "p99",
        "objective": "< 1s",
        "scope": "chat",
    },
    {"name": "itl-p99", "sli": "itl", "aggregation": "p99", "objective": "< 100ms"},
    {
        "name": "rag-tpot-p50",
        "sli": "tpot",
        "aggregation": "p50",
        "objective": "< 50ms",
        "scope": "rag",
    },
    {"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 2%"},
    {
        "name": "throughput",
        "sli": "throughput_rps",
        "aggregation": "rate",
        "objective": "> 400 rps",
    },
    {
        "name": "tokens",
        "sli": "output_tokens_per_s",
        "aggregation": "rate",
        "objective": "> 1 tok/s",
    },
    {"name": "goodput", "sli": "goodput", "aggregation": "ratio", "objective": ">= 95%"},
]


def scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "evaluation-speed",
            "workload": [
                {"kind": "chat", "output_tokens": 64},
                {"kind": "rag", "output_tokens": 64},
                {"kind": "es_search"},
            ],
            "load": {"rate": {"rps": RATE, "duration": "2000s"}},
            "warmup": f"{WARMUP_S:g}s",
            "slos": SLOS,
        }
    )


def samples(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` plausible samples of a steady open-loop run: ~1% errors, log-normal latencies,
    streamed kinds with TTFT, 64 output tokens and 16 inter-token gaps each."""
    rng = np.random.default_rng(seed)
    t0 = 1.7e9
    start = t0 + np.sort(rng.uniform(0, n / RATE, n))
    kind = rng.choice(np.array(KINDS, dtype=object), n, p=KIND_SHARE)
    streamed = kind != "es_search"
    ttft = np.where(streamed, rng.lognormal(np.log(0.08), 0.5, n), np.nan)
    tokens_out = np.where(streamed, 64.0, np.nan)
    itl = rng.lognormal(np.log(0.004), 0.4, (n, ITL_PER_REQUEST))
    decode = np.where(streamed, 63 * itl.mean(axis=1), 0.0)
    latency = np.where(streamed, ttft + decode, rng.lognormal(np.log(0.02), 0.6, n))
    failed = rng.random(n) < 0.01
    error = np.where(failed, rng.choice(np.array(ERRORS, dtype=object), n), None)
    itl_lists = itl.tolist()
    itl_s = [
        gaps if s and not f else [] for gaps, s, f in zip(itl_lists, streamed, failed, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "kind": kind,
            "start": start,
            "end": start + latency,
            "latency_s": latency,
            "status": np.where(failed, 500, 200),
            "error": error,
            "ttft_s": np.where(failed, np.nan, ttft),
            "itl_s": itl_s,
            "tokens_in": np.where(streamed, 64.0, np.nan),
            "tokens_out": np.where(failed, np.nan, tokens_out),
            "late_s": rng.exponential(0.002, n),
            "trace_id": [f"{x:032x}" for x in rng.integers(0, 2**63, n)],
        },
        columns=COLUMNS,
    )
    return frame


def slakit_eval(sc: Scenario, frame: pd.DataFrame, window: EvalWindow) -> dict:
    timings = {}
    t = time.perf_counter()
    slos = evaluate_slos(sc, frame, window, None)
    timings["evaluate_slos"] = time.perf_counter() - t
    t = time.perf_counter()
    kinds = summarise_kinds(frame, window)
    timings["summarise_kinds"] = time.perf_counter() - t
    t = time.perf_counter()
    points = timeseries(frame)
    timings["timeseries"] = time.perf_counter() - t
    return {"timings": timings, "slos": slos, "kinds": kinds, "points": points}


# --- the numpy baseline ----------------------------------------------------------------


class Columns:
    """The sample columns as numpy arrays, inter-token gaps flattened once with row ids."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.kind = frame["kind"].to_numpy()
        self.start = frame["start"].to_numpy(float)
        self.end = frame["end"].to_numpy(float)
        self.latency = frame["latency_s"].to_numpy(float)
        self.ttft = frame["ttft_s"].to_numpy(float)
        self.tokens = frame["tokens_out"].to_numpy(float)
        self.error = frame["error"].to_numpy()
        self.failed = pd.notna(self.error)
        lists = frame["itl_s"].to_numpy()
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        self.itl = np.fromiter(
            itertools.chain.from_iterable(lists), dtype=float, count=int(lengths.sum())
        )
        self.itl_row = np.repeat(np.arange(len(lists)), lengths)


def _q(values: np.ndarray, pct: float) -> float | None:
    return float(np.percentile(values, pct)) if len(values) else None


def _tpot(col: Columns, rows: np.ndarray) -> np.ndarray:
    ok = rows & ~col.failed & ~np.isnan(col.ttft) & (col.tokens > 1)
    return (col.latency[ok] - col.ttft[ok]) / (col.tokens[ok] - 1)


def _value(col: Columns, rows: np.ndarray, slo: dict, seconds: float, good: np.ndarray):
    ok = rows & ~col.failed
    sli, agg = slo["sli"], slo["aggregation"]
    if sli == "latency":
        return _q(col.latency[ok], PCTS[agg])
    if sli == "ttft":
        return _q(col.ttft[ok & ~np.isnan(col.ttft)], PCTS[agg])
    if sli == "itl":
        return _q(col.itl[ok[col.itl_row]], PCTS[agg])
    if sli == "tpot":
        return _q(_tpot(col, rows), PCTS[agg])
    total = int(rows.sum())
    if sli == "error_rate":
        return col.failed[rows].sum() / total if total else None
    if sli == "throughput_rps":
        return ok.sum() / seconds
    if sli == "output_tokens_per_s":
        return float(np.nansum(col.tokens[ok])) / seconds
    return good[rows].mean() if total else None


def _summary(col: Columns, rows: np.ndarray, seconds: float) -> dict:
    ok = rows & ~col.failed
    ttft = col.ttft[ok & ~np.isnan(col.ttft)]
    itl = col.itl[ok[col.itl_row]]
    errors, counts = np.unique(col.error[rows & col.failed].astype(str), return_counts=True)
    tokens = col.tokens[ok]
    tokens = tokens[~np.isnan(tokens)]
    return {
        "requests": int(rows.sum()),
        "errors": int((rows & col.failed).sum()),
        "error_rate": float(col.failed[rows].mean()) if rows.any() else 0.0,
        "throughput_rps": ok.sum() / seconds,
        "latency_p50": _q(col.latency[ok], 50),
        "latency_p95": _q(col.latency[ok], 95),
        "latency_p99": _q(col.latency[ok], 99),
        "ttft_p50": _q(ttft, 50),
        "ttft_p95": _q(ttft, 95),
        "ttft_p99": _q(ttft, 99),
        "tpot_p50": _q(_tpot(col, rows), 50),
        "itl_p50": _q(itl, 50),
        "itl_p99": _q(itl, 99),
        "output_tokens_per_s": float(tokens.sum()) / seconds if len(tokens) else None,
        "errors_by_class": dict(zip(errors.tolist(), counts.tolist(), strict=True)),
    }


def _grouped_quantile(group: np.ndarray, values: np.ndarray, q: float, groups: int):
    """Linear-interpolated quantile of `values` per group id (NaN for an empty group)."""
    keep = ~np.isnan(values)
    group, values = group[keep], values[keep]
    order = np.lexsort((values, group))
    group, values = group[order], values[order]
    counts = np.bincount(group, minlength=groups)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = q * np.maximum(counts - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(counts - 1, 0))
    safe = counts > 0
    out = np.full(groups, np.nan)
    a = values[(first + lo)[safe]]
    b = values[(first + hi)[safe]]
    out[safe] = a + (b - a) * (pos - lo)[safe]
    return out


def _series(col: Columns) -> dict:
    """Per-second (by completion) counts and percentiles, all seconds at once."""
    seconds = np.floor(col.end).astype(np.int64)
    labels, group = np.unique(seconds, return_inverse=True)
    n = len(labels)
    ok = ~col.failed
    nan = np.full(len(group), np.nan)
    latency_ok = np.where(ok, col.latency, nan)
    ttft_ok = np.where(ok, col.ttft, nan)
    return {
        "t": labels,
        "requests": np.bincount(group, minlength=n),
        "errors": np.bincount(group, weights=col.failed.astype(float), minlength=n),
        "latency_p50": _grouped_quantile(group, latency_ok, 0.50, n),
        "latency_p95": _grouped_quantile(group, latency_ok, 0.95, n),
        "ttft_p95": _grouped_quantile(group, ttft_ok, 0.95, n),
        "output_tokens": np.bincount(group, weights=np.nan_to_num(col.tokens * ok), minlength=n),
    }


def numpy_eval(sc: Scenario, frame: pd.DataFrame, window: EvalWindow) -> dict:
    timings = {}
    t = time.perf_counter()
    col = Columns(frame)
    timings["columns"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = (col.start >= window.start) & (col.start <= window.end)
    by_kind = {k: rows & (col.kind == k) for k in KINDS}
    good = ~col.failed
    for slo in sc.slos:
        if slo.sli in ("latency", "ttft", "tpot") and slo.scope is None:
            objective = parse_objective(slo.objective)
            values = {"latency": col.latency, "ttft": col.ttft}.get(slo.sli)
            if values is None:
                values = (col.latency - col.ttft) / np.where(col.tokens > 1, col.tokens - 1, np.nan)
            good &= np.isnan(values) | objective.holds(values)
    slos = {}
    for slo in SLOS:
        scoped = by_kind[slo["scope"]] if slo.get("scope") else rows
        value = _value(col, scoped, slo, window.seconds, good)
        per_kind = {}
        if not slo.get("scope"):
            per_kind = {k: _value(col, m, slo, window.seconds, good) for k, m in by_kind.items()}
        slos[slo["name"]] = (value, per_kind)
    timings["evaluate_slos"] = time.perf_counter() - t
    t = time.perf_counter()
    kinds = {"all": _summary(col, rows, window.seconds)}
    kinds |= {k: _summary(col, m, window.seconds) for k, m in by_kind.items()}
    timings["summarise_kinds"] = time.perf_counter() - t
    t = time.perf_counter()
    series = _series(col)
    timings["timeseries"] = time.perf_counter() - t
    return {"timings": timings, "slos": slos, "kinds": kinds, "series": series}


# --- agreement and output -------------------------------------------------------------


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))


def disagreements(ours: dict, base: dict) -> list[str]:
    """Every figure where slakit and the numpy baseline differ (should be none)."""
    wrong = []
    for r in ours["slos"]:
        value, per_kind = base["slos"][r.name]
        if not _close(r.value, value):
            wrong.append(f"slo {r.name}: {r.value} vs {value}")
        for k, v in r.per_kind.items():
            if not _close(v, per_kind.get(k)):
                wrong.append(f"slo {r.name}[{k}]: {v} vs {per_kind.get(k)}")
    for name, summary in ours["kinds"].items():
        for field, value in summary.model_dump().items():
            theirs = base["kinds"][name][field]
            same = value == theirs if isinstance(value, dict | int) else _close(value, theirs)
            if not same:
                wrong.append(f"kinds.{name}.{field}: {value} vs {theirs}")
    series = base["series"]
    if len(ours["points"]) != len(series["t"]):
        wrong.append(f"timeseries: {len(ours['points'])} vs {len(series['t'])} points")
    else:
        for field in ("requests", "errors", "latency_p50", "latency_p95", "ttft_p95"):
            mine = np.array([getattr(p, field) for p in ours["points"]], dtype=float)
            if not np.allclose(mine, series[field], rtol=1e-9, equal_nan=True):
                wrong.append(f"timeseries.{field} differs")
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 samples, not 1,000,000")
    parser.add_argument("--samples", type=int, help="how many samples [1,000,000]")
    args = parser.parse_args()
    n = args.samples or (200_000 if args.quick else 1_000_000)
    t = time.perf_counter()
    frame = samples(n)
    built = time.perf_counter() - t
    c.console.print(f"built {n:,} samples in {built:.1f} s")
    sc = scenario()
    first = float(frame["start"].iloc[0])
    window = EvalWindow(first + WARMUP_S, float(frame["end"].max()))

    load = c.wait_quiet("the evaluation")
    ours = slakit_eval(sc, frame, window)
    base = numpy_eval(sc, frame, window)
    wrong = disagreements(ours, base)

    rows = []
    for step in ("columns", "evaluate_slos", "summarise_kinds", "timeseries"):
        mine = ours["timings"].get(step)
        theirs = base["timings"].get(step)
        rows.append([step, c.fmt(theirs, ".2f"), c.fmt(mine, ".2f"), c.fmt(c.ratio(mine, theirs))])
    total_s, total_np = sum(ours["timings"].values()), sum(base["timings"].values())
    rows.append(["total", f"{total_np:.2f}", f"{total_s:.2f}", c.fmt(total_s / total_np)])
    c.print_table(
        f"Evaluation speed: {n:,} samples ({ITL_PER_REQUEST} gaps per streamed request), "
        f"{len(SLOS)} client-side SLOs, {len(KINDS)} kinds (load avg {load:.2f})",
        ["step", "numpy s", "slakit s", "slakit / numpy"],
        rows,
    )
    print("figures agree: yes" if not wrong else "figures DISAGREE:\n  " + "\n  ".join(wrong[:20]))
    c.readme_line(
        f"Evaluation speed ({n:,} samples, {ITL_PER_REQUEST} inter-token gaps per streamed "
        f"request, {len(SLOS)} SLOs, {len(KINDS)} kinds): slakit evaluate + summarise + "
        f"timeseries {total_s:.2f} s vs {total_np:.2f} s for a plain numpy baseline "
        f"({total_s / total_np:.0f}x)."
    )


if __name__ == "__main__":
    main()
