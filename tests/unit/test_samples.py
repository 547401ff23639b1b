"""Samples streamed to JSON lines and read back as one frame per run, including what a
crash mid-write leaves behind."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slakit.load.samples import COLUMNS, Sample, SampleWriter, read_samples


def chat(start: float, latency: float = 0.5, **fields) -> Sample:
    return Sample(kind="chat", start=start, end=start + latency, **fields)


def write(path: Path, *samples: Sample) -> None:
    writer = SampleWriter(path)
    for sample in samples:
        writer.write(sample)
    writer.close()


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    streamed = Sample(
        kind="rag",
        start=1000.25,
        end=1001.0,
        status=200,
        ttft_s=0.125,
        itl_s=[0.01, 0.02, 0.03],
        tokens_in=64,
        tokens_out=4,
        late_s=0.002,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )
    failed = Sample(kind="es_search", start=1002.0, end=1032.0, status=0, error="timeout")
    write(tmp_path / "samples-local.jsonl", streamed, failed)

    frame = read_samples(tmp_path)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 2
    first, second = frame.iloc[0], frame.iloc[1]
    assert (first["kind"], first["start"], first["end"]) == ("rag", 1000.25, 1001.0)
    assert first["latency_s"] == pytest.approx(0.75)
    assert (first["status"], first["tokens_in"], first["tokens_out"]) == (200, 64, 4)
    assert first["ttft_s"] == 0.125
    assert list(first["itl_s"]) == [0.01, 0.02, 0.03]
    assert first["late_s"] == 0.002
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert pd.isna(first["error"])
    assert second["error"] == "timeout"
    assert second["latency_s"] == pytest.approx(30.0)
    assert second["status"] == 0
    assert list(second["itl_s"]) == []


def test_latency_is_written_with_each_line(tmp_path: Path) -> None:
    write(tmp_path / "samples-a.jsonl", chat(10.0, 0.25))
    record = json.loads((tmp_path / "samples-a.jsonl").read_text())
    assert record["latency_s"] == 0.25
    assert set(record) == set(COLUMNS)


def test_every_process_file_is_read_and_sorted_by_start(tmp_path: Path) -> None:
    write(tmp_path / "samples-worker-1.jsonl", chat(3.0), chat(1.0))
    write(tmp_path / "samples-worker-2.jsonl", chat(2.0), chat(0.5))
    (tmp_path / "schedule-worker-1.json").write_text('{"offered": 4, "backlog": 0}')
    frame = read_samples(tmp_path)
    assert frame["start"].tolist() == [0.5, 1.0, 2.0, 3.0]
    assert frame.index.tolist() == [0, 1, 2, 3]


def test_equal_starts_keep_file_then_line_order(tmp_path: Path) -> None:
    """Enough rows that an unstable sort would reorder them (numpy sorts small arrays by
    insertion, which happens to be stable)."""
    b = [f"b{i:02d}" for i in range(40)]
    a = [f"a{i:02d}" for i in range(40)]
    write(tmp_path / "samples-b.jsonl", *(chat(float(i % 2), trace_id=t) for i, t in enumerate(b)))
    write(tmp_path / "samples-a.jsonl", *(chat(float(i % 2), trace_id=t) for i, t in enumerate(a)))
    expected = a[0::2] + b[0::2] + a[1::2] + b[1::2]
    assert read_samples(tmp_path)["trace_id"].tolist() == expected


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    """The process died mid-write: the last line is a prefix of a record, no newline."""
    path = tmp_path / "samples-local.jsonl"
    write(path, chat(1.0), chat(2.0), chat(3.0))
    whole = json.dumps({**json.loads(path.read_text().splitlines()[0]), "start": 4.0})
    with path.open("a") as file:
        file.write(whole[: len(whole) // 2])
    frame = read_samples(tmp_path)
    assert frame["start"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("cut", [1, 10, -1])
def test_a_torn_line_in_one_process_file_keeps_the_others(tmp_path: Path, cut: int) -> None:
    write(tmp_path / "samples-worker-1.jsonl", chat(1.0))
    path = tmp_path / "samples-worker-2.jsonl"
    write(path, chat(2.0))
    line = json.dumps({"kind": "chat", "start": 0.5, "end": 1.0, "latency_s": 0.5})
    with path.open("a") as file:
        file.write(line[:cut])
    assert read_samples(tmp_path)["start"].tolist() == [1.0, 2.0]


def test_a_file_holding_only_a_torn_line_gives_an_empty_frame(tmp_path: Path) -> None:
    (tmp_path / "samples-local.jsonl").write_text('{"kind":"chat","sta')
    frame = read_samples(tmp_path)
    assert frame.empty
    assert list(frame.columns) == COLUMNS


def test_a_run_without_samples_gives_an_empty_frame(tmp_path: Path) -> None:
    frame = read_samples(tmp_path)
    assert frame.empty
    assert list(frame.columns) == COLUMNS


def test_writer_makes_its_directory_and_counts(tmp_path: Path) -> None:
    writer = SampleWriter(tmp_path / "runs" / "r1" / "samples-local.jsonl")
    for i in range(3):
        writer.write(chat(float(i)))
    assert writer.count == 3
    writer.close()
    writer.close()  # closing twice is harmless
    assert len(read_samples(tmp_path / "runs" / "r1")) == 3


def test_writer_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "samples-local.jsonl"
    write(path, chat(1.0))
    write(path, chat(2.0))
    assert read_samples(tmp_path)["start"].tolist() == [1.0, 2.0]


def test_samples_are_on_disk_after_flush_before_close(tmp_path: Path) -> None:
    writer = SampleWriter(tmp_path / "samples-local.jsonl", flush_s=3600.0)
    writer.write(chat(1.0))
    assert read_samples(tmp_path).empty  # still buffered: no flush interval has passed
    writer.flush()
    assert read_samples(tmp_path)["start"].tolist() == [1.0]
    writer.close()


def test_writer_flushes_by_itself_once_the_interval_passed(tmp_path: Path) -> None:
    writer = SampleWriter(tmp_path / "samples-local.jsonl", flush_s=0.0)
    writer.write(chat(1.0))
    writer.write(chat(2.0))
    assert read_samples(tmp_path)["start"].tolist() == [1.0, 2.0]  # not closed yet
    writer.close()
