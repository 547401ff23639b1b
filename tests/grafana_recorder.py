"""A LOCAL RECORDER of Grafana's HTTP API: a stand-in, and one of only two this project
allows, used because no Grafana server can be installed on this machine.

It is a real HTTP server (a threaded `http.server` on a free loopback port) that implements
just the endpoints grafana-client calls when slakit imports dashboards: health and
frontend settings, folder search and creation, and `POST /api/dashboards/db`. It records
every request and CHECKS the shape Grafana expects (credentials; a JSON body whose
`dashboard` has `title`, `panels`, `uid` and `schemaVersion`; `folderUid` of an existing
folder; a boolean `overwrite`), and answers as Grafana does: 200 with
`{id, uid, url, status: "success", version}`, 401 without valid credentials, 412 on a
version or name conflict without `overwrite`, 400 for a malformed body. It is not Grafana:
it renders nothing and keeps dashboards only in memory. Every shape problem it saw is in
`problems`, which a test asserts is empty.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = "11.0.0"  # what the recorder claims to be in health and settings


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: object  # parsed JSON, or None


@dataclass
class _State:
    token: str | None
    basic: tuple[str, str] | None
    requests: list[Recorded] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # uid -> title
    dashboards: dict[str, dict] = field(default_factory=dict)  # uid -> stored record
    next_id: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class _Handler(BaseHTTPRequestHandler):
    state: _State  # set on the subclass each recorder makes

    def log_message(self, fmt: str, *args: object) -> None:  # keep test output quiet
        pass

    def _answer(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reject(self, status: int, message: str) -> None:
        """A request Grafana would refuse for its shape: answered and kept as a problem."""
        self.state.problems.append(f"{self.command} {self.path}: {message}")
        self._answer(status, {"message": message})

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer" and self.state.token is not None:
            return value == self.state.token
        if scheme == "Basic" and self.state.basic is not None:
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == self.state.basic
        return False

    def _record(self) -> Recorded | None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = None
        if raw:
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                self._reject(400, "body sent without Content-Type: application/json")
                return None
            try:
                body = json.loads(raw)
            except ValueError:
                self._reject(400, "body is not JSON")
                return None
        recorded = Recorded(
            self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
        )
        self.state.requests.append(recorded)
        return recorded

    def do_GET(self) -> None:
        with self.state.lock:
            self._route(self._record())

    def do_POST(self) -> None:
        with self.state.lock:
            self._route(self._record())

    def _route(self, request: Recorded | None) -> None:
        if request is None:
            return
        if request.path == "/api/health":  # unauthenticated in Grafana too
            self._answer(200, {"database": "ok", "version": VERSION})
            return
        if not self._authorized():
            self._answer(401, {"message": "Unauthorized"})
            return
        routes = {
            ("GET", "/api/frontend/settings"): self._settings,
            ("GET", "/api/search"): self._search,
            ("GET", "/api/folders"): self._list_folders,
            ("POST", "/api/folders"): self._create_folder,
            ("POST", "/api/dashboards/db"): self._save_dashboard,
        }
        handler = routes.get((request.method, request.path))
        if handler is None:
            self._reject(404, "not an endpoint the recorder implements")
            return
        handler(request)

    def _settings(self, request: Recorded) -> None:
        self._answer(200, {"buildInfo": {"version": VERSION, "edition": "Open Source"}})

    def _folder_hits(self) -> list[dict]:
        return [
            {"uid": uid, "title": title, "type": "dash-folder", "url": f"/dashboards/f/{uid}/"}
            for uid, title in self.state.folders.items()
        ]

    def _search(self, request: Recorded) -> None:
        if request.query.get("type") != ["dash-folder"]:
            self._reject(400, "the recorder only answers folder searches (type=dash-folder)")
            return
        text = (request.query.get("query") or [""])[0].lower()
        self._answer(200, [hit for hit in self._folder_hits() if text in hit["title"].lower()])

    def _list_folders(self, request: Recorded) -> None:
        self._answer(200, [{"uid": h["uid"], "title": h["title"]} for h in self._folder_hits()])

    def _create_folder(self, request: Recorded) -> None:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("title"), str):
            self._reject(400, "folder body needs a string `title`")
            return
        if body["title"] in self.state.folders.values():
            self._answer(409, {"message": "a folder with the same name already exists"})
            return
        uid = body.get("uid") or f"folder-{self.state.next_id}"
        self.state.next_id += 1
        self.state.folders[uid] = body["title"]
        self._answer(200, {"uid": uid, "title": body["title"], "url": f"/dashboards/f/{uid}/"})

    def _shape_problem(self, body: object) -> str | None:
        if not isinstance(body, dict):
            return "body must be a JSON object"
        dashboard = body.get("dashboard")
        if not isinstance(dashboard, dict):
            return "`dashboard` must be an object"
        checks = {
            "title": lambda v: isinstance(v, str) and v.strip(),
            "uid": lambda v: isinstance(v, str) and 0 < len(v) <= 40,
            "panels": lambda v: isinstance(v, list),
            "schemaVersion": lambda v: isinstance(v, int) and not isinstance(v, bool),
        }
        for key, ok in checks.items():
            if not ok(dashboard.get(key)):
                return f"`dashboard.{key}` missing or malformed"
        if not isinstance(body.get("folderUid"), str):
            return "`folderUid` must be a string"
        if body["folderUid"] and body["folderUid"] not in self.state.folders:
            return f"folder {body['folderUid']!r} does not exist"
        if not isinstance(body.get("overwrite"), bool):
            return "`overwrite` must be a boolean"
        return None

    def _save_dashboard(self, request: Recorded) -> None:
        problem = self._shape_problem(request.body)
        if problem:
            self._reject(400, problem)
            return
        body = request.body
        dashboard, overwrite = body["dashboard"], body["overwrite"]
        uid = dashboard["uid"]
        stored = self.state.dashboards.get(uid)
        if not overwrite:
            if stored and dashboard.get("version") != stored["version"]:
                self._answer(
                    412,
                    {
                        "status": "version-mismatch",
                        "message": "The dashboard has been changed by someone else",
                    },
                )
                return
            same_name = [
                d
                for u, d in self.state.dashboards.items()
                if u != uid
                and d["folderUid"] == body["folderUid"]
                and d["dashboard"]["title"] == dashboard["title"]
            ]
            if same_name:
                self._answer(
                    412,
                    {
                        "status": "name-exists",
                        "message": "A dashboard with the same name in the folder already exists",
                    },
                )
                return
        if stored:
            ident, version = stored["id"], stored["version"] + 1
        else:
            ident, version = self.state.next_id, 1
            self.state.next_id += 1
        saved = {**dashboard, "id": ident, "version": version}
        self.state.dashboards[uid] = {
            "id": ident,
            "version": version,
            "folderUid": body["folderUid"],
            "dashboard": saved,
        }
        slug = _slug(dashboard["title"])
        self._answer(
            200,
            {
                "id": ident,
                "uid": uid,
                "url": f"/d/{uid}/{slug}",
                "status": "success",
                "version": version,
                "slug": slug,
            },
        )


class GrafanaRecorder:
    """`with GrafanaRecorder(token="t") as grafana:` serves on `grafana.url` until the end
    of the block. Give `token` for bearer auth, `basic=(user, password)` for basic auth."""

    def __init__(self, token: str | None = None, basic: tuple[str, str] | None = None) -> None:
        self.state = _State(token=token, basic=basic)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GrafanaRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def requests(self) -> list[Recorded]:
        return self.state.requests

    @property
    def problems(self) -> list[str]:
        return self.state.problems

    @property
    def folders(self) -> dict[str, str]:
        return self.state.folders

    @property
    def dashboards(self) -> dict[str, dict]:
        return self.state.dashboards
