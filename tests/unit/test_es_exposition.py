"""The ES exporter's text format: what prometheus_client's own parser reads back from it
equals the families it was written from, counters are typed as client_golang types them,
and label values of any text survive."""

from __future__ import annotations

import gzip
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from slakit.exporters.elasticsearch.exposition import CONTENT_TYPE, generate, make_app
from slakit.exporters.elasticsearch.parsers import Families


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _registry(*families: Metric) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_Fixed(list(families)))
    return registry


def _read_back(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _types(text: str) -> dict[str, str]:
    return {
        line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE")
    }


def test_counters_typed_under_the_names_their_samples_carry() -> None:
    out = Families()
    node = {"name": "n1"}
    out.add("elasticsearch_thread_pool_completed_count", "counter", "done", node, 7)
    out.add("elasticsearch_indices_refresh_total", "counter", "refreshes", node, 3)
    out.add("elasticsearch_os_load1", "gauge", "load", node, 0.5)
    out.add("elasticsearch_never_seen", "counter", "no samples", node, None)
    text = generate(_registry(*out.families())).decode()
    assert _types(text) == {
        "elasticsearch_thread_pool_completed_count": "counter",
        "elasticsearch_indices_refresh_total": "counter",
        "elasticsearch_os_load1": "gauge",
    }
    assert 'elasticsearch_thread_pool_completed_count{name="n1"} 7\n' in text
    assert 'elasticsearch_indices_refresh_total{name="n1"} 3\n' in text
    assert "never_seen" not in text  # a family without samples is left out


def test_prometheus_client_instruments_render_as_with_generate_latest() -> None:
    registry = CollectorRegistry()
    failures = Counter("slakit_es_canary_failures", "failed", ["reason"], registry=registry)
    failures.labels("index_closed").inc(2)
    seconds = Histogram("slakit_es_canary_search_seconds", "s", buckets=(0.1,), registry=registry)
    seconds.observe(0.05)
    text = generate(registry).decode()
    types = _types(text)
    assert types["slakit_es_canary_failures_total"] == "counter"
    assert types["slakit_es_canary_search_seconds"] == "histogram"
    got = _read_back(text)
    assert got[("slakit_es_canary_failures_total", frozenset({"reason": "index_closed"}.items()))]
    assert got[("slakit_es_canary_search_seconds_bucket", frozenset({"le": "0.1"}.items()))] == 1
    assert got[("slakit_es_canary_search_seconds_count", frozenset())] == 1


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
VALUES = st.floats(allow_nan=False) | st.integers(-(2**53), 2**53)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, VALUES), min_size=1, max_size=6))
def test_any_label_text_and_value_reads_back_the_same(rows: list[tuple[str, str, Any]]) -> None:
    """Label sets that share one labels object and those that do not, escapes included."""
    out = Families()
    shared = {"cluster": "c"}
    for index, alias, number in rows:
        out.add("elasticsearch_indices_aliases", "gauge", 'an "alias"\\', {"index": index}, number)
        out.add("elasticsearch_indices_docs", "gauge", "docs\n", shared, number)
        out.add("elasticsearch_index_alias", "gauge", "a", {"index": index, "alias": alias}, 1)
    families = out.families()
    got = _read_back(generate(_registry(*families)).decode())
    want = {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in families
        for s in family.samples
    }
    assert got == want


def test_non_finite_values_in_the_go_spelling() -> None:
    out = Families()
    for i, number in enumerate((math.inf, -math.inf, math.nan)):
        out.add("elasticsearch_x", "gauge", "x", {"i": str(i)}, number)
    text = generate(_registry(*out.families())).decode()
    assert [line.rsplit(" ", 1)[1] for line in text.splitlines()[2:]] == ["+Inf", "-Inf", "NaN"]


def test_app_serves_text_format_gzipped_when_accepted() -> None:
    out = Families()
    out.add("elasticsearch_os_load1", "gauge", "load", {}, 1.5)
    app = make_app(_registry(*out.families()))
    answers: list[tuple[str, list]] = []
    plain = b"".join(app({}, lambda status, headers: answers.append((status, headers))))
    zipped = b"".join(app({"HTTP_ACCEPT_ENCODING": "gzip"}, lambda s, h: answers.append((s, h))))
    assert plain == b"# HELP elasticsearch_os_load1 load\n# TYPE elasticsearch_os_load1 gauge\n" + (
        b"elasticsearch_os_load1 1.5\n"
    )
    assert gzip.decompress(zipped) == plain
    assert answers[0] == ("200 OK", [("Content-Type", CONTENT_TYPE)])
    assert answers[1][1] == [("Content-Type", CONTENT_TYPE), ("Content-Encoding", "gzip")]
