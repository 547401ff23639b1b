"""The data streams slakit's logs are shipped into (`logs-slakit.<part>-default`): their
index template, seed 000's ILM policy, and the count the ES exporter serves of them.

The template maps the ECS fields the alert, the exporter and the report read (`log.level`,
`trace.id`, every other string a keyword, `message` text with a keyword for grouping).
The policy rolls the stream over by size and age and force-merges it when it turns warm
(seed 000). The embedded Elasticsearch (Maven's integ-test-zip) has no ILM module, so
there the policy cannot be installed: `install` then applies the same rollover
conditions to each stream itself (`_rollover` with conditions is core), at every
`stack up`. A cluster with ILM (`deploy/`) gets the policy and the template names it.
`error_lines` reads a run's ERROR lines back for its report.
"""

from __future__ import annotations

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from slakit import es_auth
from slakit.catalogue.defaults import (
    LOG_DATASETS,
    LOG_ERROR_LEVEL,
    LOG_INDEX_PATTERN,
    LOG_LINES_QUERY,
    log_stream,
)
from slakit.es_auth import EsAuth
from slakit.exporters.elasticsearch.count_queries import time_range
from slakit.exporters.elasticsearch.settings import CountQuery
from slakit.report.model import LogErrors, LogMessage
from slakit.stack.config import ShipperConfig

TEMPLATE = POLICY = "slakit-logs"
LEVEL_FIELD = "log.level"
KEYWORD_LIMIT = 1024  # longer strings are kept in _source but not indexed as keywords
TOP_MESSAGES = 5  # the report lists this many of the most frequent ERROR messages

MAPPINGS = {
    "dynamic_templates": [
        {
            "strings_as_keyword": {
                "match_mapping_type": "string",
                "mapping": {"type": "keyword", "ignore_above": KEYWORD_LIMIT},
            }
        }
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": KEYWORD_LIMIT}},
        },
        "error": {"properties": {"message": {"type": "text"}, "stack_trace": {"type": "text"}}},
    },
}

LOG_LINES = CountQuery(
    name=LOG_LINES_QUERY, index=LOG_INDEX_PATTERN, window="1m", group_by=LEVEL_FIELD
)
"""The ES exporter's count of the stack's log lines by level over the last minute."""


def rollover(logs: ShipperConfig) -> dict[str, str]:
    return {"max_size": logs.rollover_max_size, "max_age": logs.rollover_max_age}


def policy(logs: ShipperConfig) -> dict:
    """Seed 000's: hot until rollover (size or age), then warm: force-merged to one segment."""
    return {
        "phases": {
            "hot": {"actions": {"rollover": rollover(logs)}},
            "warm": {
                "min_age": logs.warm_after,
                "actions": {"forcemerge": {"max_num_segments": 1}},
            },
        }
    }


def install(es: Elasticsearch, logs: ShipperConfig) -> bool:
    """The policy (where ILM exists) and the template; where it does not, each stream rolled
    over by the policy's conditions. Whether ILM manages the streams."""
    try:
        es.ilm.put_lifecycle(name=POLICY, policy=policy(logs))
        managed = True
    except ApiError as exc:
        if exc.meta.status not in (400, 405):  # 400 "no handler found": no ILM module
            raise
        managed = False
    settings: dict = {"number_of_replicas": logs.replicas}
    if managed:
        settings["index.lifecycle.name"] = POLICY
    es.indices.put_index_template(
        name=TEMPLATE,
        index_patterns=[LOG_INDEX_PATTERN],
        data_stream={},
        priority=200,
        template={"settings": settings, "mappings": MAPPINGS},
        meta={"managed_by": "slakit (slakit.stack.log_streams)"},
    )
    if not managed:
        for part in LOG_DATASETS:
            try:
                es.indices.rollover(alias=log_stream(part), conditions=rollover(logs))
            except NotFoundError:
                pass  # nothing shipped into it yet
    return managed


def error_lines(
    es_url: str | None, since: float, until: float, auth: EsAuth | None = None
) -> LogErrors:
    """The ERROR lines logged from `since` to `until` (epoch seconds) in every log stream,
    read as `auth` (the run's credential): their count and most frequent messages, or why
    there are no logs to count (a search of a pattern no index matches reads no shard)."""
    absent = LogErrors(index=LOG_INDEX_PATTERN)
    if es_url is None:
        return absent.model_copy(update={"absent": "the target has no Elasticsearch"})
    options = auth.client_options(es_url) if auth else {}
    es = Elasticsearch(es_url, request_timeout=10, max_retries=0, **options)
    try:
        answer = es.search(
            index=LOG_INDEX_PATTERN,
            size=0,
            track_total_hits=True,
            query={
                "bool": {
                    "filter": [
                        time_range("@timestamp", since, until),
                        {"term": {LEVEL_FIELD: LOG_ERROR_LEVEL}},
                    ]
                }
            },
            aggs={"top": {"terms": {"field": "message.keyword", "size": TOP_MESSAGES}}},
        )
    except (ApiError, TransportError) as exc:
        return absent.model_copy(update={"absent": es_auth.problem("log query", es_url, exc)})
    finally:
        es.close()
    if answer["_shards"]["total"] == 0:
        why = f"no log was shipped into Elasticsearch (nothing matches {LOG_INDEX_PATTERN})"
        return absent.model_copy(update={"absent": why})
    top = [
        LogMessage(message=b["key"], count=b["doc_count"])
        for b in answer["aggregations"]["top"]["buckets"]
    ]
    return LogErrors(index=LOG_INDEX_PATTERN, count=answer["hits"]["total"]["value"], top=top)
