"""Each client sample matched to its request on the wire, and the client's measurement
error per SLI: client minus wire.

The error is positive when the client saw a moment later than the bytes crossed the
interface: a late send, a slow read loop, a core busy with something else. The SLIs are
computed on both sides by the same definitions (`slakit.sli`), over the requests that
succeeded for the client and were matched on the wire.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import pandas as pd

from slakit.load.samples import COLUMNS
from slakit.report.model import ErrorStats, MeasurementError
from slakit.sli import CATALOGUE
from slakit.wire.http import Exchange

SLIS = ("ttft", "itl", "tpot", "latency")
"""Compared request by request, but inter-token latency gap by gap."""
ITL = "itl"


def error_stats(values: Iterable[float]) -> ErrorStats:
    """The signed errors' spread, and the p99 of their size that the gate bounds."""
    series = pd.Series(list(values), dtype=float).dropna()
    if series.empty:
        return ErrorStats()
    return ErrorStats(
        count=len(series),
        p50_s=float(series.quantile(0.50)),
        p99_s=float(series.quantile(0.99)),
        max_s=float(series.max()),
        min_s=float(series.min()),
        abs_p99_s=float(series.abs().quantile(0.99)),
    )


@dataclass
class WireCheck:
    error: MeasurementError
    wire: pd.DataFrame
    """The samples with wire times where matched (`wire_matched`; `send_delay_s`): judge
    the scenario's SLOs on it to see whether a verdict would change on wire times."""


def arbitrate(
    samples: pd.DataFrame | list[dict],
    exchanges: list[Exchange],
    matched_by: Literal["trace", "order"] = "trace",
) -> WireCheck:
    """Match `samples` (slakit's samples, or any client's per-request results in their
    columns: `start` epoch seconds, `ttft_s`, `itl_s`, `latency_s`, `tokens_out`,
    `error`) to `exchanges` and measure the client against the wire.

    `matched_by="trace"`: by the trace id of the request's traceparent; a trace seen on
    the wire more than once (a proxy forwarding it to another captured port) is matched
    to its first request, the client's own. `"order"`, for clients that send no
    traceparent: the i-th result by `start` (or as listed, without starts) is the i-th
    exchange by first byte; pass only the exchanges that client made.
    """
    frame = samples if isinstance(samples, pd.DataFrame) else pd.DataFrame(samples)
    frame = frame.reindex(columns=list(dict.fromkeys([*COLUMNS, *frame.columns])))
    if matched_by == "trace":
        pairs, relays = _by_trace(frame, exchanges)
    else:
        pairs, relays = _by_order(frame, exchanges), []
    accounted = {id(e) for _, e in pairs} | {id(e) for e in relays}
    unmatched = [e for e in exchanges if id(e) not in accounted]
    wire = _wire_frame(frame, pairs)
    both = wire["wire_matched"] & frame["error"].isna()
    client, onwire = frame[both], wire[both]
    gaps, mismatched = _itl_errors(client["itl_s"], onwire["itl_s"])
    errors = {
        name: error_stats(gaps if name == ITL else _difference(name, client, onwire))
        for name in SLIS
    }
    error = MeasurementError(
        matched_by=matched_by,
        matched=len(pairs),
        unmatched_samples=len(frame) - len(pairs),
        unmatched_wire=len(unmatched),
        unmatched_wire_by_path=dict(Counter(f"{e.method} {_path(e)}" for e in unmatched)),
        relayed=len(relays),
        itl_mismatched=mismatched,
        errors=errors,
        send_delay=error_stats(wire["send_delay_s"]),
    )
    return WireCheck(error, wire)


def _by_trace(frame: pd.DataFrame, exchanges: list[Exchange]) -> tuple[list, list[Exchange]]:
    """(sample label, exchange) pairs by trace id, and the exchanges that were relays."""
    first: dict[str, Exchange] = {}
    relays = []
    for exchange in sorted(exchanges, key=lambda e: e.sent_first):
        trace = exchange.trace_id
        if trace in first:
            relays.append(exchange)
        elif trace:
            first[trace] = exchange
    rows = {trace: label for label, trace in frame["trace_id"].items() if isinstance(trace, str)}
    return [(rows[trace], ex) for trace, ex in first.items() if trace in rows], relays


def _path(exchange: Exchange) -> str:
    """The request's path without its query, which may vary per request."""
    return exchange.path.split("?", 1)[0]


def _by_order(frame: pd.DataFrame, exchanges: list[Exchange]) -> list:
    rows = frame.sort_values("start", kind="stable").index
    if len(rows) != len(exchanges):
        raise ValueError(
            f"matching by order needs one exchange per result: {len(rows)} results, "
            f"{len(exchanges)} exchanges"
        )
    return list(zip(rows, sorted(exchanges, key=lambda e: e.sent_first), strict=True))


def _wire_frame(frame: pd.DataFrame, pairs: list) -> pd.DataFrame:
    wire = frame.copy()
    wire["wire_matched"] = False
    wire["send_delay_s"] = math.nan
    itl = dict(wire["itl_s"].items())
    for label, exchange in pairs:
        times = exchange.token_times
        end = exchange.received_last if exchange.received_last is not None else math.nan
        wire.loc[label, ["start", "end", "latency_s", "ttft_s", "wire_matched"]] = [
            exchange.sent_first,
            end,
            end - exchange.sent_first,
            times[0] - exchange.sent_first if times else math.nan,
            True,
        ]
        wire.loc[label, "send_delay_s"] = exchange.sent_first - frame.at[label, "start"]
        itl[label] = [later - earlier for earlier, later in pairwise(times)]
    wire["itl_s"] = pd.Series(itl)
    return wire


def _difference(name: str, client: pd.DataFrame, onwire: pd.DataFrame) -> pd.Series:
    per_request = CATALOGUE[name].per_request
    return per_request(client) - per_request(onwire)


def _itl_errors(client: pd.Series, onwire: pd.Series) -> tuple[list[float], int]:
    """Gap-by-gap differences where both saw the same number of tokens, and the number
    of requests where they did not."""
    differences: list[float] = []
    mismatched = 0
    for label, gaps in client.items():
        wire_gaps = onwire[label]
        if len(gaps) != len(wire_gaps):
            mismatched += 1
            continue
        differences += [c - w for c, w in zip(gaps, wire_gaps, strict=True)]
    return differences, mismatched
