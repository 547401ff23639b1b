"""Server-side series from Prometheus over exactly a run's window.

Instant queries for histogram quantiles and window ratios over the window, range queries
for gauges and for the report's server-side plots (same time axis as the client samples).
Every query goes through prometheus-api-client; "no data" is a result, not an error.

Steps, rate windows and the wait for the last scrape follow the scrape interval read from
that Prometheus once per run (`read_scrape`): a production Prometheus scraping every 15 or
30 s would give gauges points that are not there and rate() windows with one sample.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import requests
import yaml
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.adapters import HTTPAdapter
from requests.exceptions import RequestException
from urllib3.util.retry import Retry

from slakit.catalogue.panels import DashboardDef, bind
from slakit.report.model import ScrapeSettings, ServerSeries
from slakit.sli import CATALOGUE, PERCENTILES, Sli, render
from slakit.stack.config import PrometheusConfig
from slakit.units import parse_prom_duration

# A report makes dozens of queries: prometheus-api-client's default (3 retries, backoff
# 1 s) turned a Prometheus that went away after the check into minutes of report phase.
QUERY_TIMEOUT_S = 10
QUERY_RETRIES = 1
MIN_SPAN_SCRAPES = 2  # a window's rate() needs two samples of each series
RATE_WINDOW_SCRAPES = 4  # rolling rate(): at least four scrapes, as Prometheus advises
PLOT_WINDOW_S = 30  # rolling window for histogram quantiles over time, at least
SCRAPE_SLACK_S = 1  # a scrape's own duration and ingestion, beyond the interval
# Not metric names in a PromQL expression: label matchers, ranges, strings, grouping
# clauses; then function calls (a name before "(") and keywords.
_NOT_NAMES = re.compile(
    r'\{[^}]*\}|\[[^\]]*\]|"[^"]*"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)'
)
_NAME = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
# What a Prometheus that does not answer, or answers otherwise than documented, raises.
_UNREADABLE = (
    PrometheusApiClientException,
    RequestException,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    yaml.YAMLError,
)


@dataclass
class ServerValue:
    value: float | None
    samples: int
    promql: str
    note: str = ""


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _connect(url: str) -> PrometheusConnect:
    return PrometheusConnect(
        url=url, disable_ssl=True, retry=Retry(total=QUERY_RETRIES), timeout=QUERY_TIMEOUT_S
    )


def _seconds(text: str) -> float:
    """A duration as Prometheus writes it ('15s', '1m30s'): number+unit parts, summed."""
    parts = re.findall(r"\d+[a-z]+", text)
    if not parts or "".join(parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(parse_prom_duration(part) for part in parts)


def _metric_names(promql: str) -> set[str]:
    """The metric names an expression of the SLI catalogue reads."""
    bare = _NOT_NAMES.sub(" ", render(promql, 0.5, "1m"))
    return {name for name in _NAME.findall(bare) if name not in _KEYWORDS}


def _queried_jobs(prom: PrometheusConnect) -> set[str]:
    """The `job`s of the series the server SLIs read, as Prometheus holds them now."""
    names = sorted(
        {
            name
            for sli in CATALOGUE.values()
            if sli.side == "server"
            for promql in (sli.promql, *sli.alternatives)
            for name in _metric_names(promql)
        }
    )
    try:
        result = prom.custom_query(f'group by (job) ({{__name__=~"{"|".join(names)}"}})')
    except (PrometheusApiClientException, RequestException, ValueError):
        return set()
    return {r["metric"]["job"] for r in result if "job" in r["metric"]}


def _target_intervals(prom: PrometheusConnect) -> dict[str, float]:
    """Job -> scrape interval of Prometheus's active targets (`/api/v1/targets`)."""
    out: dict[str, float] = {}
    for target in prom.get_targets(state="active")["activeTargets"]:
        job = target["labels"].get("job", target["scrapePool"])
        out[job] = max(out.get(job, 0.0), _seconds(target["scrapeInterval"]))
    return out


def _config_intervals(prom: PrometheusConnect) -> dict[str, float]:
    """Job -> scrape interval in Prometheus's loaded configuration (`/api/v1/status/config`),
    for a Prometheus that does not show its targets."""
    with requests.Session() as session:
        session.mount(prom.url, HTTPAdapter(max_retries=Retry(total=QUERY_RETRIES)))
        answer = session.get(f"{prom.url}/api/v1/status/config", timeout=QUERY_TIMEOUT_S)
    answer.raise_for_status()
    config = yaml.safe_load(answer.json()["data"]["yaml"])
    default = config.get("global", {}).get("scrape_interval", "1m")  # Prometheus's default
    return {
        job["job_name"]: _seconds(job.get("scrape_interval", default))
        for job in config.get("scrape_configs") or []
    }


