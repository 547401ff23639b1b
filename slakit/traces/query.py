"""Reading one trace back from Jaeger's query API (`GET /api/v3/traces/{id}`, OTLP JSON).

The v3 API is Jaeger v2's documented one; its JSON is OTLP's, with ids in hex. Spans are
asked for raw (`query.raw_traces`), as their services sent them: no clock-skew adjustment
moves a span the timeline places by its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from slakit.errors import safe_text

TRACE_PATH = "/api/v3/traces/"
TIMEOUT_S = 5.0


class TraceUnavailable(Exception):
    """Jaeger could not be asked (unreachable, or it answered an error): one line why."""


@dataclass
class Span:
    """One span as a timeline needs it: times in epoch nanoseconds."""

    service: str
    name: str
    span_id: str
    parent_id: str
    kind: int  # OTLP's SpanKind: 2 server, 3 client
    start_ns: int
    end_ns: int
    attributes: dict[str, object] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)  # name -> its first time

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def _value(value: dict) -> object:
    """An OTLP JSON AnyValue as Python (ints come as strings in JSON)."""
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    return value.get("stringValue")


def _attributes(items: list[dict]) -> dict[str, object]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


def parse_trace(body: dict) -> list[Span]:
    """The spans of an api_v3 `GetTrace` answer, with their service's name."""
    spans = []
    for resource in body.get("result", {}).get("resourceSpans", []):
        service = _attributes(resource.get("resource", {}).get("attributes", []))
        name = str(service.get("service.name", ""))
        for scope in resource.get("scopeSpans", []):
            for s in scope.get("spans", []):
                events: dict[str, int] = {}
                for event in s.get("events", []):
                    events.setdefault(event.get("name", ""), int(event["timeUnixNano"]))
                spans.append(
                    Span(
                        service=name,
                        name=s.get("name", ""),
                        span_id=s.get("spanId", ""),
                        parent_id=s.get("parentSpanId", ""),
                        kind=int(s.get("kind", 0)),
                        start_ns=int(s["startTimeUnixNano"]),
                        end_ns=int(s["endTimeUnixNano"]),
                        attributes=_attributes(s.get("attributes", [])),
                        events=events,
                    )
                )
    return sorted(spans, key=lambda span: span.start_ns)


def fetch_trace(client: httpx.Client, base_url: str, trace_id: str) -> list[Span] | None:
    """The trace's spans, or None if Jaeger holds no trace of that id; TraceUnavailable
    if Jaeger could not say."""
    url = f"{base_url.rstrip('/')}{TRACE_PATH}{trace_id}"
    try:
        r = client.get(url, params={"query.raw_traces": "true"}, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise TraceUnavailable(f"Jaeger unreachable at {base_url}: {type(exc).__name__}") from None
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        reason = safe_text(r.text.strip().splitlines()[0] if r.text.strip() else "")[:200]
        raise TraceUnavailable(f"Jaeger answered HTTP {r.status_code} at {url}: {reason}")
    return parse_trace(r.json())
