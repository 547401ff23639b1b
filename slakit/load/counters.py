"""Who counts tokens as the served model does, for sizing prompts before the load: the
target's own `POST /tokenize` and `/detokenize` (vLLM's fields), or a HuggingFace tokenizer
directory; and what a request sends for a prompt (chat messages, a prefixed prompt), so
what is counted is what is sent. Every call is bounded in time and size."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import httpx

from slakit.errors import InputError, safe_text
from slakit.target import ResolvedTarget

MAX_SIZING_S = 120.0
"""Sizing one kind's prompts takes at most this long."""
CALL_TIMEOUT_S = 10.0
"""Silence tolerated within one /tokenize or /detokenize call."""
MAX_ANSWER_BYTES = 8 << 20
"""Largest /tokenize or /detokenize answer read (2,048 token ids are about 10 KB)."""
MAX_REFITS = 4
"""Times one corpus window's cut is moved to reach the exact count before another is tried."""
NO_TOKENIZE = (404, 405, 501)
"""What a server without /tokenize answers it."""
PREFIX_SEPARATOR = "\n"
"""Between a completions prompt's shared prefix and its own text."""


def chat_messages(prompt: str, context: Sequence[dict] = ()) -> list[dict]:
    """The `messages` a chat request sends for `prompt` after its context (a shared system
    prompt, a dataset's earlier messages, a conversation's history), and that sizing counts."""
    return [*context, {"role": "user", "content": prompt}]


def with_prefix(prefix: str, prompt: str) -> str:
    """A completions prompt after its shared prefix (chat sends the prefix as a system
    message): the separator ends the prefix's last word, so its tokens stay its own."""
    return f"{prefix}{PREFIX_SEPARATOR}{prompt}"


def system_message(text: str) -> dict:
    """A chat request's shared prefix, as the message it is sent (and counted) as."""
    return {"role": "system", "content": text}


class Counter(Protocol):
    """What sizing needs of a tokenizer: token ids of raw text, text of token ids, and the
    count a request of `text` gets (special tokens, chat template included)."""

    max_len: int | None

    def ids(self, text: str) -> list[int]: ...

    def text(self, ids: list[int]) -> str: ...

    def count(self, text: str, chat: bool, context: Sequence[dict] = ()) -> int: ...


class Server:
    """The target's /tokenize and /detokenize, with vLLM's fields: a plain prompt gets the
    special tokens /v1/completions adds (`add_special_tokens` defaults to true), messages
    the chat template /v1/chat/completions applies (`add_generation_prompt` true)."""

    def __init__(self, target: ResolvedTarget, where: str, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        self._client = httpx.Client(base_url=target.openai, headers=headers, timeout=CALL_TIMEOUT_S)
        self._model = target.model
        self._where = where
        self._deadline = deadline
        self.max_len: int | None = None

    def probe(self) -> bool:
        """Whether the server tokenizes; learns its max_model_len on the way."""
        answer = self._post("/tokenize", {"prompt": ""}, missing_ok=True)
        if answer is None:
            return False
        max_len = answer.get("max_model_len")
        self.max_len = max_len if isinstance(max_len, int) else None
        return True

    def ids(self, text: str) -> list[int]:
        return self._field("/tokenize", {"prompt": text, "add_special_tokens": False}, "tokens")

    def text(self, ids: list[int]) -> str:
        return self._field("/detokenize", {"tokens": ids}, "prompt")

    def count(self, text: str, chat: bool, context: Sequence[dict] = ()) -> int:
        body = {"messages": chat_messages(text, context)} if chat else {"prompt": text}
        return self._field("/tokenize", body, "count")

    def close(self) -> None:
        self._client.close()

    def _field(self, path: str, body: dict, name: str):
        value = self._post(path, body).get(name)
        if not isinstance(value, int | str | list):
            raise self._problem(f"POST {path} answered without `{name}`")
        return value

    def _post(self, path: str, body: dict, missing_ok: bool = False) -> dict | None:
        try:
            with self._client.stream("POST", path, json={"model": self._model, **body}) as r:
                status, content = r.status_code, self._read(r, path)
        except httpx.HTTPError as exc:
            raise self._problem(f"POST {path} failed: {type(exc).__name__}") from None
        if missing_ok and status in NO_TOKENIZE:
            return None
        if status != 200:
            said = safe_text(content[:200].decode(errors="replace"))
            raise self._problem(f"POST {path} answered HTTP {status}: {said}")
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._problem(f"POST {path} answered something other than a JSON object")
        return answer

    def _read(self, response: httpx.Response, path: str) -> bytes:
        """The body, within MAX_ANSWER_BYTES and the sizing deadline: a target that trickles
        or floods its answer must not hold the run before it starts."""
        content = bytearray()
        for chunk in response.iter_bytes():
            content += chunk
            if len(content) > MAX_ANSWER_BYTES:
                raise self._problem(f"POST {path} answered more than {MAX_ANSWER_BYTES:,} bytes")
            if time.monotonic() > self._deadline:
                raise too_slow(self._where)
        return bytes(content)

    def _problem(self, what: str) -> InputError:
        return InputError(f"{self._where}: sizing prompts in the server's tokens: {what}")


class Local:
    """A HuggingFace tokenizer directory, read with `transformers` (its chat template too)."""

    def __init__(self, path: Path, where: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise InputError(
                f"{where}: sizing prompts with a tokenizer needs `transformers` "
                "(pip install 'slakit[reference]')"
            ) from None
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"{where}: {path} is not a tokenizer directory: {exc}") from None
        self.max_len = None  # the served model's own limit is the server's to say

    def ids(self, text: str) -> list[int]:
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def text(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids)

    def count(self, text: str, chat: bool, context: Sequence[dict] = ()) -> int:
        if chat:
            encoded = self._tokenizer.apply_chat_template(
                chat_messages(text, context),
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
            )
        else:
            encoded = self._tokenizer(text)
        return len(encoded["input_ids"])


def too_slow(where: str) -> InputError:
    return InputError(f"{where}: sizing prompts took longer than {MAX_SIZING_S:g} s")


def fit(
    counter: Counter, count: Callable[[str], int], ids: list[int], tokens: int, overhead: int
) -> str | None:
    """The text of the first tokens of `ids` that `count` makes exactly `tokens`, or None
    if this window gives none within MAX_REFITS counts."""
    take = tokens - overhead
    for _ in range(MAX_REFITS):
        if not 0 < take <= len(ids):
            return None
        text = counter.text(ids[:take])
        counted = count(text)
        if counted == tokens:
            return text
        take += tokens - counted
    return None
