"""Logs as Elastic Common Schema JSON, one object per line, for the processes slakit runs
(the gateway, the simulated engine, vLLM through its logging config file).

Each writes to stdout, which is its part's log file; the shipper (`slakit.stack.shipper`)
sends the lines into Elasticsearch. The formatter is `ecs-logging`'s, so `log.level`,
`@timestamp`, `log.logger` and `error.*` are what Elastic's own Python agent writes;
a request's `trace.id` and `span.id` come from its OpenTelemetry span context.
"""

from __future__ import annotations

import logging

from opentelemetry.trace import SpanContext, format_span_id, format_trace_id

SERVICE_FIELD = "service.name"


def dict_config(service: str, loggers: dict[str, str]) -> dict:
    """A `logging.config.dictConfig` (uvicorn's `log_config`, vLLM's config file): every
    record one ECS line on stdout tagged `service.name: service`; `loggers` maps logger
    names to their levels, everything else logs warnings and up."""
    handler = {"handlers": ["ecs"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "ecs": {"()": "ecs_logging.StdlibFormatter", "extra": {SERVICE_FIELD: service}}
        },
        "handlers": {
            "ecs": {
                "class": "logging.StreamHandler",
                "formatter": "ecs",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {name: {**handler, "level": level} for name, level in loggers.items()},
        "root": {"handlers": ["ecs"], "level": logging.getLevelName(logging.WARNING)},
    }


def trace_fields(context: SpanContext) -> dict[str, str]:
    """`trace.id` and `span.id` of a span context (W3C hex), none for an invalid one."""
    if not context.is_valid:
        return {}
    return {
        "trace.id": format_trace_id(context.trace_id),
        "span.id": format_span_id(context.span_id),
    }
