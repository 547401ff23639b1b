"""An offline English corpus for the embedded Elasticsearch, and text to train the tiny model.

The machine has no network route to data sets, so the corpus is built from what every
Python install carries: the docstrings of a fixed list of standard library modules (module
docstrings, then public classes, functions and methods, in sorted order) and the Language
Reference text that `help()` shows (`pydoc_data.topics`). That is real English prose with a
technical vocabulary, so retrieval queries hit and miss in realistic ways, and the same
passages on every machine with the same CPython minor version (docstrings change between
Python releases). The list is long (about 200 modules) because docstrings are short: about
100 modules give only some 1,000 passages, the whole list about 3,400.

Passages are 40-120 words: paragraphs merged or cut at sentence boundaries, so a retrieved
document is a realistic RAG context chunk rather than a one-line stub or a whole page.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import inspect
import re
import sysconfig
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from slakit.catalogue.defaults import CORPUS_DOCS
from slakit.errors import StackError

if TYPE_CHECKING:
    import elasticsearch

# The Python Language Reference as plain text (what `help("assignment")` shows).
TOPICS = "pydoc_data.topics"

# Standard library modules present in CPython 3.11 (mostly pure Python, read as source,
# plus a few extension modules whose docstrings are rich and which gevent leaves alone),
# no GUI, no browser. They are walked in sorted order. Not `sys`: a process rewrites its
# members at run time (typer's excepthook, pytest's hooks), so it read differently in
# the process that trained the tokenizer and in the one that checked it.
# fmt: off
MODULES: tuple[str, ...] = (
    "_io", "_socket", "abc", "argparse", "array", "ast", "asyncio.base_events",
    "asyncio.events", "asyncio.futures", "asyncio.locks", "asyncio.protocols",
    "asyncio.queues", "asyncio.runners", "asyncio.selector_events", "asyncio.streams",
    "asyncio.subprocess", "asyncio.tasks", "asyncio.timeouts", "asyncio.transports",
    "asyncio.unix_events", "base64", "bdb", "binascii", "bisect", "builtins", "bz2",
    "calendar", "cmd", "code", "codecs", "codeop", "collections", "collections.abc",
    "compileall", "concurrent.futures._base", "concurrent.futures.process",
    "concurrent.futures.thread", "configparser", "contextlib", "copy", "cProfile", "csv",
    "dataclasses", "datetime", "dbm.dumb", "decimal", "difflib", "dis", "doctest",
    "email.base64mime", "email.charset", "email.errors", "email.feedparser",
    "email.generator", "email.header", "email.headerregistry", "email.message",
    "email.parser", "email.policy", "email.quoprimime", "email.utils", "enum", "fcntl",
    "filecmp", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "gc", "getopt",
    "getpass", "gettext", "glob", "graphlib", "gzip", "hashlib", "heapq", "hmac",
    "html.parser", "http.client", "http.cookiejar", "http.cookies", "http.server", "imaplib",
    "importlib.abc", "importlib.metadata", "importlib.util", "inspect", "io", "ipaddress",
    "itertools", "json", "json.decoder", "json.encoder", "linecache", "locale", "logging",
    "logging.config", "logging.handlers", "lzma", "mailbox", "marshal", "math", "mimetypes",
    "mmap", "multiprocessing.connection", "multiprocessing.context",
    "multiprocessing.managers", "multiprocessing.process", "multiprocessing.shared_memory",
    "netrc", "ntpath", "numbers", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pickletools", "pkgutil", "platform", "plistlib", "poplib", "posix", "posixpath",
    "pprint", "profile", "pstats", "py_compile", "pyclbr", "pydoc", TOPICS, "queue",
    "quopri", "random", "re", "rlcompleter", "runpy", "sched", "secrets",
    "selectors", "shelve", "shlex", "shutil", "signal", "smtplib", "socket", "socketserver",
    "sqlite3", "ssl", "statistics", "string", "struct", "subprocess", "symtable",
    "sysconfig", "tabnanny", "tarfile", "tempfile", "termios", "textwrap", "threading",
    "timeit", "tokenize", "trace", "traceback", "tracemalloc", "types", "typing",
    "unicodedata", "unittest.case", "unittest.loader", "unittest.mock", "unittest.result",
    "unittest.runner", "unittest.suite", "urllib.parse", "urllib.request",
    "urllib.robotparser", "uuid", "warnings", "wave", "weakref", "wsgiref.handlers",
    "wsgiref.headers", "wsgiref.simple_server", "wsgiref.util", "wsgiref.validate",
    "xml.dom.minidom", "xml.etree.ElementTree", "xml.sax", "xml.sax.handler",
    "xml.sax.saxutils", "xmlrpc.client", "xmlrpc.server", "zipapp", "zipfile", "zipimport",
    "zlib",
)
# fmt: on

MIN_WORDS = 40
MAX_WORDS = 120

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'`])")
_PROSE_WORD = re.compile(r"^[(\"'`]?[A-Za-z][A-Za-z'-]*[)\"'`]?[.,;:!?]?[)]?$")
_CODE_LINE = re.compile(r"^\s*(>>>|\.\.\.|\$ |#|[-=~^*+]{3,}|\w+\s*=|def |class |import )")


@dataclass(frozen=True)
class Passage:
    """One retrievable chunk: the unit Elasticsearch indexes and the gateway returns."""

    id: str
    module: str
    title: str
    text: str
    words: int


def passages(max_docs: int = CORPUS_DOCS) -> list[Passage]:
    """The first `max_docs` passages, always the same ones; fail loudly if fewer exist."""
    available = _all_passages()
    if len(available) < max_docs:
        raise StackError(
            f"the docstring corpus has {len(available)} passages, {max_docs} were asked for"
            " (is Python running with -OO, which strips docstrings?)"
        )
    return list(available[:max_docs])


def training_text() -> Iterator[str]:
    """Every passage text: the local English the tiny model's tokenizer is trained on."""
    for passage in _all_passages():
        yield passage.text


