"""slakit: prove an LLM + retrieval stack meets its SLAs, and know when it stops."""

__version__ = "0.1.0"
