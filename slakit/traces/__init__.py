"""Traces read back from Jaeger to explain a run's slowest requests (`slowest`)."""
