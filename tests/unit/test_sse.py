"""The shared SSE encoder/decoder: events survive any split of the byte stream."""

from __future__ import annotations

from slakit import sse


def test_round_trip_with_every_split_point():
    stream = sse.encode({"a": "é"}) + sse.encode("plain") + sse.DONE_EVENT
    for cut in range(len(stream) + 1):
        decoder = sse.SSEDecoder()
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert events == ['{"a":"\\u00e9"}', "plain", sse.DONE]


def test_byte_by_byte_crlf_comments_and_multiline_data():
    stream = b": keepalive\r\nevent: x\r\ndata: one\r\ndata:two\r\n\r\nid: 3\n\ndata: [DONE]\n\n"
    decoder = sse.SSEDecoder()
    events = [e for i in range(len(stream)) for e in decoder.feed(stream[i : i + 1])]
    assert events == ["one\ntwo", "[DONE]"]


def test_incomplete_event_waits_for_blank_line():
    decoder = sse.SSEDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"\n") == ["x"]


def test_token_piece_counts_held_back_tokens_and_skips_non_token_events():
    completion = {"choices": [{"index": 0, "text": "", "finish_reason": None}]}
    assert sse.token_piece(completion) == ""  # a token whose text is held back
    assert sse.token_piece({"choices": [{"text": "ab"}]}) == "ab"
    assert sse.token_piece({"choices": [{"delta": {"content": "hi"}}]}) == "hi"
    assert sse.token_piece({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) is None
    assert sse.token_piece({"choices": [{"delta": {}, "finish_reason": "stop"}]}) is None
    assert sse.token_piece({"choices": [], "usage": {"completion_tokens": 3}}) is None
    assert sse.token_piece({"choices": ["not an object"]}) is None
