"""The inference exporter's families as data: the names PromQL sees (the catalogue's),
their help, buckets and the failure reasons counted from the start."""

from __future__ import annotations

from slakit.catalogue import metrics as m

# The exposed names and buckets are the catalogue's, under this exporter's short names.
UP = m.INFERENCE_UP
MODEL_INFO = m.INFERENCE_MODEL_INFO
PROBE_UP = m.PROBE_UP
PROBES_TOTAL = m.PROBES_TOTAL
LAST_SUCCESS = m.PROBE_LAST_SUCCESS
TIME_TO_FIRST_TOKEN = m.PROBE_TIME_TO_FIRST_TOKEN
INTER_TOKEN_LATENCY = m.PROBE_INTER_TOKEN_LATENCY
E2E_LATENCY = m.PROBE_E2E_LATENCY
RAG_PROBE_UP = m.RAG_PROBE_UP
RAG_PROBES_TOTAL = m.RAG_PROBES_TOTAL
RAG_LATENCY = m.RAG_PROBE_LATENCY
RAG_RETRIEVE = m.RAG_PROBE_RETRIEVE
RAG_GENERATE = m.RAG_PROBE_GENERATE
RAG_DOCUMENTS = m.RAG_PROBE_DOCUMENTS
RAG_EMPTY_TOTAL = m.RAG_PROBE_EMPTY_TOTAL
LATENCY_BUCKETS = m.PROBE_LATENCY_BUCKETS

FIXED_REASONS = (
    "connection", "timeout", "bad_json", "no_tokens", "incomplete_stream", "stream_error",
    "no_model",
)  # fmt: skip

HELP = {
    UP: "1 if the last canary probe succeeded",
    MODEL_INFO: "Models the target lists on /v1/models",
    TIME_TO_FIRST_TOKEN: "Probe time to first token.",
    INTER_TOKEN_LATENCY: "Probe gaps between output events.",
    E2E_LATENCY: "Probe request latency, send to end of stream.",
    PROBES_TOTAL: "Canary probes by result and reason.",
    LAST_SUCCESS: "When a probe last succeeded.",
    PROBE_UP: "1 if the last canary probe succeeded.",
    RAG_PROBE_UP: "1 if the last RAG probe succeeded.",
    RAG_PROBES_TOTAL: "RAG probes by result and reason.",
    RAG_LATENCY: "RAG probe latency (client side).",
    RAG_RETRIEVE: "RAG retrieve stage (gateway's).",
    RAG_GENERATE: "RAG generate stage (gateway's).",
    RAG_DOCUMENTS: "Documents the last RAG probe got.",
    RAG_EMPTY_TOTAL: "RAG probes that got none.",
}
