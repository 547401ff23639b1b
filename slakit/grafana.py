"""Import generated dashboards into a running Grafana through its HTTP API (grafana-client).

Credentials come from the environment only: `GRAFANA_TOKEN` (a service-account token), or
`GRAFANA_USER` and `GRAFANA_PASSWORD` for basic auth. Each failure is one readable line:
an unreachable Grafana, refused credentials, or a dashboard changed in Grafana since (412)
are the user's to fix (InputError); Grafana failing itself (5xx) is a StackError.
"""

from __future__ import annotations

import os
from pathlib import Path

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from slakit.errors import InputError, StackError
from slakit.generate.dashboards import read_dashboard

TIMEOUT_S = 10.0


def _credential() -> str | tuple[str, str]:
    token = os.environ.get("GRAFANA_TOKEN")
    if token:
        return token
    user, password = os.environ.get("GRAFANA_USER"), os.environ.get("GRAFANA_PASSWORD")
    if user and password:
        return user, password
    raise InputError("Grafana credentials: set GRAFANA_TOKEN, or GRAFANA_USER and GRAFANA_PASSWORD")


def _failure(exc: GrafanaException, grafana_url: str, what: str, done: int) -> Exception:
    """One line naming what failed and what to do about it."""
    where = f"{grafana_url}: {what}"
    if done:
        where += f" ({done} dashboard(s) imported before)"
    status = exc.status_code
    if status == 401:
        return InputError(
            f"{where}: 401 unauthorized: check GRAFANA_TOKEN (or GRAFANA_USER/GRAFANA_PASSWORD)"
        )
    if status == 403:
        return InputError(f"{where}: 403 forbidden: the credentials lack the permission")
    if status == 412:
        return InputError(
            f"{where}: 412: changed in Grafana since (version or name conflict); "
            "import with overwrite to replace it"
        )
    if status == 0:  # no HTTP answer: a timeout or a transport error
        return InputError(f"{where}: no answer: {exc.message}")
    detail = exc.response.get("message") if isinstance(exc.response, dict) else exc.response
    error = StackError if status >= 500 else InputError
    return error(f"{where}: HTTP {status}: {detail or exc.message}")


def rewrite_datasources(dashboard: dict, uid_map: dict[str, str]) -> dict:
    """A new `dashboard` whose datasource references (panels, queries, the datasource
    variable's default) use `uid_map[uid]` instead of `uid`."""

    def walk(node: object, key: str = "") -> object:
        if isinstance(node, dict):
            if key == "datasource" and node.get("uid") in uid_map:
                return {**node, "uid": uid_map[node["uid"]]}
            if node.get("type") == "datasource" and isinstance(node.get("current"), dict):
                current = {
                    k: uid_map.get(v, v) if isinstance(v, str) else v
                    for k, v in node["current"].items()
                }
                node = {**node, "current": current}
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(dashboard)


def _folder_uid(api: GrafanaApi, folder: str) -> str:
    """The uid of the folder titled `folder`, created if Grafana has none."""
    for hit in api.search.search_dashboards(query=folder, type_="dash-folder"):
        if hit.get("title") == folder:
            return hit["uid"]
    return api.folder.create_folder(folder)["uid"]


def import_dashboards(
    directory: Path,
    grafana_url: str,
    *,
    folder: str = "slakit",
    overwrite: bool = False,
    datasource_uid_map: dict[str, str] | None = None,
) -> list[str]:
    """Import every `*.json` dashboard of `directory` into `folder`; return their URLs."""
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise InputError(f"{directory}: no dashboard JSON files")
    boards = [rewrite_datasources(read_dashboard(p), datasource_uid_map or {}) for p in paths]
    api = GrafanaApi.from_url(grafana_url, credential=_credential(), timeout=TIMEOUT_S)
    urls: list[str] = []
    what = "connect"
    try:
        api.health.check()
        what = f"folder {folder!r}"
        folder_uid = _folder_uid(api, folder)
        for board in boards:
            what = f"dashboard {board['title']!r}"
            board.pop("id", None)  # Grafana matches by uid; an id from elsewhere would not
            body = {"dashboard": board, "folderUid": folder_uid, "overwrite": overwrite}
            urls.append(grafana_url.rstrip("/") + api.dashboard.update_dashboard(body)["url"])
    except GrafanaException as exc:
        raise _failure(exc, grafana_url, what, len(urls)) from None
    except OSError as exc:  # the HTTP client's connection errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{grafana_url}: {what}: Grafana unreachable: {reason}") from None
    return urls
