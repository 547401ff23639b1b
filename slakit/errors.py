"""The two kinds of failure the CLI maps to exit codes.

`InputError` is the user's to fix (exit 2): bad files, bad fields, unreachable targets.
`StackError` is a part of the running system failing (exit 1). Both carry one readable
line per problem so the CLI never shows a traceback for them.
"""

from __future__ import annotations

import unicodedata


class SlakitError(Exception):
    """Base: a list of one-line problems."""

    exit_code = 1

    def __init__(self, *problems: str) -> None:
        self.problems = [p for p in problems if p]
        super().__init__("\n".join(self.problems))


class InputError(SlakitError):
    """Bad input: a file, a field, an argument, an unreachable target. Exit code 2."""

    exit_code = 2


class StackError(SlakitError):
    """A part of the embedded stack failed to start, answer or stop. Exit code 1."""

    exit_code = 1


def safe_text(text: str) -> str:
    """`text` with control and format characters replaced by a space, for anything a
    target sent (a reason phrase, an error body) before it reaches a terminal: `\\x1b[2J`
    would clear the user's screen and a bidi override would reorder the line they read."""
    return "".join(" " if _hidden(ch) else ch for ch in text)


def _hidden(ch: str) -> bool:
    # C*: control, format (bidi overrides), surrogates, private use, unassigned;
    # Zl, Zp: line and paragraph separators, which would break one problem into two lines.
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp")
