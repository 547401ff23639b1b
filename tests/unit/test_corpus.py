"""The docstring corpus: deterministic, large enough, passage-sized, ES-integ-test-safe."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest

from slakit.errors import StackError
from slakit.stack import corpus

# Analyzers built into Elasticsearch core; everything else (language analyzers, custom
# analysis chains) needs the analysis-common module, which the integ-test-zip lacks.
CORE_ANALYZERS = {"standard", "simple", "whitespace", "keyword"}


def test_same_passages_every_call() -> None:
    first = corpus.passages(3000)
    corpus._all_passages.cache_clear()
    assert corpus.passages(3000) == first


def test_at_least_3000_passages_available() -> None:
    assert len(corpus.passages(3000)) == 3000
    assert len(corpus._all_passages()) >= 3000


def test_passages_are_a_prefix_of_the_full_list() -> None:
    assert corpus.passages(10) == corpus.passages(3000)[:10]


def test_word_bounds_and_normalised_whitespace() -> None:
    for passage in corpus.passages(3000):
        assert corpus.MIN_WORDS <= passage.words <= corpus.MAX_WORDS, passage.title
        assert passage.words == len(passage.text.split())
        assert passage.text == " ".join(passage.text.split())


def test_ids_unique_and_derived_from_content() -> None:
    docs = corpus.passages(3000)
    assert len({p.id for p in docs}) == len(docs)
    p = docs[0]
    expected = hashlib.sha1(f"{p.module}\0{p.title}\0{p.text}".encode()).hexdigest()[:16]
    assert p.id == expected


def test_titles_are_qualified_names_within_their_module() -> None:
    for passage in corpus.passages(3000):
        assert passage.title == passage.module or passage.title.startswith(passage.module + ".")


def test_passages_are_prose_not_code() -> None:
    for passage in corpus.passages(3000):
        assert ">>>" not in passage.text
        letters = sum(c.isalpha() or c.isspace() for c in passage.text)
        assert letters >= 0.7 * len(passage.text), passage.text


def test_training_text_is_every_passage_text() -> None:
    texts = list(corpus.training_text())
    assert len(texts) == len(corpus._all_passages())
    assert texts[:3000] == [p.text for p in corpus.passages(3000)]


def test_asking_for_more_than_exists_fails_loudly() -> None:
    available = len(corpus._all_passages())
    with pytest.raises(StackError, match=str(available)):
        corpus.passages(available + 1)


def test_mapping_uses_only_core_analyzers() -> None:
    assert "analysis" not in corpus.MAPPING["settings"]
    assert corpus.MAPPING["settings"] == {"number_of_shards": 1, "number_of_replicas": 0}
    analyzers = re.findall(r"'(?:search_)?analyzer': '([^']+)'", repr(corpus.MAPPING))
    assert set(analyzers) <= CORE_ANALYZERS


def test_mapping_fields() -> None:
    props = corpus.MAPPING["mappings"]["properties"]
    assert props["module"] == {"type": "keyword"}
    assert props["title"]["type"] == "text"
    assert props["title"]["fields"]["raw"]["type"] == "keyword"
    assert props["text"]["type"] == "text"
    assert props["words"]["type"] == "integer"
    assert props["indexed_at"]["type"] == "date"


def test_corpus_is_the_same_in_a_process_running_gevent() -> None:
    """The load generator runs on gevent, which swaps functions of stdlib modules; the
    corpus (and so the tiny model's tokenizer) must not depend on that."""
    script = (
        "import locust, hashlib\n"  # locust patches the stdlib with gevent on import
        "from slakit.stack.corpus import passages\n"
        "print(hashlib.sha1(''.join(p.id for p in passages(3000)).encode()).hexdigest())\n"
    )
    here = hashlib.sha1("".join(p.id for p in corpus.passages(3000)).encode()).hexdigest()
    there = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    assert there == here
