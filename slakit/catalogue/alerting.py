"""Alert names other code refers to, and the Alertmanager inhibit rules between them.

An Elasticsearch outage fails the RAG canary too (its retrieval gets a 503): both page, for
one cause. ElasticsearchDown inhibits RagCanaryFailing from the same Prometheus. The two
come from different exporters (`job` and `instance` differ); what they share is the
external label `stack` each Prometheus puts on its alerts, so that is the one they must
agree on: an outage of one deployment's Elasticsearch silences no other's canary.

Alertmanager holds a target back only if its source is there when the target's group is
flushed (`group_wait`). Both rules wait `for: 2m`, and `slakit_es_up` drops on the next
scrape while the canary fails only on its next probe, so ElasticsearchDown is usually
pending first; when both fire in the same evaluation, one batch, the RAG page can still
go out if Alertmanager is slow to take the source in (seen once, on a loaded machine,
with the embedded stack's 1 s group wait; deploy/'s page route waits 10 s).
"""

from __future__ import annotations

STACK_LABEL = "stack"
"""The external label naming the Prometheus (so the deployment) an alert comes from."""
ELASTICSEARCH_DOWN = "ElasticsearchDown"
RAG_CANARY_FAILING = "RagCanaryFailing"

INHIBIT_RULES = (
    {
        "source_matchers": [f'alertname="{ELASTICSEARCH_DOWN}"'],
        "target_matchers": [f'alertname="{RAG_CANARY_FAILING}"'],
        "equal": [STACK_LABEL],
    },
)
"""Alertmanager's `inhibit_rules` entries: the embedded stack's and deploy/'s."""
