"""What one LLM request sends, as a turn of a conversation.

A kind without `conversation` sends one-turn conversations that are not recorded as
such. With it, each conversation sends its history with every turn: the user's earlier
prompts and the assistant's replies as they were streamed, so later turns have growing
prompts whose start the server has cached. The load's rate (or its users) counts turns:
a request continues the conversation that has waited longest once its `think_time` after
the last reply is over, else it starts a new one. A conversation ends after its turns, or
at a failed turn (there is no reply to continue from).

Shared prefixes (`prefix`) are chosen per conversation: chat sends one as the system
message, completions put it before the prompt.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field

from slakit.load.counters import chat_messages, system_message, with_prefix
from slakit.load.prompts import draw_tokens
from slakit.load.sizing import Drawn, PromptPool, SharedPrefix
from slakit.scenario import LlmKind


@dataclass
class Conversation:
    id: str | None  # None: a one-turn request, not recorded as a conversation
    turns: int
    prefix: SharedPrefix | None
    history: list[dict] = field(default_factory=list)
    sent: int = 0  # turns sent so far


@dataclass(frozen=True)
class Turn:
    """One request: its conversation, its number there (1 is the first) and its prompt."""

    conversation: Conversation
    number: int
    drawn: Drawn

    def body(self, chat: bool) -> dict:
        """The request body's input: `messages` for chat, `prompt` for completions."""
        prefix = self.conversation.prefix
        if not chat:
            prompt = self.drawn.prompt
            return {"prompt": with_prefix(prefix.text, prompt) if prefix else prompt}
        context = [system_message(prefix.text)] if prefix else []
        context += self.drawn.context if self.number == 1 else self.conversation.history
        return {"messages": chat_messages(self.drawn.prompt, context)}

    @property
    def tokens(self) -> int | None:
        """The input tokens the request was sized to: None for a later turn (its history
        is the replies, counted by the server only) or an unsized prompt."""
        if self.number > 1 or self.drawn.tokens is None:
            return None
        return self.drawn.tokens + (
            self.conversation.prefix.added if self.conversation.prefix else 0
        )


class Conversations:
    """One kind's conversations in one process: those waiting for their next turn, in the
    order their replies came."""

    def __init__(self, spec: LlmKind, pool: PromptPool, rng: random.Random) -> None:
        self._spec = spec.conversation
        self._pool = pool
        self._rng = rng
        self._ids = itertools.count(1)
        self._prefix = f"{rng.getrandbits(32):08x}"  # tells apart the workers' conversations
        self._waiting: deque[tuple[float, Conversation]] = deque()

    def next_turn(self, tokens: int | None = None) -> Turn:
        """`tokens`: the prompt's length, when the request's due time says it (a trace's)."""
        if self._waiting and self._waiting[0][0] <= time.monotonic():
            conversation = self._waiting.popleft()[1]
        else:
            conversation = self._start()
        conversation.sent += 1
        return Turn(conversation, conversation.sent, self._pool.draw(self._rng, tokens))

    def answered(self, turn: Turn, reply: str | None) -> None:
        """Record the turn's exchange; `reply` None (the turn failed) ends the conversation."""
        conversation = turn.conversation
        if reply is None or conversation.sent >= conversation.turns:
            return
        context = turn.drawn.context if turn.number == 1 else ()  # a dataset row's, kept
        conversation.history += chat_messages(turn.drawn.prompt, context)
        conversation.history.append({"role": "assistant", "content": reply})
        ready = time.monotonic() + self._spec.think_time
        self._waiting.append((ready, conversation))

    def _start(self) -> Conversation:
        prefixes = self._pool.prefixes
        prefix = self._rng.choice(prefixes) if prefixes else None
        if self._spec is None:
            return Conversation(None, 1, prefix)
        turns = draw_tokens(self._spec.turns, self._rng)
        return Conversation(f"{self._prefix}-{next(self._ids)}", turns, prefix)
