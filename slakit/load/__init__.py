"""Load generation on Locust: request kinds, arrival schedules, runners, samples."""
