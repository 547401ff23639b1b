"""Per-request samples, streamed to disk as JSON lines while the run goes.

Flushed at least every `FLUSH_S` seconds, so a crash or Ctrl-C loses at most the last
second. Each process (the local runner, or each distributed worker) writes its own
`samples-*.jsonl`; reading a run concatenates them into one DataFrame.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

FLUSH_S = 0.5
CUT = "cut"
"""Error class of a request still in flight when its run ended: it got no outcome."""

_AXIS_EPOCH, _AXIS_MONOTONIC = time.time(), time.monotonic()


def axis_time() -> float:
    """Epoch seconds for the time axis: the wall clock read once per process, advanced by
    the monotonic clock since. A wall-clock step during a run (NTP) moves no request off
    its run's window, and no window off its requests."""
    return _AXIS_EPOCH + time.monotonic() - _AXIS_MONOTONIC


@dataclass
class Sample:
    """One request as the client saw it. `start` and `end` are epoch seconds (`axis_time`),
    only to place the request on the time axis; every duration is measured on the
    monotonic clock (from `begin`), so a wall-clock step during a run cannot bend a latency."""

    kind: str
    start: float
    end: float = 0.0
    status: int = 0  # HTTP status, 0 when no response arrived
    error: str | None = None  # error class; None for a success
    cut_reason: str | None = None  # why the run ended with this request in flight (CUT)
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)  # gaps between token arrivals
    tokens_in: int | None = None  # as the server counted them (usage.prompt_tokens)
    tokens_in_requested: int | None = None  # what the prompt was sized to; None: not sized
    tokens_in_sized_by: str | None = None  # server | tokenizer | words (slakit.load.sizing)
    tokens_out: int | None = None
    late_s: float = 0.0  # open loop: how far behind its scheduled start it went out
    conversation: str | None = None  # multi-turn kinds: the conversation's id
    turn: int | None = None  # and the turn's number in it, 1 the first
    trace_id: str = ""
    _begun: float = field(default=0.0, init=False, repr=False, compare=False)

    def begin(self) -> None:
        """Stamp the send: epoch time for the axis, the monotonic clock for durations."""
        self._begun = time.monotonic()
        self.start = _AXIS_EPOCH + self._begun - _AXIS_MONOTONIC

    def elapsed(self) -> float:
        """Seconds since `begin`, on the monotonic clock."""
        return time.monotonic() - self._begun

    def finish(self) -> None:
        """Stamp the end: `start` plus the monotonic time since `begin`."""
        self.end = self.start + self.elapsed()

    @property
    def latency_s(self) -> float:
        return self.end - self.start


class SampleWriter:
    """Appends samples as JSON lines; flushes every `flush_s` seconds and on close."""

    def __init__(self, path: Path, flush_s: float = FLUSH_S) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._flush_s = flush_s
        self._file = path.open("a", buffering=1 << 16)
        self._last_flush = time.monotonic()
        self.count = 0

    def write(self, sample: Sample) -> None:
        record = asdict(sample)
        del record["_begun"]  # a monotonic reading means nothing outside this process
        record["latency_s"] = sample.latency_s
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.count += 1
        if time.monotonic() - self._last_flush >= self._flush_s:
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


COLUMNS = [
    "kind",
    "start",
    "end",
    "latency_s",
    "status",
    "error",
    "cut_reason",
    "ttft_s",
    "itl_s",
    "tokens_in",
    "tokens_in_requested",
    "tokens_in_sized_by",
    "tokens_out",
    "late_s",
    "trace_id",
    "conversation",
    "turn",
]


def read_samples(run_dir: Path) -> pd.DataFrame:
    """All samples of a run (every samples-*.jsonl), sorted by start; a torn last line
    (the process died mid-write) is dropped, not fatal."""
    records = []
    for path in sorted(run_dir.glob("samples-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    return frame.sort_values("start", kind="stable").reset_index(drop=True)


def outcome_counts(frame: pd.DataFrame) -> tuple[int, int, int]:
    """(completed, failed, cut) among the requests of `frame`: each request is one."""
    errors = frame["error"]
    cut = int((errors == CUT).sum())
    failed = int(errors.notna().sum()) - cut
    return len(frame) - failed - cut, failed, cut
