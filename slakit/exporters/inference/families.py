"""The inference exporter's families as data: the names PromQL sees, their help, buckets.

Alert rules and dashboards take the names from here.
"""

from __future__ import annotations

PREFIX = "slakit_inference"

# Exposed names (what PromQL sees), for rules and dashboards to take from here.
UP = f"{PREFIX}_up"
PROBE_UP = f"{PREFIX}_probe_up"
PROBES_TOTAL = f"{PREFIX}_probe_total"  # {result="success|failure", reason}
LAST_SUCCESS = f"{PREFIX}_last_success_timestamp_seconds"
TIME_TO_FIRST_TOKEN = f"{PREFIX}_time_to_first_token_seconds"
INTER_TOKEN_LATENCY = f"{PREFIX}_inter_token_latency_seconds"
E2E_LATENCY = f"{PREFIX}_e2e_latency_seconds"
MODEL_INFO = f"{PREFIX}_model_info"  # {model, max_model_len, owned_by}
RAG_PROBE_UP = f"{PREFIX}_rag_probe_up"
RAG_PROBES_TOTAL = f"{PREFIX}_rag_probe_total"  # {result, reason}
RAG_LATENCY = f"{PREFIX}_rag_latency_seconds"
RAG_RETRIEVE = f"{PREFIX}_rag_retrieve_seconds"
RAG_GENERATE = f"{PREFIX}_rag_generate_seconds"
RAG_DOCUMENTS = f"{PREFIX}_rag_documents"
RAG_EMPTY_TOTAL = f"{PREFIX}_rag_empty_retrievals_total"

# 5 ms (a loopback token gap) to 60 s (a cold or saturated engine's first token).
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0,
    1.5, 2.5, 4.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
)  # fmt: skip
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
