"""Multi-turn conversations and shared prefixes (`slakit.load.conversations`): what each
turn sends, how conversations take turns, SLOs scoped by turn; a whole run on the
simulated engine; shared prefixes exactly their length by the tiny model's own tokenizer;
a sweep's fresh prompts per step and the warning when they are not."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from slakit.load import sizing
from slakit.load.conversations import Conversations
from slakit.load.prompts import for_step
from slakit.scenario import LlmKind, Scenario
from tests.e2e.test_run_scenario import _report, _run_against, _run_dir, _scenario, sim_engine
from tests.unit.test_bad_input_cli import refused
from tests.unit.test_scenario_errors import GOOD
from tests.unit.test_sizing import no_tokenize, target, tiny_tokenizer  # noqa: F401 (fixtures)


def _pool(*prefixes: str) -> sizing.PromptPool:
    source = {"source": "text", "text": "question"}
    spec = LlmKind(kind="chat", prompt=source)
    shared = tuple(sizing.SharedPrefix(text, 10) for text in prefixes)
    return sizing.PromptPool(spec.prompt, 64, None, prefixes=shared)


def _chats(turns, think_time: str = "0s", *prefixes: str) -> Conversations:
    spec = LlmKind(kind="chat", conversation={"turns": turns, "think_time": think_time})
    return Conversations(spec, _pool(*prefixes), random.Random(1))


def test_each_turn_sends_the_history_with_the_replies_as_streamed() -> None:
    chats = _chats(3, "0s", "you are a prefix")
    first = chats.next_turn()
    assert first.number == 1 and first.body(chat=True)["messages"] == [
        {"role": "system", "content": "you are a prefix"},
        {"role": "user", "content": "question"},
    ]
    chats.answered(first, "reply one")
    second = chats.next_turn()
    assert second.conversation is first.conversation and second.number == 2
    assert second.body(chat=True)["messages"] == [
        {"role": "system", "content": "you are a prefix"},
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": "reply one"},
        {"role": "user", "content": "question"},
    ]
    assert first.tokens is None and second.tokens is None  # text prompts are not sized
    chats.answered(second, "reply two")
    third = chats.next_turn()
    chats.answered(third, "reply three")
    fourth = chats.next_turn()  # the first ended after its 3 turns: a new one starts
    assert third.number == 3 and fourth.number == 1
    assert fourth.conversation.id != first.conversation.id


def test_a_conversation_waits_its_think_time_and_ends_at_a_failed_turn() -> None:
    chats = _chats(5, "200ms")
    first = chats.next_turn()
    chats.answered(first, "reply")
    other = chats.next_turn()  # the first is still thinking
    assert other.conversation is not first.conversation and other.number == 1
    chats.answered(other, None)  # failed: nothing to continue from
    time.sleep(0.25)
    again = chats.next_turn()
    assert again.conversation is first.conversation and again.number == 2
    assert chats.next_turn().number == 1  # `other` never comes back


def test_without_a_conversation_each_request_is_one_unrecorded_turn() -> None:
    spec = LlmKind(kind="completions")
    pool = _pool("shared prefix")
    chats = Conversations(spec, pool, random.Random(1))
    turn = chats.next_turn()
    assert turn.conversation.id is None and turn.number == 1
    assert turn.body(chat=False) == {"prompt": "shared prefix\nquestion"}
    chats.answered(turn, "reply")
    assert chats.next_turn().conversation is not turn.conversation


def test_a_first_turn_counts_its_prefix_in_its_sized_tokens() -> None:
    pool = sizing.PromptPool(LlmKind(kind="chat").prompt, 16, "words", {16: ("a b",)})
    pool = sizing.PromptPool(
        pool.source, 16, "words", pool.exact, prefixes=(sizing.SharedPrefix("p", 9),)
    )
    spec = LlmKind(kind="chat", conversation={"turns": 2})
    chats = Conversations(spec, pool, random.Random(1))
    first = chats.next_turn()
    chats.answered(first, "r")
    assert (first.tokens, chats.next_turn().tokens) == (25, None)


@pytest.mark.parametrize("name", ["chat", "completions"])
def test_shared_prefixes_are_exactly_their_tokens_and_add_what_they_count(
    no_tokenize,  # noqa: F811
    tiny_tokenizer,  # noqa: F811
    name: str,
) -> None:
    from transformers import AutoTokenizer

    spec = LlmKind(
        kind=name, input_tokens=20, prefix={"groups": 3, "tokens": 50}, tokenizer=tiny_tokenizer
    )
    pool = sizing.prompt_pool(spec, target(no_tokenize), seed=4)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    assert len({p.text for p in pool.prefixes}) == 3
    for prefix in pool.prefixes:
        assert len(tokenizer(prefix.text, add_special_tokens=False)["input_ids"]) == 50
    chats = Conversations(spec, pool, random.Random(2))
    for _ in range(10):
        turn = chats.next_turn()
        body = turn.body(chat=name == "chat")
        if name == "chat":
            ids = tokenizer.apply_chat_template(
                body["messages"], add_generation_prompt=True, return_dict=True
            )["input_ids"]
        else:
            ids = tokenizer(body["prompt"])["input_ids"]
        assert len(ids) == turn.tokens


MULTI_TURN = {
    "kind": "chat",
    "input_tokens": 16,
    "output_tokens": 6,
    "conversation": {"turns": 3},
}
TURN_SLOS = [
    {"name": f"ttft-{t}", "sli": "ttft", "aggregation": "p95", "objective": "< 2s", "turn": t}
    for t in ("first", "later")
]


def test_a_run_records_conversations_and_judges_first_and_later_turns_apart(
    tmp_path: Path,
) -> None:
    scenario = _scenario(
        tmp_path,
        "multi-turn",
        workload=[MULTI_TURN],
        load={"rate": {"rps": 10, "duration": "4s"}},
        slos=TURN_SLOS,
        gate={"min_samples": 1},
    )
    out = tmp_path / "reports"
    with sim_engine() as (url, _):
        r = _run_against(url, scenario, out)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = (_run_dir(out) / "samples-local.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    by_conversation: dict[str, list[dict]] = {}
    for sample in samples:
        by_conversation.setdefault(sample["conversation"], []).append(sample)
    assert len(by_conversation) > 3 and None not in by_conversation
    for turns in by_conversation.values():
        assert [s["turn"] for s in turns] == list(range(1, len(turns) + 1))
        assert len(turns) <= 3
        counted = [s["tokens_in"] for s in turns]
        assert counted == sorted(set(counted)), counted  # the history grows every turn
        assert turns[0]["tokens_in"] == turns[0]["tokens_in_requested"] == 16
    slos = {s["name"]: s for s in _report(out)["slos"]}
    later = sum(s["turn"] > 1 for s in samples)
    assert slos["ttft-later"]["turn"] == "later" and 0 < slos["ttft-later"]["samples"] <= later
    assert slos["ttft-first"]["samples"] <= len(samples) - later
    assert "Time to first token p95 (later turns)" in (_run_dir(out) / "summary.md").read_text()


def test_a_turn_scope_needs_a_conversation_and_a_client_side_sli(tmp_path: Path) -> None:
    for case in "abc":
        (tmp_path / case).mkdir()
    no_conversation = GOOD.replace('objective: "< 500ms"}', 'objective: "< 500ms", turn: later}')
    (line,) = refused(tmp_path / "a", no_conversation)
    assert line.endswith(
        "slos.0.turn: turn 'later': no request kind has a `conversation`, "
        "so every request is a first turn"
    ), line
    server = GOOD.replace(
        "{name: ttft, sli: ttft,", "{name: ttft, sli: vllm_ttft, turn: first,"
    ).replace("  - kind: chat\n", "  - kind: chat\n    conversation: {turns: 2}\n")
    (line,) = refused(tmp_path / "b", server)
    assert "slos.0.turn: sli 'vllm_ttft' is the server's, which does not count by turn" in line
    completions = GOOD.replace("kind: chat", "kind: completions\n    conversation: {turns: 2}")
    (line,) = refused(tmp_path / "c", completions)
    assert "workload.0.completions.conversation: a conversation needs `kind: chat`" in line


def _sweep(fresh: bool) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "s",
            "workload": [{"kind": "chat", "prompt": {"fresh_per_step": fresh, "seed": 5}}],
            "load": {"sweep": {"rates": [1, 2, 4], "step_duration": "10s"}},
        }
    )


def test_fresh_prompts_per_step_shift_the_seed_and_resent_prompts_are_warned_of(
    capsys: pytest.CaptureFixture,
) -> None:
    fresh = _sweep(True)
    assert [for_step(fresh, i).workload[0].prompt.seed for i in range(3)] == [5, 6, 7]
    assert capsys.readouterr().err == ""
    resent = _sweep(False)
    assert {for_step(resent, i).workload[0].prompt.seed for i in range(3)} == {5}
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("slakit: warning: chat: sweep steps after the first resend")
    assert "vllm-project/vllm#54227" in warning and "fresh_per_step: true" in warning
