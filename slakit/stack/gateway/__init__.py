"""The RAG gateway: OpenAI-compatible proxy to the engine plus `/rag/query`, with
Prometheus metrics, OpenTelemetry spans and optional API keys. Run it with
`python -m slakit.stack.gateway`."""

from slakit.stack.gateway.app import create_app
from slakit.stack.gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