def _settings(interval_s: float, source: str, jobs: list[str]) -> ScrapeSettings:
    """What follows from a scrape interval: one range-query point per scrape, and rolling
    rate windows of at least RATE_WINDOW_SCRAPES scrapes."""
    return ScrapeSettings(
        interval_s=interval_s,
        source=source,
        jobs=jobs,
        step_s=interval_s,
        rate_window_s=max(PLOT_WINDOW_S, math.ceil(RATE_WINDOW_SCRAPES * interval_s)),
    )


def read_scrape(url: str) -> ScrapeSettings:
    """The scrape interval behind the series slakit reads from the Prometheus at `url`: the
    largest among the jobs those series come from (all active jobs when none is found yet),
    from its targets, else its configuration, else the embedded stack's default. The largest,
    so every series has a point per step and two samples in every rate window."""
    prom = _connect(url)
    jobs = _queried_jobs(prom)
    for source, read in (("targets", _target_intervals), ("config", _config_intervals)):
        try:
            by_job = read(prom)
        except _UNREADABLE:
            continue
        chosen = {job: s for job, s in by_job.items() if job in jobs} or by_job
        if chosen:
            return _settings(max(chosen.values()), source, sorted(chosen))
    return _settings(_seconds(PrometheusConfig().scrape_interval), "default", [])


def wait_for_scrape(scrape: ScrapeSettings, ended: float) -> None:
    """Wait until a scrape after `ended` landed, so the window's last samples are in; never
    longer than one scrape and the slack, should the wall clock have stepped back."""
    longest = scrape.interval_s + SCRAPE_SLACK_S
    delay = min(ended + longest - time.time(), longest)
    if delay > 0:
        time.sleep(delay)


class Window:
    """Queries against one Prometheus for one run window [start, end]."""

    def __init__(self, url: str, start: float, end: float, scrape: ScrapeSettings) -> None:
        self.prom = _connect(url)
        self.start = start
        self.end = end
        self.scrape = scrape

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
                promql,
                start_time=_ts(self.start),
                end_time=_ts(self.end),
                step=f"{self.scrape.step_s:g}",
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
        """The window as a PromQL range, at least MIN_SPAN_SCRAPES scrapes long."""
        floor = math.ceil(MIN_SPAN_SCRAPES * self.scrape.interval_s)
        return f"{max(int(self.end - self.start), floor)}s"

    @property
    def rate_window(self) -> str:
        return f"{self.scrape.rate_window_s:g}s"

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
            if sli.counted:
                query = render(promql, window=self.span)
                if (value := self._instant(query)) is not None:
                    count = self._instant(render(sli.counted, window=self.span))
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
        """The SLI over time for plots: gauges as they are, histograms as rolling p95,
        window SLIs over a rolling window."""
        for promql in (sli.promql, *sli.alternatives):
            rolling = sli.histogram or sli.counted
            query = render(promql, 0.95, self.rate_window) if rolling else promql
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


def server_series(url: str, start: float, end: float, scrape: ScrapeSettings) -> list[ServerSeries]:
    """Every server-side SLI of the catalogue over the window (what "what limited it" reads)."""
    window = Window(url, start, end, scrape)
    return [window.series(sli) for sli in CATALOGUE.values() if sli.side == "server"]


# Grafana panel units -> the report's dimensions.
_PANEL_UNITS = {"s": "seconds", "percentunit": "ratio", "reqps": "per_second", "ops": "per_second"}
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _legend(template: str, labels: dict) -> str:
    """Grafana's legend format (`{{label}}`) filled from a series' labels."""
    return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), template)


def panel_series(
    url: str, start: float, end: float, scrape: ScrapeSettings, dashboards: list[DashboardDef]
) -> list[ServerSeries]:
    """The dashboards' time-series panels over the run window, query for query: what a
    reader sees in the report is what Grafana shows for the same minutes."""
    window = Window(url, start, end, scrape)
    out = []
    for dashboard in dashboards:
        for panel in dashboard.panels:
            if panel.kind != "timeseries":
                continue
            for promql, legend in panel.queries:
                query = bind(promql, rate_interval=window.rate_window, range_=window.span)
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
