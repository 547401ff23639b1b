"""The numbers that judge, each defined once: alert rules, dashboards and the report's
findings read them from here, so the dashboard turns red where the alert fires."""

from __future__ import annotations

KV_CACHE_FULL = 0.95
"""vLLM's KV cache at or above this share is full: the batch cannot grow (a finding, the
queue-growing alert's default, the dashboard's red)."""
KV_CACHE_HIGH = 0.80
"""The dashboard's orange for KV-cache usage: getting close to full."""

GPU_TEMPERATURE_C = 85.0
"""A GPU hotter than this (°C) alerts, and the dashboard's temperature panel is red."""
GPU_TEMPERATURE_WARM_C = GPU_TEMPERATURE_C - 5
"""The dashboard's orange: within 5 °C of the alert."""

LATE_S = 0.05
"""An open-loop request sent this long after it was due counts as late."""
FROM_DUE_MATERIAL = 0.10
"""A latency timed from the due time differs materially from the one timed from the send
when its p99 is this much larger (relative) and larger by more than LATE_S."""
