"""The wire arbiter on real captures: tcpdump on lo while a real httpx client streams chat
completions from the simulated engine, whose token timing is known (150 ms to the first
token, 20 ms between tokens). Needs tcpdump and CAP_NET_RAW, as `--wire-check` does."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import dpkt
import pytest

from slakit.errors import InputError
from slakit.load.samples import read_samples
from slakit.wire import Capture, arbitrate, loopback_ports, read_exchanges
from slakit.wire.http import Traffic
from slakit.wire.streams import read_connections
from tests.servers import serve_module
from tests.wire_client import MODEL, stream_chats

TTFT_S = 0.150
TOKEN_DELAY_S = 0.020
TOKENS = 6
MS = 0.001

# Capture in a child process, as `slakit run scenario --wire-check` would: exit 2 on InputError.
CAPTURE_IN_CHILD = """
import sys
from pathlib import Path
from slakit.errors import InputError
from slakit.wire import Capture
try:
    with Capture(Path(sys.argv[1]), [9]):
        pass
except InputError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    args = ("--model-name", MODEL, "--ttft-ms", str(TTFT_S * 1000))
    with serve_module("slakit.stack.sim_engine", *args, "--token-delay-ms", "20") as url:
        yield url


def _capture(url: str, run_dir: Path, **client) -> tuple[Capture, Traffic]:
    with Capture(run_dir, loopback_ports([url])) as capture:
        stream_chats(url, run_dir, max_tokens=TOKENS, **client)
    return capture, read_exchanges(capture.paths)


def test_a_clean_client_agrees_with_the_wire(engine: str, tmp_path: Path) -> None:
    capture, traffic = _capture(engine, tmp_path, count=8)
    assert capture.clean and capture.dropped == 0
    assert (traffic.headless_connections, traffic.broken_connections) == (0, 0)
    exchanges = traffic.exchanges
    assert {(e.method, e.path, e.status) for e in exchanges} == {
        ("POST", "/v1/chat/completions", 200)
    }
    assert len(exchanges) == 8 and {e.connection for e in exchanges} == {0}  # keep-alive
    # The role announcement is not a token: six events each, as the client counts them.
    assert [len(e.token_times) for e in exchanges] == [TOKENS] * 8
    wire_ttft = [e.token_times[0] - e.sent_first for e in exchanges]
    assert min(wire_ttft) >= TTFT_S and statistics.median(wire_ttft) < TTFT_S + 15 * MS
    for e in exchanges:
        assert e.sent_first <= e.sent_last < e.received_first <= e.token_times[-1]
        assert e.token_times[-1] <= e.received_last
    gaps = [b - a for e in exchanges for a, b in pairwise(e.token_times)]
    assert TOKEN_DELAY_S <= statistics.median(gaps) < TOKEN_DELAY_S + 10 * MS

    check = arbitrate(read_samples(tmp_path), exchanges)
    error = check.error
    assert (error.matched, error.unmatched_samples, error.unmatched_wire) == (8, 0, 0)
    assert (error.relayed, error.itl_mismatched) == (0, 0)
    assert 0 <= error.errors["ttft"].p50_s < 5 * MS, error
    assert error.errors["itl"].count == 8 * (TOKENS - 1)
    for sli in ("itl", "tpot", "latency"):
        assert abs(error.errors[sli].p50_s) < 5 * MS, (sli, error)
    assert 0 <= error.send_delay.p50_s < 5 * MS, error
    assert check.wire["wire_matched"].all()
    assert sorted(check.wire["ttft_s"]) == sorted(wire_ttft)
    assert error.model_dump_json()  # goes into report.json as it is


def test_a_client_stalling_after_the_read_shows_the_stall(engine: str, tmp_path: Path) -> None:
    _, traffic = _capture(engine, tmp_path, count=6, stall_s=0.080)
    error = arbitrate(read_samples(tmp_path), traffic.exchanges).error
    assert error.matched == 6
    assert 70 * MS <= error.errors["ttft"].p50_s <= 120 * MS, error
    assert error.send_delay.p50_s < 5 * MS, error  # the stall is in the reading, not sending
    # Tokens that came in during the stall were stamped together: gaps 20 ms too short.
    assert error.errors["itl"].min_s < -15 * MS, error


