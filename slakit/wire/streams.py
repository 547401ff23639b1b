"""TCP connections rebuilt from pcap files: each direction's bytes in order, and when each
byte became readable.

A byte is readable when its packet was captured and every byte before it had been: a
retransmitted or duplicated segment adds nothing new, and a segment that arrives ahead
of a gap waits for the gap to be filled. The times are the capture's (epoch seconds).
"""

from __future__ import annotations

import heapq
import ipaddress
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

SEQ_MOD = 1 << 32
Endpoint = tuple[str, int]


@dataclass
class Stream:
    """One direction of a connection. `gap`: bytes are missing (not captured), so `data`
    ends at the first hole. `closed`: the sender's FIN came right after `data`."""

    data: bytearray = field(default_factory=bytearray)
    starts: list[int] = field(default_factory=list)  # offset where each timestamp begins
    stamps: list[float] = field(default_factory=list)
    gap: bool = False
    closed: bool = False

    def time_at(self, offset: int) -> float:
        """When the byte at `offset` became readable."""
        return self.stamps[bisect_right(self.starts, offset) - 1]

    def _extend(self, stamp: float, offset: int, payload: bytes) -> None:
        new = payload[len(self.data) - offset :]
        if new:
            self.starts.append(len(self.data))
            self.stamps.append(stamp)
            self.data += new


@dataclass
class Connection:
    client: Endpoint  # the side that sent the SYN (joined: the side that sent first)
    server: Endpoint
    up: Stream  # client to server
    down: Stream  # server to client
    joined: bool = False  # open before the capture: each stream begins at its first segment


@dataclass
class _Direction:
    """What one side sent: its initial sequence number and its segments in capture order."""

    isn: int | None = None
    fin: int | None = None  # sequence number of its FIN
    segments: list[tuple[float, int, bytes]] = field(default_factory=list)

    def add(self, stamp: float, tcp: dpkt.tcp.TCP) -> None:
        if tcp.flags & dpkt.tcp.TH_SYN:
            self.isn = tcp.seq
        elif tcp.data:
            self.segments.append((stamp, tcp.seq, bytes(tcp.data)))
        if tcp.flags & dpkt.tcp.TH_FIN:
            self.fin = (tcp.seq + len(tcp.data)) % SEQ_MOD

    def stream(self) -> Stream:
        """The bytes in order. A segment's offset counts from the byte after the SYN or,
        its SYN not captured, from the first segment captured; bytes before it are dropped."""
        stream = Stream()
        if self.isn is None and not self.segments:
            return stream
        isn = self.isn if self.isn is not None else (self.segments[0][1] - 1) % SEQ_MOD
        waiting: list[tuple[int, int, bytes]] = []
        for order, (stamp, seq, payload) in enumerate(self.segments):
            offset = (seq - isn - 1) % SEQ_MOD
            if offset >= SEQ_MOD // 2:  # before the first segment captured: sent earlier
                continue
            heapq.heappush(waiting, (offset, order, payload))
            while waiting and waiting[0][0] <= len(stream.data):
                offset, _, ready = heapq.heappop(waiting)
                stream._extend(stamp, offset, ready)
        stream.gap = bool(waiting)
        end = (isn + 1 + len(stream.data)) % SEQ_MOD
        stream.closed = self.fin == end
        return stream


@dataclass
class _Builder:
    client: Endpoint
    server: Endpoint
    sent: dict[Endpoint, _Direction] = field(default_factory=dict)
    joined: bool = False

    def isn_of(self, side: Endpoint) -> int | None:
        return self.sent[side].isn if side in self.sent else None

    def connection(self) -> Connection:
        up = self.sent.get(self.client, _Direction()).stream()
        down = self.sent.get(self.server, _Direction()).stream()
        return Connection(self.client, self.server, up, down, self.joined)


def read_connections(paths: Iterable[Path]) -> tuple[list[Connection], int]:
    """The TCP connections in the pcap files in the order they were first seen, and how
    many of them were joined: seen without their opening SYN (open before the capture
    began, as a kept-alive upstream connection is), read from their first data segment on.
    Which side of a joined connection is the client is left to the protocol's reader."""
    builders: list[_Builder] = []
    current: dict[tuple[Endpoint, Endpoint], _Builder] = {}
    for stamp, src, dst, tcp in sorted(_packets(paths), key=lambda p: p[0]):
        builder = current.get((src, dst))
        opens = _opens(tcp) and (builder is None or builder.isn_of(src) != tcp.seq)
        if opens or (builder is None and tcp.data):
            # A new connection (a 4-tuple may be reused once the old one has closed), or
            # one already open when the capture began, first seen sending data.
            builder = _Builder(client=src, server=dst, joined=not opens)
            builders.append(builder)
            current[(src, dst)] = current[(dst, src)] = builder
        if builder is not None:
            builder.sent.setdefault(src, _Direction()).add(stamp, tcp)
    return [b.connection() for b in builders], sum(b.joined for b in builders)


def _opens(tcp: dpkt.tcp.TCP) -> bool:
    """A client's SYN (the server's answer also carries ACK)."""
    return bool(tcp.flags & dpkt.tcp.TH_SYN) and not tcp.flags & dpkt.tcp.TH_ACK


def _packets(paths: Iterable[Path]) -> Iterator[tuple[float, Endpoint, Endpoint, dpkt.tcp.TCP]]:
    """(capture time, source, destination, TCP segment) of every TCP packet in the files."""
    for path in paths:
        with path.open("rb") as file:
            reader = dpkt.pcap.Reader(file)
            if reader.datalink() != dpkt.pcap.DLT_EN10MB:
                raise ValueError(f"{path}: link type {reader.datalink()}, not loopback's Ethernet")
            for stamp, frame in _records(reader):
                try:
                    ip = dpkt.ethernet.Ethernet(frame).data
                except dpkt.UnpackError:
                    continue
                tcp = getattr(ip, "data", None)
                if isinstance(tcp, dpkt.tcp.TCP):
                    src = str(ipaddress.ip_address(ip.src))
                    dst = str(ipaddress.ip_address(ip.dst))
                    yield stamp, (src, tcp.sport), (dst, tcp.dport), tcp


def _records(reader: dpkt.pcap.Reader) -> Iterator[tuple[float, bytes]]:
    """The file's records; a torn last one (tcpdump killed mid-write) ends it."""
    try:
        yield from reader
    except dpkt.NeedData:
        return
