"""The RAG gateway: OpenAI-compatible proxy to the engine plus `/rag/query`, with
Prometheus metrics, OpenTelemetry spans and optional API keys. Run it with
`python -m slakit.gateway`; the app is `slakit.gateway.app.create_app`."""
