"""The embedded reference deployment: real Elasticsearch, real vLLM on CPU, the RAG
gateway, Prometheus and Alertmanager, each a supervised process on loopback."""
