"""A request's timeline and cause from its spans: placed on the client's axis, the largest
stage named in its own terms. Spans are built here as Jaeger returns them (parsed by
`parse_trace`); tests/integration/test_slowest_requests.py reads real ones."""

from __future__ import annotations

from slakit.gateway.tracing import EVENT_FIRST_TOKEN, SERVICE
from slakit.traces.query import Span, parse_trace
from slakit.traces.timeline import (
    ATTR_DECODE,
    ATTR_PREFILL,
    ATTR_QUEUE,
    ATTR_TTFT,
    Request,
    cause,
    timeline,
)

SENT = 1_767_268_800.0
MS = 1_000_000  # ns


def at(ms: float) -> int:
    return round(SENT * 1e9) + round(ms * MS)


def rag_spans(queue_s: float, retrieve_ms: float, engine: bool = True) -> list[Span]:
    """A RAG request sent at 0: gateway from 1 ms, retrieve, the engine call after it,
    vLLM's span 1 ms into the call (front end 2 ms, then queue, prefill 30 ms, decode)."""
    call_start = 2 + retrieve_ms
    arrival = call_start + 1
    first = arrival + 2 + queue_s * 1000 + 30
    end = first + 100
    spans = [
        Span(SERVICE, "rag.query", "a", "", 2, at(1), at(end + 1)),
        Span(SERVICE, "retrieve", "b", "a", 1, at(1.5), at(1.5 + retrieve_ms)),
        Span(
            SERVICE, "generate", "c", "a", 1, at(call_start), at(end + 0.5),
            events={EVENT_FIRST_TOKEN: at(first + 0.3)},
        ),
    ]  # fmt: skip
    if engine:
        attributes = {
            ATTR_QUEUE: queue_s,
            ATTR_PREFILL: 0.030,
            ATTR_DECODE: 0.100,
            ATTR_TTFT: 0.002 + queue_s + 0.030,
        }
        spans.append(Span("vllm", "llm_request", "d", "c", 2, at(arrival), at(end), attributes))
    return spans


def request(ttft_ms: float, latency_ms: float, in_flight: int = 7) -> Request:
    return Request(SENT, ttft_ms / 1000, latency_ms / 1000, 120, 20, in_flight)


def test_engine_phases_are_placed_from_vllms_durations():
    spans = rag_spans(queue_s=0.412, retrieve_ms=10)
    phases = {p.name: p for p in timeline(spans, request(460, 560))}
    assert list(phases) == [
        "gateway", "retrieve", "engine call", "engine front end", "engine queue", "prefill",
        "decode", "first token",
    ]  # fmt: skip
    # vLLM's span starts at arrival (13 ms); its front end is TTFT - queue - prefill = 2 ms.
    assert phases["engine front end"].start_ms == 13 and phases["engine front end"].duration_ms == 2
    assert phases["engine queue"].start_ms == 15 and phases["engine queue"].duration_ms == 412
    assert phases["prefill"].start_ms == 427 and phases["prefill"].duration_ms == 30
    assert phases["decode"].start_ms == 457 and phases["decode"].duration_ms == 100
    assert phases["first token"].start_ms == 457.3 and phases["first token"].duration_ms == 0
    assert phases["engine queue"].span == "vllm: llm_request"


def test_a_queued_request_is_said_to_be_queued_behind_the_others():
    spans = rag_spans(queue_s=0.412, retrieve_ms=10)
    assert cause(spans, request(460, 560), "ttft") == (
        "queued 412 ms in the engine with 7 other requests in flight: 90% of its 460 ms TTFT"
    )


def test_slow_retrieval_and_slow_decode_are_named():
    spans = rag_spans(queue_s=0.001, retrieve_ms=180)
    assert cause(spans, request(220, 320), "ttft") == (
        "retrieval 180 ms in Elasticsearch: 82% of its 220 ms TTFT"
    )
    spans = rag_spans(queue_s=0.001, retrieve_ms=5)
    assert cause(spans, request(45, 150), "latency") == (
        "decode 100 ms for 20 tokens (5.0 ms per token): 67% of its 150 ms latency"
    )


def test_without_the_engines_span_the_engine_is_one_stage_and_decode_the_gateways():
    spans = rag_spans(queue_s=0.3, retrieve_ms=10, engine=False)
    phases = [p.name for p in timeline(spans, request(350, 450))]
    assert phases == ["gateway", "retrieve", "engine call", "first token", "decode"]
    assert cause(spans, request(350, 450), "ttft").startswith(
        "333 ms in the engine before its first token (no engine span to split it)"
    )


def test_jaegers_otlp_json_is_read_with_hex_ids_and_typed_attributes():
    body = {
        "result": {
            "resourceSpans": [
                {
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": "vllm"}}
                    ]},
                    "scopeSpans": [{"spans": [{
                        "traceId": "0123456789abcdef0123456789abcdef", "spanId": "00000000000000d1",
                        "parentSpanId": "00000000000000c1", "name": "llm_request", "kind": 2,
                        "startTimeUnixNano": "1000", "endTimeUnixNano": "5000",
                        "attributes": [
                            {"key": ATTR_QUEUE, "value": {"doubleValue": 0.25}},
                            {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "12"}},
                        ],
                        "events": [{"timeUnixNano": "3000", "name": EVENT_FIRST_TOKEN}],
                    }]}],
                }
            ]
        }
    }  # fmt: skip
    (span,) = parse_trace(body)
    assert (span.service, span.span_id, span.parent_id, span.duration_ns) == (
        "vllm", "00000000000000d1", "00000000000000c1", 4000
    )  # fmt: skip
    assert span.attributes == {ATTR_QUEUE: 0.25, "gen_ai.usage.prompt_tokens": 12}
    assert span.events == {EVENT_FIRST_TOKEN: 3000}


def test_a_window_without_first_tokens_still_has_its_slowest_requests() -> None:
    """Only es_search / es_bulk requests: no sample has a TTFT (an object column of None),
    and the report is still built, the slowest by latency listed."""
    import pandas as pd

    from slakit.traces.slowest import slowest_requests

    samples = pd.DataFrame(
        {
            "error": [None, None],
            "trace_id": ["a" * 32, "b" * 32],
            "ttft_s": [None, None],
            "latency_s": [0.1, 0.2],
            "start": [1.0, 2.0],
            "end": [1.1, 2.2],
            "tokens_in": [None, None],
            "tokens_out": [None, None],
            "kind": ["es_search", "es_search"],
        }
    )
    section = slowest_requests(samples, None, 3, 3.0)
    assert section.by_ttft == []
    assert [r.trace_id for r in section.by_latency] == ["b" * 32, "a" * 32]
