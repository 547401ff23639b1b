"""HTTP/1.1 exchanges rebuilt from captured connections, with the wire time of each
request's first and last byte, the response's, and each token event of a streamed body.

A token event is timed by the byte that completes it (the blank line ending the SSE
event), and which events are tokens is decided by `slakit.sse`, as the load generator
decides: the wire and the client count the same events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from slakit.sse import DONE, SSEDecoder, token_piece
from slakit.wire.streams import Connection, Stream, read_connections

HEAD_END = b"\r\n\r\n"
METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"PATCH ", b"OPTIONS ")
STATUS_LINE = b"HTTP/1."
CRLF = b"\r\n"
EVENT_STREAM = "text/event-stream"

Pieces = list[tuple[int, bytes]]
"""A body as (offset in the connection's stream, bytes) pieces, chunk framing removed."""


@dataclass
class Exchange:
    """One request and its response on the wire; times are capture (epoch) seconds."""

    connection: int  # index of its connection in the capture, in opening order
    server_port: int
    method: str
    path: str
    headers: dict[str, str]  # the request's, names lower-cased
    sent_first: float  # the request's first byte
    sent_last: float  # the request's last byte
    status: int = 0  # 0: no response head on the wire
    received_first: float | None = None  # the response's first byte
    received_last: float | None = None  # the last byte of a complete response
    token_times: list[float] = field(default_factory=list)  # each token event complete

    @property
    def trace_id(self) -> str | None:
        """The trace id of the W3C `traceparent` the request carried."""
        parts = self.headers.get("traceparent", "").split("-")
        return parts[1].lower() if len(parts) == 4 else None


@dataclass
class Traffic:
    """Every exchange of a capture, and the connections that could not be read."""

    exchanges: list[Exchange]
    headless_connections: int  # open before the capture began: read from a whole request
    broken_connections: int  # bytes missing, or not HTTP/1.1: read up to the problem


def read_exchanges(paths: Iterable[Path]) -> Traffic:
    """The HTTP exchanges of the pcap files, in connection order, then request order."""
    connections, headless = read_connections(paths)
    traffic = Traffic([], headless, 0)
    for index, connection in enumerate(connections):
        broken = connection.up.gap or connection.down.gap
        try:
            traffic.exchanges.extend(_exchanges(index, connection))
        except (ValueError, IndexError):  # a head or a chunk size that is not HTTP/1.1
            broken = True
        traffic.broken_connections += broken
    return traffic


@dataclass
class _Message:
    start: int  # offset of its first byte
    line: str  # request or status line
    headers: dict[str, str]
    body: Pieces
    end: int | None  # offset just past its last byte; None: the stream ended first


def _exchanges(index: int, connection: Connection) -> Iterator[Exchange]:
    """Requests in order (keep-alive: one after another), each with the next response."""
    if connection.joined:
        connection, sent, received = _rejoin(connection)
    else:
        sent = received = 0
    up, down = connection.up, connection.down
    while (request := _message(up, sent)) and request.end is not None:
        method, path, _ = request.line.split(" ", 2)
        exchange = Exchange(
            connection=index,
            server_port=connection.server[1],
            method=method,
            path=path,
            headers=request.headers,
            sent_first=up.time_at(request.start),
            sent_last=up.time_at(request.end - 1),
        )
        sent = request.end
        response = _response(down, received, method)
        if response is not None:
            _fill(exchange, down, response)
        yield exchange
        if response is None or response.end is None:
            return
        received = response.end


def _rejoin(connection: Connection) -> tuple[Connection, int, int]:
    """A connection open before the capture, read from its first whole exchange: the
    first segment that starts a request, and the first starting a response after it.
    The client is the side that sent that request (a server never starts one)."""
    up, down = connection.up, connection.down
    sent, swapped = _segment_starting(up, METHODS), _segment_starting(down, METHODS)
    if swapped is not None and (sent is None or down.time_at(swapped) < up.time_at(sent)):
        connection = Connection(connection.server, connection.client, down, up, joined=True)
        up, down, sent = down, up, swapped
    if sent is None:
        return connection, len(up.data), len(down.data)  # no request began on the wire
    received = _segment_starting(down, (STATUS_LINE,), not_before=up.time_at(sent))
    return connection, sent, len(down.data) if received is None else received


def _segment_starting(
    stream: Stream, prefixes: tuple[bytes, ...], not_before: float = float("-inf")
) -> int | None:
    """Offset of the first captured segment that begins with one of `prefixes`."""
    for start, stamp in zip(stream.starts, stream.stamps, strict=True):
        if stamp >= not_before and stream.data.startswith(prefixes, start):
            return start
    return None


def _response(down: Stream, pos: int, method: str) -> _Message | None:
    """The final response at `pos`, past any interim 1xx ones."""
    while (response := _message(down, pos, method)) is not None:
        if not 100 <= _status(response.line) < 200 or response.end is None:
            return response
        pos = response.end
    return None


def _fill(exchange: Exchange, down: Stream, response: _Message) -> None:
    exchange.status = _status(response.line)
    exchange.received_first = down.time_at(response.start)
    if response.end is not None:
        exchange.received_last = down.time_at(response.end - 1)
    if response.headers.get("content-type", "").startswith(EVENT_STREAM):
        exchange.token_times = [down.time_at(offset) for offset in _token_ends(response.body)]


def _status(line: str) -> int:
    return int(line.split(" ")[1])


def _message(stream: Stream, pos: int, answering: str | None = None) -> _Message | None:
    """The message whose head starts at `pos` (None: no complete head there): a request,
    or the response to a request with method `answering`."""
    data = stream.data
    head_end = data.find(HEAD_END, pos) if pos < len(data) else -1
    if head_end < 0:
        return None
    line, *fields = data[pos:head_end].decode("latin-1").split("\r\n")
    headers = {}
    for name, _, value in (f.partition(":") for f in fields):
        headers[name.strip().lower()] = value.strip()
    start = head_end + len(HEAD_END)
    if answering is not None and not _has_body(answering, _status(line)):
        return _Message(pos, line, headers, [], start)
    body, end = _body(stream, start, headers, answering is None)
    return _Message(pos, line, headers, body, end)


def _has_body(method: str, status: int) -> bool:
    return method != "HEAD" and status not in (204, 304) and not 100 <= status < 200


def _body(
    stream: Stream, pos: int, headers: dict[str, str], request: bool
) -> tuple[Pieces, int | None]:
    """The body at `pos` and the offset just past it (None: not all on the wire)."""
    data = stream.data
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _dechunk(data, pos)
    if "content-length" in headers:
        end = pos + int(headers["content-length"])
        return [(pos, bytes(data[pos:end]))], end if end <= len(data) else None
    if request:  # no length: no body
        return [], pos
    # A response without a length runs until the server closes the connection.
    return [(pos, bytes(data[pos:]))], len(data) if stream.closed else None


def _dechunk(data: bytearray, pos: int) -> tuple[Pieces, int | None]:
    """A chunked body's pieces and the offset past its last CRLF (None: cut short)."""
    pieces: Pieces = []
    while (line_end := data.find(CRLF, pos)) >= 0:
        size = int(bytes(data[pos:line_end]).split(b";")[0], 16)
        pos = line_end + len(CRLF)
        if size == 0:  # the last chunk, then optional trailer fields and a blank line
            if data.startswith(CRLF, pos):
                return pieces, pos + len(CRLF)
            end = data.find(HEAD_END, pos)
            return pieces, end + len(HEAD_END) if end >= 0 else None
        pieces.append((pos, bytes(data[pos : pos + size])))
        pos += size + len(CRLF)
        if pos > len(data):
            return pieces, None
    return pieces, None


def _token_ends(body: Pieces) -> list[int]:
    """Stream offsets of the bytes that complete each token event of an SSE body. The
    decoder is fed line by line, so an event completes on the line fed last."""
    decoder = SSEDecoder()
    ends = []
    for offset, piece in body:
        start = 0
        while start < len(piece):
            newline = piece.find(b"\n", start)
            stop = len(piece) if newline < 0 else newline + 1
            if any(_token(payload) for payload in decoder.feed(piece[start:stop])):
                ends.append(offset + stop - 1)
            start = stop
    return ends


def _token(payload: str) -> bool:
    if payload == DONE:
        return False
    try:
        event = json.loads(payload)
    except ValueError:
        return False
    return isinstance(event, dict) and token_piece(event) is not None
