"""The aggregations an SLO may name, and the quantile each percentile means: the SLI
registry, the dashboards' quantile panels and the alert rules read the same table."""

from __future__ import annotations

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
AGGREGATIONS = (*PERCENTILES, "mean", "max", "rate", "ratio")
DISTRIBUTION = (*PERCENTILES, "mean", "max")
