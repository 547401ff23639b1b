"""One ECS log line per request the gateway served, written as its server span ends.

The span already holds what the line says (route, status, the error, start and end), so
the line is taken from it: its `trace.id` is the request's trace, which the client's
`traceparent` started and the report and Jaeger find it by. A 5xx (the engine or
Elasticsearch failed) is an ERROR line, which the ERROR-rate alert counts; another 4xx
(499: the client left) a WARNING; every other request INFO. Turned-away requests (auth,
rate limit, a bad body) end no span and are counted by the metrics only.
"""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind

from slakit.ecslog import trace_fields
from slakit.gateway.tracing import ATTR_ROUTE, ATTR_STATUS

LOGGER = "slakit.gateway.requests"
log = logging.getLogger(LOGGER)


def level_of(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    return logging.WARNING if status >= 400 else logging.INFO


class RequestLog(SpanProcessor):
    """Logs each ended SERVER span as the request's outcome (ECS `event.outcome`)."""

    def on_end(self, span: ReadableSpan) -> None:
        if span.kind is not SpanKind.SERVER:
            return
        attributes = span.attributes or {}
        status = int(attributes.get(ATTR_STATUS, 0))
        route = str(attributes.get(ATTR_ROUTE, ""))
        error = span.status.description
        fields = {
            **trace_fields(span.get_span_context()),
            "url.path": route,
            "http.response.status_code": status,
            "event.outcome": "failure" if status >= 400 else "success",
            "event.duration": (span.end_time or 0) - (span.start_time or 0),  # ns, as ECS
        }
        if error:
            fields["error.message"] = error
        message = f"{route} answered {status}" + (f": {error}" if error else "")
        log.log(level_of(status), message, extra=fields)
