"""The ES exporter's configured count queries: what they ask Elasticsearch, how the answer
becomes gauges, and a bad query in the config file is one line naming it."""

from __future__ import annotations

import time

import pytest

from slakit.errors import InputError
from slakit.exporters.elasticsearch.count_queries import _counts, search
from slakit.exporters.elasticsearch.settings import CountQuery, EsExporterConfig

LEVELS = CountQuery(name="lines", index="logs-*", window="1m", group_by="log.level")


def test_the_search_counts_the_window_and_groups_by_the_field():
    before = (time.time() - 60) * 1000
    body = search(LEVELS)
    since, matching = body["query"]["bool"]["filter"]
    start = since["range"]["@timestamp"]["gte"]
    assert before - 1000 <= start <= (time.time() - 60) * 1000 + 1000
    assert matching == {"query_string": {"query": "*"}}
    assert body["aggs"]["groups"]["terms"]["field"] == "log.level"
    assert body["size"] == 0 and body["track_total_hits"] is True


def test_a_query_object_is_sent_as_it_is():
    dsl = {"term": {"log.level": "error"}}
    body = search(CountQuery(name="errors", index="logs-*", window="30s", query=dsl))
    assert body["query"]["bool"]["filter"][1] == dsl
    assert "aggs" not in body


def test_answers_become_counts_per_group():
    answer = {
        "hits": {"total": {"value": 7}},
        "aggregations": {
            "groups": {
                "buckets": [{"key": "error", "doc_count": 5}, {"key": "info", "doc_count": 0}]
            }
        },
    }
    assert _counts(LEVELS, answer) == [("error", 5.0), ("info", 0.0)]
    plain = CountQuery(name="all", index="logs-*", window="1m")
    assert _counts(plain, answer) == [("", 7.0)]


def test_a_bad_count_query_in_the_config_file_is_one_line(tmp_path):
    path = tmp_path / "es.yaml"
    path.write_text(
        "count_queries:\n"
        "  - {name: lines, index: 'logs-*', window: 1m}\n"
        "  - {name: errors, index: 'logs-*', window: 60}\n"
    )
    with pytest.raises(InputError) as caught:
        EsExporterConfig.load(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:3:")
    assert "count_queries.1.window" in problem and "unit" in problem


def test_two_queries_of_one_name_are_refused(tmp_path):
    path = tmp_path / "es.yaml"
    path.write_text(
        "count_queries:\n"
        "  - {name: lines, index: 'logs-*', window: 1m}\n"
        "  - {name: lines, index: 'other-*', window: 1m}\n"
    )
    with pytest.raises(InputError, match="two count_queries share a name"):
        EsExporterConfig.load(path)
