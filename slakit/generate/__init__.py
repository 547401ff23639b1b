"""Generators: alert rules and dashboards from SLO specs and the SLI catalogue."""