MAPPING: dict = {
    # The integ-test-zip distribution lacks the analysis-common module: only core analyzers
    # (standard) exist there, so no "english" or custom analyzer.
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "module": {"type": "keyword"},
            "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
            "text": {"type": "text", "analyzer": "standard"},
            "words": {"type": "integer"},
            "indexed_at": {"type": "date"},
        },
    },
}


def index_corpus(es: elasticsearch.Elasticsearch, index: str, max_docs: int) -> int:
    """Create and fill `index` idempotently; return its document count.

    Passage ids are the `_id`s, so a re-run overwrites rather than duplicates; an index
    that already holds exactly `max_docs` documents is left alone (fast restart).
    """
    from elasticsearch.helpers import bulk

    docs = passages(max_docs)
    if not es.indices.exists(index=index):
        es.indices.create(index=index, **MAPPING)
    elif es.count(index=index)["count"] == max_docs:
        return max_docs
    now = datetime.now(UTC).isoformat()
    bulk(es, (_action(index, passage, now) for passage in docs))
    es.indices.refresh(index=index)
    return int(es.count(index=index)["count"])


def _action(index: str, passage: Passage, indexed_at: str) -> dict:
    source = {
        "module": passage.module,
        "title": passage.title,
        "text": passage.text,
        "words": passage.words,
        "indexed_at": indexed_at,
    }
    return {"_index": index, "_id": passage.id, "_source": source}


@functools.cache
def _all_passages() -> tuple[Passage, ...]:
    """Every passage of every source, in source order, repeated texts dropped."""
    seen: set[str] = set()
    result: list[Passage] = []
    with warnings.catch_warnings():  # reading some deprecated names warns (typing.io)
        warnings.simplefilter("ignore", DeprecationWarning)
        for module in sorted(MODULES):
            for passage in _pack(module, _docstrings(module)):
                if passage.text not in seen:
                    seen.add(passage.text)
                    result.append(passage)
    return tuple(result)


def _pack(module: str, docs: Iterable[tuple[str, str]]) -> Iterator[Passage]:
    """Pack prose units into MIN_WORDS..MAX_WORDS passages, closing one as soon as it can.

    Most method docstrings are a sentence or two: rather than being lost, they are merged
    with their neighbours, under the title of the narrowest object that contains them all.
    """
    current: list[tuple[str, str]] = []
    for title, doc in docs:
        for unit in _units(doc):
            size = _words(current)
            if size >= MIN_WORDS or size + len(unit.split()) > MAX_WORDS:
                yield from _flush(module, current)
            current.append((title, unit))
    yield from _flush(module, current)


def _words(units: list[tuple[str, str]]) -> int:
    return sum(len(text.split()) for _, text in units)


def _flush(module: str, units: list[tuple[str, str]]) -> Iterator[Passage]:
    """Yield the packed units as one passage if long enough, and empty the list."""
    if _words(units) >= MIN_WORDS:
        title = _common_owner([title for title, _ in units])
        yield _passage(module, title, " ".join(text for _, text in units))
    units.clear()


def _common_owner(titles: list[str]) -> str:
    """Longest common dotted prefix: json.dumps + json.loads -> json."""
    common: list[str] = []
    for names in zip(*(title.split(".") for title in titles), strict=False):
        if len(set(names)) > 1:
            break
        common.append(names[0])
    return ".".join(common)


