"""Retrieval (BM25 `match` on `text`) and the prompt built from what was retrieved."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

INSTRUCTION = (
    "Answer the question using only the numbered passages below and cite them by number. "
    "If they do not contain the answer, say so."
)
NO_PASSAGES = "No passages were found for this question. Say that you found no supporting text."


async def retrieve(es: AsyncElasticsearch, index: str, query: str, top_k: int) -> list[dict]:
    """The top_k passages by BM25 score, as the gateway returns them."""
    result = await es.search(
        index=index,
        query={"match": {"text": query}},
        size=top_k,
        source=["module", "title", "text"],
    )
    return [
        {
            "id": hit["_id"],
            "title": hit["_source"].get("title"),
            "module": hit["_source"].get("module"),
            "score": hit["_score"],
            "text": hit["_source"].get("text"),
        }
        for hit in result["hits"]["hits"]
    ]


def messages(query: str, documents: list[dict], passage_words: int) -> list[dict]:
    """Chat messages: numbered passages (each cut to passage_words words), then the question."""
    if documents:
        passages = "\n\n".join(
            f"[{n}] {doc['title']}\n{' '.join(doc['text'].split()[:passage_words])}"
            for n, doc in enumerate(documents, 1)
        )
    else:
        passages = NO_PASSAGES
    # One user message: a tiny model's chat template may have no system role.
    prompt = f"{INSTRUCTION}\n\nPassages:\n{passages}\n\nQuestion: {query}"
    return [{"role": "user", "content": prompt}]
