""" "What limited it": find the server-side signal that moved with an SLO violation.

Rules a person would check first (waiting requests rising, KV cache full, one gateway
stage dominating, errors by class, a generator that could not keep its rate), then the
server series whose shape follows the client's p95 latency most closely. Findings are
values (`slakit.report.model.Finding`); `slakit.report.findings` words them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slakit.catalogue.thresholds import KV_CACHE_FULL, LATE_S
from slakit.report.model import (
    Correlated,
    Finding,
    KindSummary,
    KvCacheFull,
    LoadInfo,
    Point,
    QueueRising,
    RateNotKept,
    RequestsFailed,
    RetrieveDominates,
    ServerSeries,
    SloResult,
)


def _values(series: list[ServerSeries], name: str) -> list[float]:
    for s in series:
        if s.name == name:
            return [v for _, v in s.points]
    return []


def _rising(values: list[float]) -> tuple[float, float] | None:
    if len(values) < 3:
        return None
    third = max(1, len(values) // 3)
    first, last = float(np.mean(values[:third])), float(np.mean(values[-third:]))
    return (first, last) if last > first + 0.5 else None


def explain(
    slos: list[SloResult],
    kinds: dict[str, KindSummary],
    load: LoadInfo,
    series: list[ServerSeries],
    points: list[Point],
) -> list[Finding]:
    """What moved with the violation, as values (the renderers word them); empty when
    nothing failed or warned."""
    if not any(r.verdict in ("fail", "warn") for r in slos):
        return []
    found: list[Finding] = []
    if waiting := _rising(_values(series, "vllm_queue_length")):
        found.append(QueueRising(first=waiting[0], last=waiting[1]))
    kv = _values(series, "vllm_kv_cache_usage")
    if kv and max(kv) >= KV_CACHE_FULL:
        found.append(KvCacheFull(peak=max(kv), threshold=KV_CACHE_FULL))
    retrieve = _values(series, "gateway_retrieve_latency")
    generate = _values(series, "gateway_generate_latency")
    if retrieve and generate and np.mean(retrieve) > np.mean(generate):
        found.append(
            RetrieveDominates(
                retrieve_s=float(np.mean(retrieve)), generate_s=float(np.mean(generate))
            )
        )
    errors = kinds["all"].errors_by_class if "all" in kinds else {}
    if errors:
        found.append(RequestsFailed(by_class=errors))
    if not load.kept_up:
        found.append(
            RateNotKept(
                requested_rps=load.requested_rps or 0.0,
                late_share=load.late_share,
                late_after_s=LATE_S if load.late_after_s is None else load.late_after_s,
                never_sent=load.never_sent,
                offered=load.offered,
            )
        )
    if best := _correlated(series, points):
        found.append(best)
    return found


def _correlated(series: list[ServerSeries], points: list[Point]) -> Correlated | None:
    """The server series most correlated (r >= 0.6) with the client's p95 latency."""
    client = {int(p.t): p.latency_p95 for p in points if p.latency_p95 is not None}
    if len(client) < 5:
        return None
    best = None
    for s in series:
        if len(s.points) < 5:
            continue
        pairs = [(v, _nearest(client, t)) for t, v in s.points]
        pairs = [(a, b) for a, b in pairs if b is not None]
        if len(pairs) < 5:
            continue
        a, b = np.array(pairs).T
        if a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r >= 0.6 and (best is None or r > best[0]):
            best = (r, s.title)
    return Correlated(series=best[1], r=best[0]) if best else None


def _nearest(client: dict[int, float], t: float) -> float | None:
    window = [client[s] for s in range(int(t) - 2, int(t) + 3) if s in client]
    return float(np.mean(window)) if window else None


def why_late(frame: pd.DataFrame, slots: int, late_s: float) -> str:
    """Whether late requests waited for a free in-flight slot (the target was too slow) or
    for the generator itself (slots were free: its process did not get to send in time)."""
    at = frame.loc[frame["late_s"] > late_s, "start"].to_numpy()
    starts, ends = np.sort(frame["start"].to_numpy()), np.sort(frame["end"].to_numpy())
    # In flight as each late request went out, itself included (the one whose end freed
    # its slot has ended by then). No late requests, only unsent ones: slots were full.
    busy = np.searchsorted(starts, at, "left") - np.searchsorted(ends, at, "right") + 1
    peak = int(busy.max()) if len(at) else slots
    if peak >= slots:
        return f"because all {slots} in-flight slots were busy: the target could not keep up"
    return (
        f"while at most {peak} of {slots} in-flight slots were in use: the load "
        "generator itself fell behind (its process did not get the CPU in time; check "
        "what else runs on its machine)"
    )
