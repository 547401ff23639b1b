"""The inference exporter's pure parts: stream, model-list and RAG-answer parsing, config.

Streams come from the simulated engine's real output (vLLM's shapes) and from hypothesis:
whatever bytes arrive, parsing gives a result with a reason and never raises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slakit import sse
from slakit.errors import InputError
from slakit.exporters.common import SourceError
from slakit.exporters.inference import (
    DEFAULT_PORT,
    StreamResult,
    load_config,
    parse_models,
    parse_rag,
    parse_stream,
)
from slakit.stack import sim_engine
from slakit.stack.config import SimConfig
from tests.servers import serve_in_thread

MODEL = "slakit-tiny"
REASONS = {"bad_json", "no_tokens", "incomplete_stream", "stream_error", None}


@pytest.fixture(scope="module")
def sim_url():
    app = sim_engine.create_app(SimConfig(port=18000, ttft_ms=5, token_delay_ms=1), MODEL)
    with serve_in_thread(app) as url:
        yield url


def raw_stream(url: str, path: str, **body) -> list[bytes]:
    """The chunks exactly as the engine sent them."""
    with httpx.stream("POST", f"{url}{path}", json={"model": MODEL, **body}, timeout=30) as r:
        assert r.status_code == 200
        return list(r.iter_raw())


def chat_stream(url: str, max_tokens: int = 8, **extra) -> list[bytes]:
    messages = [{"role": "user", "content": "say hello"}]
    return raw_stream(
        url, "/v1/chat/completions", messages=messages, max_tokens=max_tokens, stream=True, **extra
    )


def summary(result: StreamResult) -> tuple[int, bool, str | None]:
    return result.tokens, result.done, result.error


def test_real_chat_stream_counts_every_token(sim_url):
    chunks = chat_stream(sim_url, max_tokens=8)
    result = parse_stream(chunks)
    assert summary(result) == (8, True, None)
    assert list(result.token_chunks) == sorted(result.token_chunks)
    assert all(0 <= i < len(chunks) for i in result.token_chunks)


def test_real_stream_with_usage_chunk_and_text_completion(sim_url):
    with_usage = chat_stream(sim_url, max_tokens=5, stream_options={"include_usage": True})
    assert summary(parse_stream(with_usage)) == (5, True, None)
    text = raw_stream(sim_url, "/v1/completions", prompt="say hello", max_tokens=4, stream=True)
    assert summary(parse_stream(text)) == (4, True, None)


def test_real_stream_split_anywhere_or_cut_short(sim_url):
    stream = b"".join(chat_stream(sim_url, max_tokens=3))
    whole = summary(parse_stream([stream]))
    assert whole == (3, True, None)
    end = stream.rindex(sse.DONE_EVENT) + len(sse.DONE_EVENT)
    for cut in range(len(stream) + 1):
        assert summary(parse_stream([stream[:cut], stream[cut:]])) == whole
        cut_short = parse_stream([stream[:cut]])
        assert cut_short.error == (None if cut >= end else "incomplete_stream")


def test_one_byte_chunks_time_each_token_by_its_last_byte(sim_url):
    stream = b"".join(chat_stream(sim_url, max_tokens=3))
    result = parse_stream([stream[i : i + 1] for i in range(len(stream))])
    assert result.tokens == 3
    assert all(stream[i - 1 : i + 1] == b"\n\n" for i in result.token_chunks)


def chunk(content: object) -> bytes:
    return sse.encode({"choices": [{"index": 0, "delta": {"content": content}}]})


ROLE = sse.encode({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (b"", "incomplete_stream"),
        (chunk("hi"), "incomplete_stream"),
        (sse.DONE_EVENT, "no_tokens"),
        (ROLE + sse.encode({"choices": []}) + sse.DONE_EVENT, "no_tokens"),
        (b"data: {not json\n\n", "bad_json"),
        (sse.encode([1, 2]) + sse.DONE_EVENT, "bad_json"),
        (sse.encode({"id": "x"}) + sse.DONE_EVENT, "bad_json"),
        (sse.encode({"choices": ["x"]}), "bad_json"),
        (sse.encode({"choices": [{"delta": "x"}]}), "bad_json"),
        (chunk(7) + sse.DONE_EVENT, "bad_json"),
        (b"data: \xff\xfe\n\n", "bad_json"),
        (b"data: " + b"[" * 100_000 + b"\n\n", "bad_json"),
        (chunk("a") + sse.encode({"error": {"message": "boom", "code": 500}}), "stream_error"),
        (sse.encode({"object": "error", "message": "boom"}), "stream_error"),
        (b'{"choices": []}', "incomplete_stream"),  # a JSON body, not a stream
        (chunk("a") + sse.DONE_EVENT + b"data: {garbage after the end\n\n", None),
    ],
)
def test_broken_streams_give_a_reason(stream: bytes, reason: str | None):
    assert parse_stream([stream]).error == reason


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]):
    result = parse_stream(chunks)
    assert result.error in REASONS
    assert result.error is not None or (result.done and result.tokens > 0)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
PIECE = st.none() | st.text(max_size=5) | JSON
VLLM_LIKE = st.builds(
    lambda content, text, finish, extra: {
        "object": "chat.completion.chunk",
        "choices": [
            {
                "index": 0,
                "delta": {"content": content},
                "text": text,
                "finish_reason": finish,
                **extra,
            }
        ],
    },
    PIECE,
    PIECE,
    st.sampled_from([None, "length", "stop", 3]),
    st.dictionaries(st.sampled_from(["delta", "logprobs", "choices"]), JSON, max_size=2),
)
EVENT = st.one_of(
    VLLM_LIKE.map(sse.encode),
    JSON.map(sse.encode),
    st.text(max_size=20).map(lambda t: b"data: " + t.encode(errors="replace") + b"\n\n"),
    st.just(sse.DONE_EVENT),
    st.sampled_from([b": keepalive\n\n", b"event: x\n", b"\r\n", b"data:\n\n", b"id: 1\n\n"]),
    st.binary(max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, max_size=12), st.lists(st.integers(min_value=0), max_size=6))
def test_arbitrary_sse_streams_never_raise_and_splits_do_not_matter(events, cuts):
    stream = b"".join(events)
    whole = parse_stream([stream])
    assert whole.error in REASONS
    assert whole.error is not None or (whole.done and whole.tokens > 0)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    pieces = [stream[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert summary(parse_stream(pieces)) == summary(whole)


IGNORED = st.sampled_from(
    [b": keepalive\n\n", b"event: chunk\n", b"id: 7\n", b"retry: 10\n", b"\n"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=4), st.lists(IGNORED, max_size=2)), max_size=10),
    st.booleans(),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_well_formed_streams_count_exactly_what_was_sent(tokens, crlf, cuts):
    stream = b"".join(chunk(text) + b"".join(noise) for text, noise in tokens) + sse.DONE_EVENT
    if crlf:
        stream = stream.replace(b"\n", b"\r\n")
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    result = parse_stream(stream[a:b] for a, b in zip(points, points[1:], strict=False))
    sent = len(tokens)  # `""` too: a token the detokenizer holds back (sse.token_piece)
    assert summary(result) == (sent, True, None if sent else "no_tokens")


def test_tokens_are_counted_by_the_load_generators_rule():
    """The prober and the load generator count the same tokens on the same stream: those
    `sse.token_piece` finds, held-back `""` ones included, where counting events with text
    would find fewer (and time the gaps differently)."""
    events = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"content": "\u00e9t"}}]},
        {"choices": [{"index": 0, "delta": {"content": ""}}]},  # ends inside a character
        {"choices": [{"index": 0, "delta": {"content": "\u00e9"}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        {"choices": [], "usage": {"completion_tokens": 3}},
    ]
    stream = [sse.encode(event) for event in events] + [sse.DONE_EVENT]
    load_generator = [i for i, event in enumerate(events) if sse.token_piece(event) is not None]
    with_text = [i for i, event in enumerate(events) if sse.token_piece(event)]
    result = parse_stream(stream)
    assert summary(result) == (3, True, None)
    assert list(result.token_chunks) == load_generator == [1, 2, 3]
    assert len(with_text) == 2  # the old rule's count: the two rules differ here
    completions = [sse.encode({"choices": [{"index": 0, "text": t}]}) for t in ("a", "", "b")]
    assert parse_stream([*completions, sse.DONE_EVENT]).tokens == 3


def test_parse_models_reads_vllm_cards_and_rejects_garbage():
    body = json.dumps(
        {"data": [{"id": "m", "max_model_len": 2048, "owned_by": "vllm"}, {"id": "n"}]}
    )
    cards = parse_models(body.encode())
    assert [(c.id, c.max_model_len, c.owned_by) for c in cards] == [
        ("m", 2048, "vllm"),
        ("n", None, None),
    ]
    for garbage in (b"nope", b"[]", b'{"data": 3}', b'{"data": [{"id": 4}]}', b'{"data": ["x"]}'):
        with pytest.raises(SourceError) as err:
            parse_models(garbage)
        assert err.value.reason == "bad_json"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100) | JSON.map(lambda v: json.dumps(v).encode()))
def test_parse_models_and_rag_raise_only_source_errors(body: bytes):
    for parse in (parse_models, parse_rag):
        try:
            parse(body)
        except SourceError as exc:
            assert exc.reason == "bad_json"


def test_parse_rag_reads_the_gateways_timings():
    answer = {
        "answer": "x",
        "documents": [{"id": "1"}, {"id": "2"}],
        "timings": {"retrieve_ms": 12.5, "generate_ms": 250, "total_ms": 263, "ttft_ms": None},
    }
    rag = parse_rag(json.dumps(answer).encode())
    assert (rag.retrieve_s, rag.generate_s, rag.documents) == (0.0125, 0.25, 2)
    for timings in ({"retrieve_ms": "1", "generate_ms": 1}, {"retrieve_ms": -1, "generate_ms": 1}):
        with pytest.raises(SourceError):
            parse_rag(json.dumps({**answer, "timings": timings}).encode())


def test_config_from_yaml_with_overrides_and_problems_by_line(tmp_path: Path):
    path = tmp_path / "exporter.yaml"
    path.write_text("openai_url: http://engine:8000/v1/\napi_key: sk-123\ninterval_s: 2\n")
    cfg = load_config(path, port=19999)
    assert (cfg.openai_url, cfg.interval_s, cfg.port) == ("http://engine:8000", 2.0, 19999)
    assert "sk-123" not in repr(cfg) and cfg.api_key.get_secret_value() == "sk-123"
    assert load_config().port == DEFAULT_PORT
    path.write_text("interval_s: 0\nopenai_url: http://u:p@engine\nbogus: 1\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    problems = "\n".join(err.value.problems)
    assert f"{path}:1: interval_s:" in problems
    assert f"{path}:2: openai_url:" in problems and "api_key" in problems
    assert f"{path}:3: bogus: unknown field" in problems


def test_flags_win_over_environment_which_wins_over_the_file(tmp_path: Path):
    path = tmp_path / "exporter.yaml"
    path.write_text("interval_s: 2\nport: 19001\nmodel: from-file\n")
    code = (
        "import sys; from pathlib import Path; from slakit.exporters.inference import load_config;"
        "c = load_config(Path(sys.argv[1]), port=19003);"
        "print(c.interval_s, c.port, c.model)"
    )
    env = {
        **os.environ,
        "SLAKIT_INFERENCE_EXPORTER_INTERVAL_S": "3",
        "SLAKIT_INFERENCE_EXPORTER_PORT": "19002",
    }
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.split() == ["3.0", "19003", "from-file"], done.stderr
    with pytest.raises(InputError, match="command line: port"):
        load_config(port=70000)
