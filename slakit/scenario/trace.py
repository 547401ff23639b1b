"""Reading a request trace to replay: a JSONL file in the Mooncake trace's columns.

Each line is one request: `timestamp` (milliseconds; any origin, the first request is
sent at the step's start), `input_length` and `output_length` (tokens). Other fields
(Mooncake's `hash_ids`, a `session_id`) are read past: a public trace loads as it is.
BurstGPT and Azure traces are CSV with other names; one line of conversion makes them
this. A broken row is bad input, one `file:line` problem each, before any load.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from slakit.errors import InputError
from slakit.scenario.schedules import TraceRow
from slakit.yamlconf import read_text

MAX_TRACE_BYTES = 64 * 1024 * 1024
"""A trace is held in memory whole; a bigger file is not one."""
MAX_ROW_PROBLEMS = 20
"""Broken rows reported at most; past this many the file is not a trace."""
MS = 1000.0
COLUMNS = ("timestamp", "input_length", "output_length")


@functools.cache
def read_trace(path: Path, time_scale: float = 1.0) -> tuple[TraceRow, ...]:
    """The trace's rows in time order, their times in seconds from the first request and
    multiplied by `time_scale`."""
    problems, rows = [], []
    for number, line in enumerate(read_text(path, MAX_TRACE_BYTES).splitlines(), 1):
        if not line.strip():
            continue
        row = _row(line)
        if isinstance(row, str):
            problems.append(f"{path}:{number}: {row}")
            if len(problems) == MAX_ROW_PROBLEMS:
                break
        else:
            rows.append(row)
    if problems:
        raise InputError(*problems)
    if not rows:
        raise InputError(f"{path}: no requests in the trace")
    rows.sort(key=lambda r: r[0])
    first = rows[0][0]
    return tuple(TraceRow((ms - first) / MS * time_scale, i, o) for ms, i, o in rows)


def _row(line: str) -> tuple[float, int, int] | str:
    """(timestamp ms, input, output) of one line, or what is wrong with it."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        return (
            'expected a JSON object like {"timestamp": 0, "input_length": 64, "output_length": 32}'
        )
    missing = [c for c in COLUMNS if c not in data]
    if missing:
        return f"missing {', '.join(missing)}"
    stamp, tokens_in, tokens_out = (data[c] for c in COLUMNS)
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not 0 <= stamp < 1e15:
        return f"timestamp: expected milliseconds as a number of at least 0, not {stamp!r}"
    for name, value in (("input_length", tokens_in), ("output_length", tokens_out)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"{name}: expected a whole number of tokens of at least 1, not {value!r}"
    return float(stamp), tokens_in, tokens_out
