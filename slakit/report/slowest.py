"""The "Slowest requests" section as both renderers lay it out: per ranking (by TTFT, by
latency) one entry per request with its cause, its timeline as text (Markdown) and as
lanes on a shared time axis (HTML, positioned in percent of the request's span)."""

from __future__ import annotations

from dataclasses import dataclass, field

from slakit.report.formatting import MISSING, fmt_value
from slakit.report.model import Phase, Report, SlowRequest

CLIENT_LANE = "client"
"""The first lane: the request as its client saw it (from its sample), TTFT marked."""
RANKINGS = (("ttft", "By time to first token"), ("latency", "By end-to-end latency"))


def _ms(value_ms: float) -> str:
    return fmt_value(value_ms / 1000, "seconds")


@dataclass
class Lane:
    name: str
    span: str  # the span it was read from
    left: float  # percent of the axis
    width: float  # percent; 0 for an instant
    text: str  # "at 12 ms for 412 ms"
    mark: float | None = None  # percent: an instant within the lane (the client's TTFT)


@dataclass
class Entry:
    rank: int
    trace_id: str
    kind: str
    ttft: str
    latency: str
    cause: str
    timeline_text: str  # one line, for Markdown
    lanes: list[Lane] = field(default_factory=list)  # empty: no timeline
    axis: str = ""  # what 100% of a lane is


def timeline_text(phases: list[Phase]) -> str:
    """`gateway 1.2 ms +650 ms · retrieve ... · first token at 640 ms`: start, duration."""
    parts = []
    for p in phases:
        if p.duration_ms:
            parts.append(f"{p.name} at {_ms(p.start_ms)} for {_ms(p.duration_ms)}")
        else:
            parts.append(f"{p.name} at {_ms(p.start_ms)}")
    return " · ".join(parts)


def _lanes(request: SlowRequest) -> tuple[list[Lane], str]:
    if not request.timeline:
        return [], ""
    latency_ms = request.latency_s * 1000
    end = max([latency_ms, *(p.start_ms + p.duration_ms for p in request.timeline)])
    start = min(0.0, *(p.start_ms for p in request.timeline))
    scale = 100 / max(end - start, 1e-9)
    client = Lane(CLIENT_LANE, "the load's sample", -start * scale, latency_ms * scale, "")
    client.text = f"for {_ms(latency_ms)}"
    if request.ttft_s is not None:
        client.mark = (request.ttft_s * 1000 - start) * scale
        client.text += f", first token at {_ms(request.ttft_s * 1000)}"
    lanes = [client]
    for p in request.timeline:
        text = f"at {_ms(p.start_ms)}" + (f" for {_ms(p.duration_ms)}" if p.duration_ms else "")
        lanes.append(
            Lane(p.name, p.span, (p.start_ms - start) * scale, p.duration_ms * scale, text)
        )
    return lanes, f"0 to {_ms(end)} after the client sent it"


def entries(requests: list[SlowRequest]) -> list[Entry]:
    out = []
    for rank, r in enumerate(requests, 1):
        lanes, axis = _lanes(r)
        out.append(
            Entry(
                rank=rank,
                trace_id=r.trace_id,
                kind=r.kind,
                ttft=fmt_value(r.ttft_s, "seconds") if r.ttft_s is not None else MISSING,
                latency=fmt_value(r.latency_s, "seconds"),
                cause=r.cause,
                timeline_text=timeline_text(r.timeline),
                lanes=lanes,
                axis=axis,
            )
        )
    return out


def sections(report: Report) -> list[tuple[str, list[Entry]]]:
    """(heading, entries) per ranking that has requests."""
    s = report.slowest
    if s is None:
        return []
    found = {"ttft": s.by_ttft, "latency": s.by_latency}
    return [(title, entries(found[key])) for key, title in RANKINGS if found[key]]


def intro(report: Report) -> str:
    """The line above the rankings: how many, from where, and any note for all."""
    s = report.slowest
    if s is None:
        return ""
    where = f"from Jaeger at {s.source}" if s.source else "with no trace backend"
    text = (
        f"The {s.n} slowest successful requests of the judged window by each measure, "
        f"their spans read {where} by the trace id each request carried"
    )
    return f"{text}. {s.note}" if s.note else f"{text}."
