""" "What limited it" as data: `explain` finds values, `slakit.report.findings` words them
for Markdown, HTML and the terminal, and reports written when findings were sentences
still load and render."""

from __future__ import annotations

import json

from slakit.catalogue.thresholds import KV_CACHE_FULL
from slakit.limits import explain
from slakit.report.findings import describe
from slakit.report.html import render_html
from slakit.report.markdown import render_markdown
from slakit.report.model import KvCacheFull, LoadInfo, Report, RequestsFailed, ServerSeries
from tests.report_factory import START, failing_report, make_kinds, make_slo, make_timeseries


def _series(name: str, values: list[float]) -> ServerSeries:
    points = [(START + 5 * i, v) for i, v in enumerate(values)]
    return ServerSeries(name=name, title=name, unit="ratio", promql="x", points=points)


def _explain(series: list[ServerSeries], errors: dict[str, int] | None = None) -> list:
    failed = [make_slo("latency-p95", "latency", "p95", "< 1ms", 0.8)]
    points = make_timeseries(60, warmup=5)
    kinds = make_kinds(points, 60)
    kinds["all"].errors_by_class = errors or {}
    load = LoadInfo(mode="rate", requested_rps=10.0, achieved_rps=9.9)
    return explain(failed, kinds, load, series, points)


def test_a_full_kv_cache_is_found_with_its_peak_and_threshold() -> None:
    found = _explain([_series("vllm_kv_cache_usage", [0.5, 0.9, 0.97, 0.96])])
    kv = [f for f in found if isinstance(f, KvCacheFull)]
    assert kv == [KvCacheFull(peak=0.97, threshold=KV_CACHE_FULL)]
    assert kv[0].model_dump() == {"kind": "kv_cache_full", "peak": 0.97, "threshold": 0.95}
    assert describe(kv[0]) == "vLLM KV cache reached 97% (full from 95%): the batch could not grow"


def test_below_the_threshold_nothing_is_found() -> None:
    found = _explain([_series("vllm_kv_cache_usage", [0.5, 0.94])])
    assert not any(isinstance(f, KvCacheFull) for f in found)


def test_failed_requests_by_class_are_ranked_in_words() -> None:
    (failed,) = [f for f in _explain([], {"timeout": 2, "http_500": 7}) if f.kind != "correlated"]
    assert failed == RequestsFailed(by_class={"timeout": 2, "http_500": 7})
    assert describe(failed) == "requests failed: 7 × http_500, 2 × timeout"


def test_findings_round_trip_through_report_json() -> None:
    report = failing_report(limits=[KvCacheFull(peak=0.97, threshold=0.95)])
    again = Report.model_validate_json(report.model_dump_json())
    assert again.limits == report.limits
    assert json.loads(report.model_dump_json())["limits"][0]["kind"] == "kv_cache_full"


def test_a_report_with_sentences_for_limits_still_loads_and_renders() -> None:
    stored = json.loads(failing_report().model_dump_json())
    stored["limits"] = ["vLLM KV cache reached 97%: the batch could not grow"]
    report = Report.model_validate(stored)
    assert report.limits[0].kind == "text"
    assert "- vLLM KV cache reached 97%: the batch could not grow" in render_markdown(report)
    assert "<li>vLLM KV cache reached 97%: the batch could not grow</li>" in render_html(report)


def test_every_renderer_uses_the_same_words() -> None:
    report = failing_report()
    words = [describe(f) for f in report.limits]
    markdown, html = render_markdown(report), render_html(report)
    assert words and all(f"- {w}" in markdown and f"<li>{w}</li>" in html for w in words)
