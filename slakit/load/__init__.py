"""Load generation on Locust: request kinds, arrival schedules, runners, samples."""

LATE_S = 0.05
"""An open-loop request sent this long after it was due counts as late."""
FROM_DUE_MATERIAL = 0.10
"""A latency timed from the due time differs materially from the one timed from the send
when its p99 is this much larger (relative) and larger by more than LATE_S."""
