"""tcpdump on the loopback interface for the target's ports, as a context manager.

tcpdump, not a socket of slakit's own: the kernel timestamps each packet as it crosses the
interface, on the wall clock `time.time()` reads, and tcpdump writes a plain pcap anyone
can open in Wireshark. Capturing needs CAP_NET_RAW; without it (or without tcpdump) the
run cannot be arbitrated, which is the user's to fix: `InputError`, exit 2.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from slakit.errors import InputError, StackError, safe_text

INTERFACE = "lo"
SNAP_LEN = 14 + 65_535
"""Ethernet header + the largest IP packet: no loopback segment is cut short."""
FILE_MB = 64
"""tcpdump -C: millions of bytes per pcap file."""
FILES = 4
"""tcpdump -W: at most this many files, the oldest overwritten: a 256 MB byte budget."""
BUFFER_KIB = 8192
"""tcpdump -B: the kernel's capture ring. Not --immediate-mode: that ring holds one
SNAP_LEN frame per packet (~120 of them), and a run's connections closing at once
overflowed it; buffered, each packet takes only its own size."""
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
LINGER_S = 1.2
"""Before stopping: longer than tcpdump's 1 s buffer timeout, so the kernel hands over
the run's last packets instead of tcpdump leaving them unread at SIGINT."""
POLL_S = 0.02
PCAP_NAME = "wire.pcap"
LOG_NAME = "wire-tcpdump.log"
LISTENING = "listening on"
_DROPPED = re.compile(r"(\d+) packets? dropped by kernel")


def loopback_ports(urls: Iterable[str | None]) -> list[int]:
    """The TCP ports of the target URLs (None skipped). Each must be plain HTTP on
    loopback: the capture sees `lo` only, and cannot read TLS."""
    ports = set()
    for url in filter(None, urls):
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise InputError(f"--wire-check: {url}: only plain http:// can be read on the wire")
        if not _is_loopback(parts.hostname or ""):
            raise InputError(f"--wire-check: {url} is not on loopback; the capture sees only lo")
        ports.add(parts.port or 80)
    if not ports:
        raise InputError("--wire-check: the target has no URL to capture")
    return sorted(ports)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Capture:
    """Captures TCP traffic to and from `ports` on lo into `run_dir/wire.pcap*`.

    Entering returns once tcpdump is listening, so no request of the run is missed;
    leaving stops it with SIGINT, so it writes out the last packets and its statistics.
    After leaving: `paths` (the pcap files), `dropped` (packets the kernel dropped, None
    if tcpdump did not say) and `clean` (tcpdump ran until stopped and exited 0).
    """

    def __init__(self, run_dir: Path, ports: Iterable[int]) -> None:
        self.run_dir = run_dir
        self.filter = "tcp and (" + " or ".join(f"port {int(p)}" for p in ports) + ")"
        self.dropped: int | None = None
        self.clean = False
        self._log = run_dir / LOG_NAME
        self._proc: subprocess.Popen | None = None

    @property
    def paths(self) -> list[Path]:
        return sorted(self.run_dir.glob(f"{PCAP_NAME}*"))

    def __enter__(self) -> Capture:
        tcpdump = shutil.which("tcpdump")
        if tcpdump is None:
            raise InputError("--wire-check needs tcpdump: apt-get install -y tcpdump")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            tcpdump,
            *("-i", INTERFACE, "-n", "-U"),
            *("-s", str(SNAP_LEN), "-B", str(BUFFER_KIB), "-C", str(FILE_MB), "-W", str(FILES)),
            # As root tcpdump would switch to its own user before opening the file, which
            # cannot write into a run directory only the user running slakit may write.
            *("-Z", pwd.getpwuid(os.geteuid()).pw_name),
            *("-w", str(self.run_dir / PCAP_NAME), self.filter),
        ]
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )
        self._wait_listening()
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            time.sleep(LINGER_S)
        finally:  # a Ctrl-C during the linger still stops tcpdump
            ran_to_the_end = self._proc.poll() is None
            code = self._stop()
        self.clean = ran_to_the_end and code == 0
        found = _DROPPED.search(self._log_text())
        self.dropped = int(found.group(1)) if found else None

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while LISTENING not in self._log_text():
            if self._proc.poll() is not None:
                said = " ".join(self._log_text().split()) or f"exit code {self._proc.returncode}"
                raise InputError(
                    f"--wire-check: tcpdump cannot capture on {INTERFACE} ({safe_text(said)}); "
                    "it needs CAP_NET_RAW: run as root or give tcpdump the capability"
                )
            if time.monotonic() > deadline:
                self._stop()
                raise StackError(f"tcpdump did not start listening within {START_TIMEOUT_S:g} s")
            time.sleep(POLL_S)

    def _stop(self) -> int:
        """SIGINT (tcpdump then flushes its file), SIGKILL if it does not end in time."""
        self._proc.send_signal(signal.SIGINT)
        try:
            return self._proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait(STOP_TIMEOUT_S)

    def _log_text(self) -> str:
        return self._log.read_text(errors="replace")
