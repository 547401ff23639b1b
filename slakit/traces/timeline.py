"""A request's span timeline and the one line that says what took its time.

Spans come from the gateway (its server span, `retrieve`, the engine call with its
`first_token` event) and from vLLM (`llm_request`, whose queue, prefill and decode times
are attributes of one span that starts when the request reached the engine). Every phase
is placed in milliseconds from when the client sent the request, so the client's own
TTFT and latency read on the same axis. All clocks are this machine's wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from slakit.gateway.tracing import EVENT_FIRST_TOKEN
from slakit.gateway.tracing import SERVICE as GATEWAY_SERVICE
from slakit.report.model import Phase
from slakit.traces.query import Span

ENGINE_SPAN = "llm_request"
"""vLLM's per-request span (`vllm.v1.engine.output_processor`)."""
# vLLM's attribute names (`vllm.tracing.SpanAttributes`), in seconds.
ATTR_QUEUE = "gen_ai.latency.time_in_queue"
ATTR_PREFILL = "gen_ai.latency.time_in_model_prefill"
ATTR_DECODE = "gen_ai.latency.time_in_model_decode"
ATTR_TTFT = "gen_ai.latency.time_to_first_token"
SERVER_KIND = 2  # OTLP SpanKind SERVER
RETRIEVE_SPAN = "retrieve"
ENGINE_CALL_SPAN = "generate"


@dataclass
class Request:
    """What the client measured of the request (its sample), and its neighbours."""

    start: float  # epoch seconds
    ttft_s: float | None
    latency_s: float
    tokens_in: int | None
    tokens_out: int | None
    in_flight: int  # other requests of the run in flight when it was sent


@dataclass
class Spans:
    """The spans of one trace that a timeline is made of; None where the trace has none."""

    gateway: Span | None
    retrieve: Span | None
    call: Span | None  # the gateway's engine call: its own server span for chat/completions
    engine: Span | None  # vLLM's

    @classmethod
    def of(cls, spans: list[Span]) -> Spans:
        ours = [s for s in spans if s.service == GATEWAY_SERVICE]
        return cls(
            gateway=next((s for s in ours if s.kind == SERVER_KIND), None),
            retrieve=next((s for s in ours if s.name == RETRIEVE_SPAN), None),
            call=next((s for s in ours if s.name == ENGINE_CALL_SPAN), None),
            engine=next((s for s in spans if s.name == ENGINE_SPAN), None),
        )


def _label(span: Span) -> str:
    return f"{span.service}: {span.name}"


def _seconds(span: Span, key: str) -> float | None:
    value = span.attributes.get(key)
    return float(value) if isinstance(value, int | float) else None


def timeline(spans: list[Span], request: Request) -> list[Phase]:
    """The request's phases in start order, from whatever spans its trace holds."""
    sent_ns = round(request.start * 1e9)

    def at(ns: int) -> float:
        return round((ns - sent_ns) / 1e6, 3)

    def phase(name: str, span: Span, start_ns: int, end_ns: int) -> Phase:
        return Phase(
            name=name,
            span=_label(span),
            start_ms=at(start_ns),
            duration_ms=round(max(end_ns - start_ns, 0) / 1e6, 3),
        )

    found = Spans.of(spans)
    phases: list[Phase] = []
    if found.gateway:
        phases.append(phase("gateway", found.gateway, found.gateway.start_ns, found.gateway.end_ns))
    if found.retrieve:
        r = found.retrieve
        phases.append(phase("retrieve", r, r.start_ns, r.end_ns))
    call, engine = found.call, found.engine
    if call and call is not found.gateway:
        phases.append(phase("engine call", call, call.start_ns, call.end_ns))
    first_ns = call.events.get(EVENT_FIRST_TOKEN) if call else None
    if call and first_ns is not None:
        phases.append(phase("first token", call, first_ns, first_ns))
    if engine:
        phases += _engine_phases(engine, phase)
    elif call and first_ns is not None:  # no engine span: decode as the gateway saw it
        phases.append(phase("decode", call, first_ns, call.end_ns))
    return sorted(phases, key=lambda p: p.start_ms)  # stable: an instant before its sequel


