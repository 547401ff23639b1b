"""Prompt datasets (`prompt: {source: dataset}`): each format read as documented, the
shipped examples what `scripts/make_datasets.py` writes, broken rows refused through the
real command line (exit 2, one `file:line` per row), seeded sampling with and without
replacement, and token filters counted by a real server's /tokenize."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest

from slakit.load import sizing
from slakit.load.datasets import RowSampler, read_dataset
from slakit.scenario import LlmKind
from tests.servers import REPO
from tests.unit.test_bad_input_cli import refused, with_chat
from tests.unit.test_sizing import engine, target  # noqa: F401 (a fixture)

DATA = REPO / "scenarios" / "data"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_datasets", REPO / "scripts/make_datasets.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_examples_are_what_the_generator_writes() -> None:
    generator = _generator()
    written = generator.contents()
    assert sorted(written) == sorted(generator.FILES.values())
    for name, text in written.items():
        assert (DATA / name).read_text() == text, name
    for fmt, name in generator.FILES.items():
        assert len(read_dataset(DATA / name, fmt)) == generator.ROWS, name


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sharegpt_sends_the_first_human_turn_after_its_system_turn(tmp_path: Path) -> None:
    data = [
        {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]},
        {
            "conversations": [
                {"from": "system", "value": "be brief"},
                {"from": "human", "value": "c"},
                {"from": "human", "value": "not sent"},
            ]
        },
    ]
    rows = read_dataset(_file(tmp_path, "s.json", json.dumps(data, indent=2)), "sharegpt")
    assert [(r.prompt, r.line) for r in rows] == [("a", 2), ("c", 14)]
    assert rows[1].context == ({"role": "system", "content": "be brief"},)


def test_openai_sends_the_last_user_message_after_the_ones_before_it(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": "the dataset's answer"},
    ]
    (row,) = read_dataset(_file(tmp_path, "c.jsonl", json.dumps({"messages": messages})), "openai")
    assert row.prompt == "u2" and row.context == tuple(messages[:3])


def test_jsonl_and_csv_rows_may_set_their_output_length(tmp_path: Path) -> None:
    jsonl = '{"prompt": "a", "output_tokens": 7}\n\n{"prompt": "b"}\n'
    rows = read_dataset(_file(tmp_path, "p.jsonl", jsonl), "jsonl")
    assert [(r.prompt, r.output_tokens, r.line) for r in rows] == [("a", 7, 1), ("b", None, 3)]
    csv = 'prompt,output_tokens\n"x, with a comma",5\n"two\nlines",\n'
    rows = read_dataset(_file(tmp_path, "p.csv", csv), "csv")
    assert [(r.prompt, r.output_tokens, r.line) for r in rows] == [
        ("x, with a comma", 5, 2),
        ("two\nlines", None, 4),
    ]


BROKEN = {
    "sharegpt": (
        "d.json",
        '[\n {"conversations": [{"from": "human", "value": "ok"}]},\n'
        ' {"conversations": [{"from": "robot", "value": "x"}]},\n'
        ' {"conversations": [{"from": "gpt", "value": "only an answer"}]}\n]\n',
        [
            "d.json:3: conversations[1]: from must be one of human, user, gpt, system",
            'd.json:4: no turn "from": "human" in conversations',
        ],
    ),
    "openai": (
        "d.jsonl",
        '{"messages": [{"role": "user", "content": "ok"}]}\n'
        '{"messages": [{"role": "assistant", "content": "no question"}]}\n'
        '{"messages": "cut off\n',
        [
            'd.jsonl:2: no message with "role": "user"',
            'd.jsonl:3: expected a JSON object like {"messages": [{"role": "user", ',
        ],
    ),
    "jsonl": (
        "d.jsonl",
        '{"prompt": "ok"}\n{"prompt": ""}\n{"prompt": "x", "output_tokens": 0}\n',
        [
            "d.jsonl:2: prompt must be a non-empty string",
            "d.jsonl:3: output_tokens must be a whole number of at least 1, got 0",
        ],
    ),
    "csv": (
        "d.csv",
        'prompt,output_tokens\nok,4\n"",3\nx,many\ny,1,extra\n',
        [
            "d.csv:3: prompt must be a non-empty string",
            "d.csv:4: output_tokens must be a whole number of at least 1, got 'many'",
            "d.csv:5: more fields than the header's 2",
        ],
    ),
}


@pytest.mark.parametrize("fmt", sorted(BROKEN))
def test_broken_rows_exit_2_one_line_each_with_file_and_line(fmt: str, tmp_path: Path) -> None:
    name, text, expected = BROKEN[fmt]
    data = tmp_path / "data"
    data.mkdir()
    path = _file(data, name, text)
    scenario = with_chat(f"prompt: {{source: dataset, path: {path}, format: {fmt}}}")
    lines = refused(tmp_path, scenario)
    assert len(lines) == len(expected), lines
    for line, fragment in zip(lines, expected, strict=True):
        assert line.startswith(f"{tmp_path}/scenario.yaml:4: workload.0.prompt.path: "), line
        assert f"{data}/{fragment}" in line, line


def test_a_dataset_needs_its_path_and_format(tmp_path: Path) -> None:
    (line,) = refused(tmp_path, with_chat("prompt: {source: dataset, path: x.json}"))
    assert "source 'dataset' needs `path` and `format` (sharegpt, openai, jsonl, csv)" in line


def test_without_replacement_every_row_goes_once_before_any_goes_twice() -> None:
    rows = read_dataset(DATA / "corpus-prompts.csv", "csv")
    sampler = RowSampler(rows, replace=False)
    rng = random.Random(3)
    first = [sampler.draw(rng) for _ in rows]
    assert sorted(r.line for r in first) == sorted(r.line for r in rows)
    again = RowSampler(rows, replace=False)
    assert [again.draw(random.Random(3)) for _ in range(1)] == first[:1]  # seeded
    with_replacement = RowSampler(rows, replace=True)
    drawn = [with_replacement.draw(rng).line for _ in range(len(rows))]
    assert len(set(drawn)) < len(rows)  # 40 draws from 40 rows repeat (p = 1 - 40!/40^40)


def _kind(kind: str, **prompt) -> LlmKind:
    source = {"source": "dataset", "path": str(DATA / "corpus-prompts.jsonl"), "format": "jsonl"}
    return LlmKind(kind=kind, prompt={**source, **prompt})


@pytest.mark.parametrize("kind", ["chat", "completions"])
def test_a_token_filter_keeps_the_rows_of_that_length_by_the_servers_count(
    engine: str,  # noqa: F811
    kind: str,
) -> None:
    pool = sizing.prompt_pool(_kind(kind, tokens={"min": 60, "max": 100}), target(engine), seed=1)
    assert pool.sized_by == sizing.SERVER
    everything = read_dataset(DATA / "corpus-prompts.jsonl", "jsonl")
    kept = [pool.draw(random.Random(n)) for n in range(30)]
    assert all(60 <= d.tokens <= 100 for d in kept)
    unfiltered = sizing.prompt_pool(_kind(kind), target(engine), seed=1)
    assert unfiltered.sized_by is None and unfiltered.draw(random.Random(0)).tokens is None
    assert 0 < len({d.prompt for d in kept}) < len(everything)


def test_a_token_filter_no_row_meets_is_refused(engine: str) -> None:  # noqa: F811
    spec = _kind("chat", tokens={"min": 1, "max": 2})
    with pytest.raises(Exception, match="no row of .* has 1 to 2 tokens"):
        sizing.prompt_pool(spec, target(engine), seed=1)
