"""slakit's Alertmanager receiver: appends every notification it gets to a JSON-lines file.

Tests and reports read that file to see which alerts fired and when. Standard library
only: it must start in well under a second and has one job.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def read_alerts(path: Path) -> list[dict]:
    """Every notification received so far, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: bytes = b"", ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/health":
                self._reply(200, b"ok\n")
            elif self.path == "/alerts":
                self._reply(200, json.dumps(read_alerts(out)).encode(), "application/json")
            else:
                self._reply(404)

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/alerts":
                self._reply(404)
                return
            length = int(self.headers.get("Content-Length", 0))
            try:
                payload = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._reply(400, b"expected JSON\n")
                return
            record = {"received_at": time.time(), "notification": payload}
            with lock, out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            self._reply(200, b"ok\n")

        def log_message(self, fmt: str, *args: object) -> None:
            print(
                f"webhook: {self.command} {self.path} {args[1] if len(args) > 1 else ''}",
                flush=True,
            )

    return Handler


def serve(host: str, port: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    ThreadingHTTPServer((host, port), make_handler(out)).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to append to")
    args = parser.parse_args()
    serve(args.host, args.port, args.out)


if __name__ == "__main__":
    main()
