"""Prompt datasets read from a local file, one `Row` per request-to-be, in four formats.

- `sharegpt`: a JSON array of `{"conversations": [{"from": "human", "value": ...}, ...]}`;
  the first human turn is the prompt, the turns before it (a system turn) its context.
- `openai`: JSON lines of `{"messages": [{"role": ..., "content": ...}, ...]}`; the last user
  message is the prompt, the messages before it its context (a trailing assistant reply,
  the dataset's answer, is not sent).
- `jsonl`: JSON lines of `{"prompt": ..., "output_tokens": N}` (`output_tokens` optional).
- `csv`: a header row naming `prompt` (and optionally `output_tokens`), one row per prompt.

Every broken row is reported as `file:line: what was expected`, up to `MAX_ROW_PROBLEMS`
of them, so a user fixes a file in one pass. Nothing is downloaded: the example files
under scenarios/data/ are made from slakit's corpus (`scripts/make_datasets.py`).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from slakit.errors import InputError
from slakit.yamlconf import read_text

MAX_DATASET_BYTES = 256 * 1024 * 1024
"""Datasets are held in memory whole; a bigger file is not one of them."""
MAX_ROW_PROBLEMS = 20
"""Broken rows reported one by one; beyond, one line says how many more."""
SHAREGPT_USER = ("human", "user")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "system": "system"}
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One prompt: its text, the messages a chat request sends before it, and the output
    length the dataset asks for (None: the kind's `output_tokens`)."""

    prompt: str
    line: int
    context: tuple[dict, ...] = ()
    output_tokens: int | None = None


class _Broken(ValueError):
    """A row that is not what its format expects: the message says what is."""


NOT_JSON = object()
"""A JSON line that does not parse: its format's parser says what it expected instead."""


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Broken(f"{what} must be a non-empty string")
    return value


def _output_tokens(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        tokens = int(value)
    except (TypeError, ValueError):
        tokens = 0
    if tokens < 1 or (isinstance(value, float | bool) and value != tokens):
        raise _Broken(f"output_tokens must be a whole number of at least 1, got {value!r}")
    return tokens


def _object(value: object, example: str) -> dict:
    if not isinstance(value, dict):
        raise _Broken(f"expected a JSON object like {example}")
    return value


def _sharegpt(value: object, line: int) -> Row:
    turns = _object(value, '{"conversations": [{"from": "human", "value": "..."}]}').get(
        "conversations"
    )
    if not isinstance(turns, list) or not turns:
        raise _Broken('expected "conversations": a list of {"from": ..., "value": ...}')
    context = []
    for number, turn in enumerate(turns, 1):
        turn = _object(turn, '{"from": "human", "value": "..."}')
        role = SHAREGPT_ROLES.get(turn.get("from"))
        if role is None:
            raise _Broken(
                f"conversations[{number}]: from must be one of {', '.join(SHAREGPT_ROLES)}"
            )
        text = _string(turn.get("value"), f"conversations[{number}].value")
        if role == "user":
            return Row(text, line, tuple(context))
        context.append({"role": role, "content": text})
    raise _Broken('no turn "from": "human" in conversations')


def _openai(value: object, line: int) -> Row:
    messages = _object(value, '{"messages": [{"role": "user", "content": "..."}]}').get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Broken('expected "messages": a list of {"role": ..., "content": ...}')
    checked = []
    for number, message in enumerate(messages, 1):
        message = _object(message, '{"role": "user", "content": "..."}')
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise _Broken(f"messages[{number}]: role must be system, user or assistant")
        checked.append({"role": role, "content": _string(message.get("content"), "content")})
    users = [i for i, m in enumerate(checked) if m["role"] == "user"]
    if not users:
        raise _Broken('no message with "role": "user"')
    last = users[-1]
    return Row(checked[last]["content"], line, tuple(checked[:last]))


def _plain(value: object, line: int) -> Row:
    row = _object(value, '{"prompt": "..."}')
    return Row(
        _string(row.get("prompt"), "prompt"), line, (), _output_tokens(row.get("output_tokens"))
    )


def _json_lines(text: str) -> Iterator[tuple[int, object]]:
    """(line, value) of each non-blank line."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except (ValueError, RecursionError):  # ValueError: a 5,000-digit number too
            yield number, NOT_JSON


def _json_array(text: str) -> Iterator[tuple[int, object]]:
    """(line, element) of a JSON array, each element at the line where it starts."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", 1)
        yield line, _Broken(f"not JSON: {getattr(exc, 'msg', 'too deeply nested')}")
        return
    if not isinstance(data, list):
        yield 1, _Broken("expected a JSON array of conversations")
        return
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    for _ in data:  # the text parsed whole, so each element decodes where it starts
        while text[position] in " \t\r\n,":
            position += 1
        value, end = decoder.raw_decode(text, position)
        yield text.count("\n", 0, position) + 1, value
        position = end


def _csv_rows(text: str) -> Iterator[tuple[int, object]]:
    """(line, {"prompt", "output_tokens"}) of each data row, the header naming the columns."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "prompt" not in reader.fieldnames:
        yield 1, _Broken('expected a header row naming a "prompt" column')
        return
    try:
        for row in reader:
            if None in row:
                yield (
                    reader.line_num,
                    _Broken(f"more fields than the header's {len(reader.fieldnames)}"),
                )
            elif any(row.values()):
                yield reader.line_num, row
    except csv.Error as exc:
        yield reader.line_num, _Broken(f"not CSV: {exc}")


READERS = {
    "sharegpt": (_json_array, _sharegpt),
    "openai": (_json_lines, _openai),
    "jsonl": (_json_lines, _plain),
    "csv": (_csv_rows, _plain),
}
"""Format -> (how the file splits into rows, how a row becomes a Row)."""


@functools.cache
def read_dataset(path: Path, fmt: str) -> tuple[Row, ...]:
    """Every row of the file; InputError with one `file:line: problem` per broken row."""
    split, parse = READERS[fmt]
    rows, problems = [], []
    for line, value in split(read_text(path, MAX_DATASET_BYTES)):
        try:
            if isinstance(value, _Broken):
                raise value
            rows.append(parse(value, line))
        except _Broken as exc:
            problems.append(f"{path}:{line}: {exc} ({fmt} format)")
    if len(problems) > MAX_ROW_PROBLEMS:
        more = len(problems) - MAX_ROW_PROBLEMS
        problems = [*problems[:MAX_ROW_PROBLEMS], f"{path}: and {more} more broken rows"]
    if problems:
        raise InputError(*problems)
    if not rows:
        raise InputError(f"{path}: no prompts in the file ({fmt} format)")
    return tuple(rows)


class RowSampler(Generic[T]):
    """Rows drawn at random: with replacement, or as a shuffled deck dealt to its end and
    then reshuffled, so every row is sent once before any is sent twice. The rows are
    whatever the caller made of the file's (`sizing.Drawn` prompts)."""

    def __init__(self, rows: tuple[T, ...], replace: bool) -> None:
        self._rows = rows
        self._replace = replace
        self._deck: list[T] = []

    def draw(self, rng: random.Random) -> T:
        if self._replace:
            return rng.choice(self._rows)
        if not self._deck:
            self._deck = rng.sample(self._rows, len(self._rows))
        return self._deck.pop()
