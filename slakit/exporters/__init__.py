"""Prometheus exporters slakit ships: GPU (NVML), Elasticsearch, and an inference prober."""
