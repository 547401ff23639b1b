"""OpenTelemetry for the gateway: spans to a JSON-lines file and/or OTLP, W3C context in/out.

The spans file holds one `ReadableSpan.to_json()` object per line, so a request's trace
can be found without a collector. OTLP (http/protobuf, through a batch span processor) is
added only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, configured by the standard OTEL_*
variables: the embedded stack sets them to its Jaeger (`slakit.stack.jaeger`), from which
the run report reads the slowest requests' traces back (`slakit.traces`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

SERVICE = "slakit-gateway"

# Span attribute names (OpenTelemetry GenAI conventions where one exists).
ATTR_MODEL = "gen_ai.request.model"
ATTR_PROMPT_TOKENS = "gen_ai.usage.input_tokens"
ATTR_COMPLETION_TOKENS = "gen_ai.usage.output_tokens"
ATTR_DOCUMENTS = "retrieval.documents"
ATTR_TOP_K = "retrieval.top_k"
ATTR_INDEX = "retrieval.index"
ATTR_ROUTE = "http.route"
ATTR_STATUS = "http.response.status_code"
EVENT_FIRST_TOKEN = "first_token"
"""The event on an engine call's span when its first token came: decode is the rest of it."""


def _one_line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


class Tracing:
    """A TracerProvider of the gateway's own (not the global one), and its span file."""

    def __init__(self, spans_file: Path | None) -> None:
        self.provider = TracerProvider(resource=Resource.create({SERVICE_NAME: SERVICE}))
        self._out = None
        if spans_file is not None:
            spans_file.parent.mkdir(parents=True, exist_ok=True)
            self._out = spans_file.open("a", encoding="utf-8")
            exporter = ConsoleSpanExporter(out=self._out, formatter=_one_line)
            self.provider.add_span_processor(
                BatchSpanProcessor(exporter, schedule_delay_millis=1000)
            )
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("slakit.gateway")

    def server_span(self, name: str, headers: Mapping[str, str], route: str) -> Span:
        """A SERVER span continuing the caller's W3C `traceparent`, if it sent one."""
        span = self.tracer.start_span(
            name, context=propagate.extract(headers), kind=SpanKind.SERVER
        )
        span.set_attribute(ATTR_ROUTE, route)
        return span

    def child_span(self, name: str, parent: Span) -> Span:
        return self.tracer.start_span(name, context=trace.set_span_in_context(parent))

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes pending spans
        if self._out is not None:
            self._out.close()


def context_headers(span: Span) -> dict[str, str]:
    """`traceparent` (and `tracestate`) naming `span`: for the engine and the response."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def mark_first_token(span: Span, started_ns: int, seconds: float) -> None:
    """The first-token event on `span`, `seconds` after `started_ns` (epoch, as spans are)."""
    span.add_event(EVENT_FIRST_TOKEN, timestamp=started_ns + round(seconds * 1e9))


def end_span(span: Span, status: int, error: str | None = None) -> None:
    span.set_attribute(ATTR_STATUS, status)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()
