"""Load generation on Locust: request kinds, arrival schedules, runners, samples."""

LATE_S = 0.05
"""An open-loop request sent this long after it was due counts as late."""