def _passage(module: str, title: str, text: str) -> Passage:
    digest = hashlib.sha1(f"{module}\0{title}\0{text}".encode()).hexdigest()[:16]
    return Passage(id=digest, module=module, title=title, text=text, words=len(text.split()))


def _docstrings(name: str) -> Iterator[tuple[str, str]]:
    """(qualified name, docstring) of a module and its own public members, sorted.

    Modules with Python source are read with `ast`, never imported: what a live module
    holds depends on the process (gevent, which the load generator loads, swaps functions
    of `socket`, `time`, `os`...), and the corpus must be the same bytes everywhere.
    Extension modules have no source and are read live."""
    if name == TOPICS:
        yield from _topics()
        return
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        return
    if spec is None:  # e.g. sqlite3 or ssl on a Python built without them
        return
    source = _source_file(name, spec.origin)
    if source is not None:
        yield from _source_docstrings(name, source.read_text(encoding="utf-8"))
    else:
        yield from _live_docstrings(name)


def _source_file(name: str, origin: str | None) -> Path | None:
    """The module's .py file; frozen stdlib modules (origin "frozen") have one too."""
    if origin and origin.endswith(".py"):
        return Path(origin)
    base = Path(sysconfig.get_paths()["stdlib"]).joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _source_docstrings(name: str, source: str) -> Iterator[tuple[str, str]]:
    tree = ast.parse(source)
    yield name, _clean(ast.get_docstring(tree, clean=False))
    for node in _public_defs(tree.body):
        yield f"{name}.{node.name}", _clean(ast.get_docstring(node, clean=False))
        if isinstance(node, ast.ClassDef):
            for member in _public_defs(node.body):
                yield (
                    f"{name}.{node.name}.{member.name}",
                    _clean(ast.get_docstring(member, clean=False)),
                )


_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _public_defs(body: list[ast.stmt]) -> list[ast.ClassDef | ast.FunctionDef]:
    """Public classes and functions defined in `body`, sorted by name, first of each name
    (a property's setter shares its getter's name)."""
    seen: dict[str, ast.ClassDef | ast.FunctionDef] = {}
    for node in body:
        if isinstance(node, _DEFS) and not node.name.startswith("_"):
            seen.setdefault(node.name, node)
    return [seen[n] for n in sorted(seen)]


def _clean(doc: str | None) -> str:
    return inspect.cleandoc(doc) if doc else ""


def _live_docstrings(name: str) -> Iterator[tuple[str, str]]:
    """An extension module's docstrings, from the imported module."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return
    yield name, _own_doc(module)
    for attr, obj in _public_members(module):
        if getattr(obj, "__module__", None) != name:
            continue  # re-exported from elsewhere: walked (or not) under its own module
        yield f"{name}.{attr}", _own_doc(obj)
        if inspect.isclass(obj):
            for method, member in _public_members(obj):
                yield f"{name}.{attr}.{method}", _own_doc(member)


def _topics() -> Iterator[tuple[str, str]]:
    """The Language Reference sections `help()` shows, shipped as plain text."""
    from pydoc_data.topics import topics

    for key in sorted(topics):
        yield f"{TOPICS}.{key}", topics[key]


def _public_members(owner: ModuleType | type) -> Iterator[tuple[str, object]]:
    """Own public classes and routines (and properties, for a class), sorted by name."""
    for attr in sorted(vars(owner)):
        obj = vars(owner)[attr]
        if attr.startswith("_"):
            continue
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        if inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, property):
            yield attr, obj


def _own_doc(obj: object) -> str:
    """The object's own docstring: `__doc__` is never inherited, unlike `inspect.getdoc`."""
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _units(doc: str) -> Iterator[str]:
    """Prose paragraphs, whitespace-normalised; long ones split into sentences."""
    for paragraph in re.split(r"\n\s*\n", doc):
        if not _is_prose(paragraph):
            continue
        text = " ".join(paragraph.split())
        if len(text.split()) <= MAX_WORDS:
            yield text
        else:
            yield from _sentences(text)


def _is_prose(paragraph: str) -> bool:
    """Mostly words, not code, tables, doctests or parameter lists of symbols."""
    lines = paragraph.strip().splitlines()
    if not lines or any(_CODE_LINE.match(line) for line in lines):
        return False
    tokens = paragraph.split()
    return sum(bool(_PROSE_WORD.match(t)) for t in tokens) >= 0.75 * len(tokens)


def _sentences(text: str) -> Iterator[str]:
    """Sentences of a long paragraph; a sentence over MAX_WORDS is cut into word runs."""
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        for start in range(0, len(words), MAX_WORDS):
            yield " ".join(words[start : start + MAX_WORDS])
