"""Server-side series from Prometheus over exactly a run's window.

Instant queries for histogram quantiles over the window, range queries for gauges and
for the report's server-side plots (same time axis as the client samples). Every query
goes through prometheus-api-client; "no data" is a result, not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.exceptions import RequestException
from urllib3.util.retry import Retry

from slakit.generate.dashboards_panels import DashboardDef, bind
from slakit.report.model import ServerSeries
from slakit.sli import CATALOGUE, PERCENTILES, Sli, render

STEP_S = 5  # the embedded stack's scrape interval
PLOT_WINDOW = "30s"  # rolling window for histogram quantiles over time
# A report makes dozens of queries: prometheus-api-client's default (3 retries, backoff
# 1 s) turned a Prometheus that went away after the check into minutes of report phase.
QUERY_TIMEOUT_S = 10
QUERY_RETRIES = 1


@dataclass
class ServerValue:
    value: float | None
    samples: int
    promql: str
    note: str = ""


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class Window:
    """Queries against one Prometheus for one run window [start, end]."""

    def __init__(self, url: str, start: float, end: float) -> None:
        self.prom = PrometheusConnect(
            url=url, disable_ssl=True, retry=Retry(total=QUERY_RETRIES), timeout=QUERY_TIMEOUT_S
        )
        self.start = start
        self.end = end

    def _instant(self, promql: str) -> float | None:
        try:
            result = self.prom.custom_query(promql, params={"time": self.end})
        except (PrometheusApiClientException, RequestException, ValueError):
            return None
        values = [float(r["value"][1]) for r in result]
        finite = [v for v in values if np.isfinite(v)]
        return max(finite) if finite else None

    def range_by_series(self, promql: str) -> list[tuple[dict, list[tuple[float, float]]]]:
        """(labels, finite points) of every series a range query over the window returns."""
        try:
            result = self.prom.custom_query_range(
                promql, start_time=_ts(self.start), end_time=_ts(self.end), step=f"{STEP_S}s"
            )
        except (PrometheusApiClientException, RequestException, ValueError):
            return []
        out = []
        for series in result:
            points = [(float(t), float(v)) for t, v in series["values"] if np.isfinite(float(v))]
            if points:
                out.append((series["metric"], points))
        return out

    def _range(self, promql: str) -> list[tuple[float, float]]:
        """One series over the window: the highest value at each step across series."""
        points: dict[float, float] = {}
        for _, series in self.range_by_series(promql):
            for t, v in series:
                points[t] = max(points.get(t, float("-inf")), v)
        return sorted(points.items())

    @property
    def span(self) -> str:
        """The window as a PromQL range, at least two scrapes long."""
        return f"{max(int(self.end - self.start), 2 * STEP_S)}s"

    def evaluate(self, sli: Sli, aggregation: str) -> ServerValue:
        """The SLI's value over the window, trying older metric names when needed."""
        for promql in (sli.promql, *sli.alternatives):
            if sli.histogram:
                query = render(promql, PERCENTILES[aggregation], self.span)
                count = self._instant(f"sum(increase({sli.histogram}[{self.span}]))")
                value = self._instant(query)
                if value is not None:
                    return ServerValue(value, round(count or 0), query)
                continue
            points = [v for _, v in self._range(promql)]
            if points:
                return ServerValue(_aggregate(points, aggregation), len(points), promql)
        return ServerValue(
            None,
            0,
            render(sli.promql),
            f"no data in Prometheus for {sli.name} (is its exporter scraped?)",
        )

    def series(self, sli: Sli) -> ServerSeries:
        """The SLI over time for plots: gauges as they are, histograms as rolling p95."""
        for promql in (sli.promql, *sli.alternatives):
            query = render(promql, 0.95, PLOT_WINDOW) if sli.histogram else promql
            points = self._range(query)
            if points:
                return ServerSeries(
                    name=sli.name, title=sli.title, unit=sli.dimension, promql=query, points=points
                )
        return ServerSeries(
            name=sli.name,
            title=sli.title,
            unit=sli.dimension,
            promql=sli.promql,
            note="no data in this window",
        )


def _aggregate(points: list[float], aggregation: str) -> float:
    if aggregation == "max":
        return max(points)
    if aggregation == "mean":
        return float(np.mean(points))
    return float(np.quantile(points, PERCENTILES[aggregation]))


def server_series(url: str, start: float, end: float) -> list[ServerSeries]:
    """Every server-side SLI of the catalogue over the window (what "what limited it" reads)."""
    window = Window(url, start, end)
    return [window.series(sli) for sli in CATALOGUE.values() if sli.side == "server"]


# Grafana panel units -> the report's dimensions.
_PANEL_UNITS = {"s": "seconds", "percentunit": "ratio", "reqps": "per_second", "ops": "per_second"}
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _legend(template: str, labels: dict) -> str:
    """Grafana's legend format (`{{label}}`) filled from a series' labels."""
    return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), template)


def panel_series(
    url: str, start: float, end: float, dashboards: list[DashboardDef]
) -> list[ServerSeries]:
    """The dashboards' time-series panels over the run window, query for query: what a
    reader sees in the report is what Grafana shows for the same minutes."""
    window = Window(url, start, end)
    out = []
    for dashboard in dashboards:
        for panel in dashboard.panels:
            if panel.kind != "timeseries":
                continue
            for promql, legend in panel.queries:
                query = bind(promql, rate_interval=PLOT_WINDOW, range_=window.span)
                for labels, points in window.range_by_series(query):
                    name = _legend(legend, labels)
                    out.append(
                        ServerSeries(
                            name=f"{dashboard.uid}/{panel.title}/{name}",
                            title=f"{panel.title}: {name}" if name else panel.title,
                            panel=panel.title,
                            legend=name,
                            unit=_PANEL_UNITS.get(panel.unit, "number"),
                            promql=query,
                            points=points,
                        )
                    )
    return out