def _engine_phases(engine: Span, phase) -> list[Phase]:
    """Queue, prefill and decode from vLLM's durations: its span starts at the request's
    arrival, its front end (tokenising, the hand-over to the engine core) comes first, so
    the queue begins where TTFT minus queue and prefill has passed."""
    queue, prefill = _seconds(engine, ATTR_QUEUE), _seconds(engine, ATTR_PREFILL)
    decode, ttft = _seconds(engine, ATTR_DECODE), _seconds(engine, ATTR_TTFT)
    if None in (queue, prefill, decode, ttft):
        return [phase("engine", engine, engine.start_ns, engine.end_ns)]
    front = max(ttft - queue - prefill, 0.0)
    begin = engine.start_ns + round(front * 1e9)
    queued_end = begin + round(queue * 1e9)
    first = queued_end + round(prefill * 1e9)
    return [
        phase("engine front end", engine, engine.start_ns, begin),
        phase("engine queue", engine, begin, queued_end),
        phase("prefill", engine, queued_end, first),
        phase("decode", engine, first, first + round(decode * 1e9)),
    ]


def cause(spans: list[Span], request: Request, by: str) -> str:
    """One line: the largest share of the request's TTFT (`by="ttft"`) or latency, said
    in the terms of the stage it went to."""
    found = Spans.of(spans)
    total_s = request.ttft_s if by == "ttft" else request.latency_s
    if total_s is None or total_s <= 0:
        return "no time to explain"
    shares = _shares(found, request, by)
    if not shares:
        return "the trace holds none of the gateway's or the engine's spans"
    what, seconds = max(shares.items(), key=lambda kv: kv[1])
    metric = "TTFT" if by == "ttft" else "latency"
    return (
        f"{_words(what, seconds, request)}: "
        f"{seconds / total_s:.0%} of its {total_s * 1000:.0f} ms {metric}"
    )


def _shares(found: Spans, request: Request, by: str) -> dict[str, float]:
    """Seconds of the request spent in each stage up to its first token (`ttft`) or end."""
    out: dict[str, float] = {}
    gw, call, engine = found.gateway, found.call, found.engine
    sent_ns = round(request.start * 1e9)
    if gw:
        out["before gateway"] = max(gw.start_ns - sent_ns, 0) / 1e9
    if found.retrieve:
        out["retrieve"] = found.retrieve.duration_ns / 1e9
    if gw and call and call is not gw:
        spent = call.start_ns - gw.start_ns - (found.retrieve.duration_ns if found.retrieve else 0)
        out["gateway"] = max(spent, 0) / 1e9
    first_ns = call.events.get(EVENT_FIRST_TOKEN) if call else None
    queue = _seconds(engine, ATTR_QUEUE) if engine else None
    prefill = _seconds(engine, ATTR_PREFILL) if engine else None
    ttft = _seconds(engine, ATTR_TTFT) if engine else None
    if queue is not None and prefill is not None and ttft is not None:
        out["engine queue"] = queue
        out["prefill"] = prefill
        out["engine front end"] = max(ttft - queue - prefill, 0.0)
    elif call and first_ns is not None:
        out["engine"] = max(first_ns - call.start_ns, 0) / 1e9
    if by == "ttft":
        if first_ns is not None and request.ttft_s is not None:
            out["to client"] = max(request.ttft_s - (first_ns - sent_ns) / 1e9, 0.0)
        return out
    if call and first_ns is not None:
        decode = _seconds(engine, ATTR_DECODE) if engine else None
        out["decode"] = decode if decode is not None else max(call.end_ns - first_ns, 0) / 1e9
    if gw:
        out["to client"] = max(request.start + request.latency_s - gw.end_ns / 1e9, 0.0)
    return out


def _words(what: str, seconds: float, request: Request) -> str:
    ms = f"{seconds * 1000:.0f} ms"
    others = request.in_flight
    if what == "engine queue":
        return f"queued {ms} in the engine with {others} other requests in flight"
    if what == "prefill":
        tokens = f"{request.tokens_in} prompt tokens" if request.tokens_in else "its prompt"
        return f"prefill {ms} for {tokens} with {others} other requests in flight"
    if what == "decode":
        if request.tokens_out:
            each = seconds * 1000 / request.tokens_out
            return f"decode {ms} for {request.tokens_out} tokens ({each:.1f} ms per token)"
        return f"decode {ms}"
    if what == "retrieve":
        return f"retrieval {ms} in Elasticsearch"
    if what == "engine front end":
        return f"{ms} in vLLM's front end before its queue (tokenising, hand-over)"
    if what == "engine":
        return f"{ms} in the engine before its first token (no engine span to split it)"
    if what == "gateway":
        return f"{ms} in the gateway before its engine call"
    if what == "to client":
        return f"{ms} between the gateway and the client (relay, client)"
    return f"{ms} before the gateway's span began (client, connection, accept)"