def test_a_client_without_traceparent_is_matched_by_order(engine: str, tmp_path: Path) -> None:
    _, traffic = _capture(engine, tmp_path, count=4, traceparent=False)
    samples = read_samples(tmp_path)
    by_trace = arbitrate(samples, traffic.exchanges).error
    assert (by_trace.matched, by_trace.unmatched_samples, by_trace.unmatched_wire) == (0, 4, 4)
    by_order = arbitrate(samples, traffic.exchanges, matched_by="order").error
    assert (by_order.matched, by_order.unmatched_samples, by_order.unmatched_wire) == (4, 0, 0)
    # Each sample got its own exchange: one request earlier or later would be ~300 ms off.
    assert 0 <= by_order.send_delay.min_s and by_order.send_delay.max_s < 50 * MS, by_order
    with pytest.raises(ValueError, match="4 results, 3 exchanges"):
        arbitrate(samples, traffic.exchanges[1:], matched_by="order")


def test_retransmitted_and_reordered_segments_are_read_once_in_order(
    engine: str, tmp_path: Path
) -> None:
    capture, traffic = _capture(engine, tmp_path / "run", count=2)
    packets = _read(capture.paths[0])
    # Every segment sent again 1 ms later, as a retransmission: nothing changes.
    again = tmp_path / "again.pcap"
    _write(again, sorted([*packets, *((ts + MS, frame) for ts, frame in packets)]))
    assert read_exchanges([again]) == traffic
    # Two of the server's segments swapped in time: the earlier bytes wait for the later.
    down = [i for i, (_, frame) in enumerate(packets) if _server_data(frame, engine)]
    first, second = down[0], down[1]  # the response head, then the next segment
    swapped = list(packets)
    swapped[first], swapped[second] = (
        (packets[second][0], packets[first][1]),
        (packets[first][0], packets[second][1]),
    )
    reordered = tmp_path / "reordered.pcap"
    _write(reordered, swapped)
    (before,), _ = read_connections([capture.paths[0]])
    (after,), _ = read_connections([reordered])
    assert after.down.data == before.down.data and not after.down.gap
    assert before.down.time_at(0) == packets[first][0]
    assert after.down.time_at(0) == packets[second][0]


def test_a_connection_open_before_the_capture_is_read_from_its_first_whole_request(
    engine: str, tmp_path: Path
) -> None:
    """As a gateway's kept-alive upstream connection is: the capture begins in the middle
    of the second response, so its first packets are the server's and the handshake and
    the first two requests are missing. The rest reads exactly as in the whole capture."""
    capture, whole = _capture(engine, tmp_path / "run", count=5)
    packets = _read(capture.paths[0])
    down = [i for i, (_, frame) in enumerate(packets) if _server_data(frame, engine)]
    requests = [i for i, (_, frame) in enumerate(packets) if _tcp(frame).data.startswith(b"POST ")]
    second_response = [i for i in down if requests[1] < i < requests[2]]
    cut = second_response[len(second_response) // 2]
    late = tmp_path / "late.pcap"
    _write(late, packets[cut:])
    assert not _tcp(packets[cut][1]).flags & dpkt.tcp.TH_SYN
    joined = read_exchanges([late])
    assert (joined.headless_connections, joined.broken_connections) == (1, 0)
    assert joined.exchanges == whole.exchanges[2:]
    assert [len(e.token_times) for e in joined.exchanges] == [TOKENS] * 3


def test_capture_without_cap_net_raw_is_one_line_and_exit_2(tmp_path: Path) -> None:
    drop = ["setpriv", "--bounding-set", "-net_raw,-net_admin", "--inh-caps", "-all"]
    r = subprocess.run(
        [*drop, sys.executable, "-c", CAPTURE_IN_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert "tcpdump cannot capture on lo" in line and "CAP_NET_RAW" in line, line


def test_capture_without_tcpdump_is_exit_2(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", CAPTURE_IN_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "--wire-check needs tcpdump: apt-get install -y tcpdump"


def test_only_plain_http_on_loopback_can_be_captured() -> None:
    urls = ["http://localhost:8000/v1", None, "http://127.0.0.1:9200", "http://[::1]:8000"]
    assert loopback_ports(urls) == [8000, 9200]
    for url, problem in [
        ("http://10.1.2.3:8000", "not on loopback"),
        ("https://127.0.0.1:8443", "only plain http://"),
    ]:
        with pytest.raises(InputError, match=problem):
            loopback_ports([url])


def _read(path: Path) -> list[tuple[float, bytes]]:
    with path.open("rb") as file:
        return list(dpkt.pcap.Reader(file))


def _write(path: Path, packets: list[tuple[float, bytes]]) -> None:
    with path.open("wb") as file:
        writer = dpkt.pcap.Writer(file, snaplen=65549, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in packets:
            writer.writepkt(frame, ts)


def _tcp(frame: bytes) -> dpkt.tcp.TCP:
    return dpkt.ethernet.Ethernet(frame).data.data


def _server_data(frame: bytes, url: str) -> bool:
    tcp = _tcp(frame)
    return tcp.sport == int(url.rsplit(":", 1)[1]) and bool(tcp.data)
