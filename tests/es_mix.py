"""An index mix shaped like a production cluster's, for the ES exporter's live test and its
benchmark: one exporter's cost and another's blind spots show on many small indices, not on
the corpus alone.

17 indices on a single node: the RAG corpus, 15 of 1-3 shards (every odd one with a replica
the node cannot place, so the cluster is yellow), deleted documents, aliases over one and
over several indices, and a closed index (with an alias of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from slakit.stack.corpus import index_corpus

CORPUS = "slakit-corpus"
CORPUS_DOCS = 3000
MIXED = tuple(f"mix-{i:02d}" for i in range(15))
MIXED_DOCS = 3000
DELETED_EVERY = 7  # every 7th document of every third index is deleted
CLOSED = "mix-closed"
CLOSED_DOCS = 500
ALIASES = {
    "mix-all": MIXED,
    "mix-recent": MIXED[-2:],
    "mix-write": MIXED[:1],
    "rag": (CORPUS,),
    "mix-archive": (CLOSED,),
}


@dataclass(frozen=True)
class Mix:
    """What was built, for assertions: documents per open index, deletes, unassigned
    replica shards (a single node places no replica)."""

    docs: dict[str, int]  # live documents of every open index
    deleted: dict[str, int]
    unassigned: int


def _shards(i: int) -> tuple[int, int]:
    """(shards, replicas) of the i-th mixed index."""
    return 1 + i % 3, i % 2


def _fill(es: Elasticsearch, index: str, docs: int) -> None:
    actions = (
        {"_index": index, "_id": str(n), "_source": {"n": n, "text": f"document {n} of {index}"}}
        for n in range(docs)
    )
    bulk(es, actions, chunk_size=2000)


def build_mix(es: Elasticsearch) -> Mix:
    """Create, fill, thin out, alias and close the mix; refreshed, so stats are final."""
    assert index_corpus(es, CORPUS, CORPUS_DOCS) == CORPUS_DOCS
    docs, deleted, unassigned = {CORPUS: CORPUS_DOCS}, {}, 0
    for i, index in enumerate((*MIXED, CLOSED)):
        shards, replicas = _shards(i) if index != CLOSED else (1, 0)
        settings = {"number_of_shards": shards, "number_of_replicas": replicas}
        es.indices.create(index=index, settings=settings)
        _fill(es, index, CLOSED_DOCS if index == CLOSED else MIXED_DOCS)
        if index == CLOSED:
            continue
        unassigned += shards * replicas
        docs[index] = MIXED_DOCS
        if i % 3 == 0:
            gone = range(0, MIXED_DOCS, DELETED_EVERY)
            bulk(es, ({"_op_type": "delete", "_index": index, "_id": str(n)} for n in gone))
            docs[index] -= len(gone)
            deleted[index] = len(gone)
    es.indices.refresh(index="_all")
    for alias, indices in ALIASES.items():
        for index in indices:
            es.indices.put_alias(index=index, name=alias, is_write_index=alias == "mix-write")
    es.indices.close(index=CLOSED)
    return Mix(docs, deleted, unassigned)
