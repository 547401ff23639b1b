"""The report's "Slowest requests": the run's N slowest successful requests by TTFT and by
end-to-end latency, each with its span timeline read back from Jaeger by the trace id its
sample carries (the load sends a fresh `traceparent` per request), and its cause.

A request whose trace cannot be read says why, one line per request; no timeline is
made up for it.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pandas as pd

from slakit.report.model import SlowestRequests, SlowRequest
from slakit.traces.query import Span, TraceUnavailable, fetch_trace
from slakit.traces.timeline import Request, cause, timeline

SETTLE_S = 6.0
"""Seconds after the load's end before traces are read: spans wait in their services' batch
processors (the OpenTelemetry SDK's default delay is 5 s; the embedded stack's is 1 s)."""


def slowest_requests(
    samples: pd.DataFrame, jaeger_url: str | None, n: int, ended: float
) -> SlowestRequests:
    """The section for `samples` (the judged window's), traces read from `jaeger_url`."""
    ok = samples[samples["error"].isna() & (samples["trace_id"].fillna("") != "")]
    # float: a window of requests without a first token (es_search, es_bulk) holds only
    # None there, an object column nlargest refuses.
    by_ttft = ok[ok["ttft_s"].notna()].astype({"ttft_s": float}).nlargest(n, "ttft_s")
    by_latency = ok.nlargest(n, "latency_s")
    chosen = pd.concat([by_ttft, by_latency])
    traces, note = _read(chosen["trace_id"].unique().tolist(), jaeger_url, ended)
    starts, ends = samples["start"].to_numpy(), samples["end"].to_numpy()

    def explained(row, by: str) -> SlowRequest:
        request = Request(
            start=float(row.start),
            ttft_s=None if pd.isna(row.ttft_s) else float(row.ttft_s),
            latency_s=float(row.latency_s),
            tokens_in=None if pd.isna(row.tokens_in) else int(row.tokens_in),
            tokens_out=None if pd.isna(row.tokens_out) else int(row.tokens_out),
            in_flight=int(np.sum((starts < row.start) & (ends > row.start))),
        )
        spans = traces.get(row.trace_id)
        base = {
            "trace_id": row.trace_id,
            "kind": row.kind,
            "start": request.start,
            "ttft_s": request.ttft_s,
            "latency_s": request.latency_s,
        }
        if isinstance(spans, str):  # why it could not be read
            return SlowRequest(**base, cause=spans)
        return SlowRequest(
            **base, timeline=timeline(spans, request), cause=cause(spans, request, by)
        )

    return SlowestRequests(
        n=n,
        source=jaeger_url,
        by_ttft=[explained(row, "ttft") for row in by_ttft.itertuples()],
        by_latency=[explained(row, "latency") for row in by_latency.itertuples()],
        note=note,
    )


def _read(
    trace_ids: list[str], jaeger_url: str | None, ended: float
) -> tuple[dict[str, list[Span] | str], str]:
    """Each trace's spans, or the line saying why there are none; and a note for all."""
    if not trace_ids:
        return {}, ""
    if not jaeger_url:
        why = "no timeline: the target names no trace backend (`jaeger:`)"
        return dict.fromkeys(trace_ids, why), why
    # Never longer than SETTLE_S, should the wall clock have stepped back since `ended`.
    time.sleep(min(SETTLE_S, max(0.0, ended + SETTLE_S - time.time())))
    out: dict[str, list[Span] | str] = {}
    with httpx.Client() as client:
        for trace_id in trace_ids:
            try:
                spans = fetch_trace(client, jaeger_url, trace_id)
            except TraceUnavailable as exc:
                why = f"no timeline: {exc}"
                return {t: out.get(t, why) for t in trace_ids}, str(exc)
            out[trace_id] = spans if spans else f"no timeline: Jaeger holds no trace {trace_id}"
    return out, ""
