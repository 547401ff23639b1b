"""Generated Grafana dashboards: shape, variables, queries, units, SLO thresholds; and their
import into Grafana through grafana-client, against the local recorder of Grafana's API
(tests/grafana_recorder.py: no Grafana server can be installed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from slakit.catalogue.panels import VAR_DATASOURCE, VAR_INSTANCE, VAR_MODEL
from slakit.errors import InputError
from slakit.generate.dashboards import DATASOURCE_UID, generate_dashboards
from slakit.generate.spec import load_spec
from slakit.grafana import import_dashboards
from slakit.units import parse_objective
from tests.grafana_recorder import GrafanaRecorder
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "scenarios" / "slo-spec.yaml"  # what the committed dashboards/ come from
SCENARIO = REPO / "scenarios" / "smoke.yaml"  # a scenario's SLOs: client-side ones too
TITLES = {"LLM serving (vLLM)", "Elasticsearch", "GPU", "RAG gateway", "SLO overview"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dashboards")
    generate_dashboards(SPEC, out)
    return out


@pytest.fixture(scope="module")
def from_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario-dashboards")
    generate_dashboards(SCENARIO, out)
    return out


def _boards(directory: Path) -> dict[str, dict]:
    boards = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    return {b["title"]: b for b in boards}


def test_every_dashboard_generates_with_grafana_fields(generated: Path) -> None:
    boards = _boards(generated)
    assert set(boards) == TITLES
    for board in boards.values():
        assert board["uid"] and isinstance(board["schemaVersion"], int) and board["panels"]
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), board["title"]
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, (board["title"], panel["title"])


def test_every_dashboard_has_the_template_variables(generated: Path) -> None:
    for title, board in _boards(generated).items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert set(variables) == {VAR_DATASOURCE, VAR_INSTANCE, VAR_MODEL}, title
        assert variables[VAR_DATASOURCE]["type"] == "datasource"
        assert variables[VAR_DATASOURCE]["query"] == "prometheus"
        for name in (VAR_INSTANCE, VAR_MODEL):
            assert variables[name]["type"] == "query"
            assert variables[name]["query"].startswith("label_values(")
            assert variables[name]["datasource"]["uid"] == f"${{{VAR_DATASOURCE}}}"


def test_every_panel_has_queries_units_and_the_datasource_variable(generated: Path) -> None:
    for title, board in _boards(generated).items():
        for panel in board["panels"]:
            where = f"{title} / {panel['title']}"
            assert panel["targets"], where
            assert all(t["expr"].strip() and t["refId"] for t in panel["targets"]), where
            assert panel["fieldConfig"]["defaults"]["unit"], where
            assert panel["datasource"]["uid"] == f"${{{VAR_DATASOURCE}}}", where


@pytest.mark.parametrize("spec", [SPEC, SCENARIO], ids=["slo-spec", "scenario"])
def test_slo_thresholds_match_the_spec_objectives(
    spec: Path, generated: Path, from_scenario: Path
) -> None:
    board = _boards(generated if spec == SPEC else from_scenario)["SLO overview"]
    panels = {p["title"]: p for p in board["panels"]}
    drawn = 0
    for slo in load_spec(spec).slos:
        sli_panels = [
            p for t, p in panels.items() if t.startswith(f"{slo.name}: ") and "objective" in t
        ]
        if slo.sli == "goodput":  # judged per request by the client only: not drawn
            assert not sli_panels and slo.name in board["description"]
            continue
        (panel,) = sli_panels
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        objective = parse_objective(slo.objective)
        colours = {s["value"]: s["color"] for s in steps}
        if objective.higher_is_better:  # at the objective: met, or only warned about
            assert colours[objective.threshold] == ("orange" if slo.warn else "green"), slo.name
        else:
            assert colours[objective.threshold] == "red", slo.name
        if slo.warn:
            assert colours[parse_objective(slo.warn).threshold] == "orange", slo.name
        custom = panel["fieldConfig"]["defaults"]["custom"]
        assert custom["thresholdsStyle"]["mode"] == "dashed"
        drawn += 1
    assert drawn >= 5


def test_slos_with_an_error_budget_get_burn_rate_and_budget_as_their_alerts_count(
    generated: Path,
) -> None:
    panels = {p["title"]: p for p in _boards(generated)["SLO overview"]["panels"]}
    burn = panels["vllm-ttft-p95: burn rate"]  # vllm_ttft p95 < 500ms: 5% budget
    assert [t["legendFormat"] for t in burn["targets"]] == ["5m", "1h"]  # the fast page's
    assert all('le="0.5"' in t["expr"] and "/ 0.05" in t["expr"] for t in burn["targets"])
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"color": "red", "value": 14.4}
    retrieve = panels["gateway-retrieve-p99: burn rate"]["targets"][0]["expr"]
    assert 'le="0.3"' in retrieve and "/ 0.01" in retrieve  # < 400ms: the bucket edge below
    budget = panels["gateway-errors: error budget left"]  # error_rate < 1%: gateway 5xx
    assert budget["type"] == "stat"
    assert "$__range" in budget["targets"][0]["expr"] and "/ 0.01" in budget["targets"][0]["expr"]
    alerts = panels["vllm-ttft-p95: firing alerts"]["targets"][0]["expr"]
    assert 'alertstate="firing"' in alerts and 'slo="vllm-ttft-p95"' in alerts


def test_client_side_slos_of_a_scenario_are_drawn_without_a_budget(from_scenario: Path) -> None:
    panels = {p["title"]: p for p in _boards(from_scenario)["SLO overview"]["panels"]}
    ttft = panels["ttft-p95: Time to first token p95 (objective < 500ms)"]
    assert "slakit_gateway_time_to_first_token_seconds" in ttft["targets"][0]["expr"]
    assert "No error budget" in ttft["description"] and ttft["gridPos"]["w"] == 24
    assert not any(t.startswith("ttft-p95: ") and t != ttft["title"] for t in panels)
    assert "server-ttft-p95: burn rate" in panels  # its server-side twin has one


def test_provisioning_files(generated: Path) -> None:
    datasource = yaml.safe_load((generated / "provisioning" / "datasource.yaml").read_text())
    (source,) = datasource["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    providers = yaml.safe_load((generated / "provisioning" / "dashboards.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_committed_dashboards_are_up_to_date(generated: Path) -> None:
    committed = REPO / "dashboards"
    for path in generated.rglob("*.*"):
        relative = path.relative_to(generated)
        assert (committed / relative).read_text() == path.read_text(), (
            f"dashboards/{relative} is stale: run `slakit gen dashboards scenarios/{SPEC.name}`"
        )


def test_without_a_spec_the_slo_overview_shows_firing_alerts(tmp_path: Path) -> None:
    generate_dashboards(None, tmp_path)
    (panel,) = _boards(tmp_path)["SLO overview"]["panels"]
    assert "ALERTS" in panel["targets"][0]["expr"]


def test_a_bad_spec_names_file_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("slos:\n  - name: x\n    sli: nope\n    objective: '< 1s'\n")
    with pytest.raises(InputError, match=r"spec.yaml:\d: slos.0.*unknown sli 'nope'"):
        generate_dashboards(spec, tmp_path / "out")


# --- import through grafana-client, against the recorder -------------------------------


def test_import_with_a_token_creates_the_folder_and_maps_the_datasource(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_test")
    monkeypatch.delenv("GRAFANA_USER", raising=False)
    with GrafanaRecorder(token="glsa_test") as grafana:
        urls = import_dashboards(
            generated, grafana.url, folder="SLOs", datasource_uid_map={DATASOURCE_UID: "prom-1"}
        )
    assert not grafana.problems
    assert len(urls) == 5 and all(u.startswith(f"{grafana.url}/d/slakit-") for u in urls)
    assert list(grafana.folders.values()) == ["SLOs"]
    posts = [r for r in grafana.requests if r.path == "/api/dashboards/db"]
    assert len(posts) == 5
    for post in posts:
        assert post.headers["Authorization"] == "Bearer glsa_test"
        assert post.body["folderUid"] in grafana.folders and post.body["overwrite"] is False
        text = json.dumps(post.body["dashboard"])
        assert DATASOURCE_UID not in text, post.body["dashboard"]["title"]
        variables = {v["name"]: v for v in post.body["dashboard"]["templating"]["list"]}
        assert variables[VAR_DATASOURCE]["current"]["value"] == "prom-1"


def test_reimport_needs_overwrite_and_reuses_the_folder(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    monkeypatch.setenv("GRAFANA_USER", "admin")
    monkeypatch.setenv("GRAFANA_PASSWORD", "s3cret")
    with GrafanaRecorder(basic=("admin", "s3cret")) as grafana:
        import_dashboards(generated, grafana.url, folder="slakit")
        with pytest.raises(InputError, match="412") as conflict:
            import_dashboards(generated, grafana.url, folder="slakit")
        import_dashboards(generated, grafana.url, folder="slakit", overwrite=True)
    assert not grafana.problems
    assert "\n" not in str(conflict.value) and "overwrite" in str(conflict.value)
    assert list(grafana.folders.values()) == ["slakit"]
    assert {d["version"] for d in grafana.dashboards.values()} == {2}
    assert all(r.headers["Authorization"].startswith("Basic ") for r in grafana.requests)


def test_wrong_credentials_give_one_readable_line(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "wrong")
    with GrafanaRecorder(token="right") as grafana:
        with pytest.raises(InputError) as refused:
            import_dashboards(generated, grafana.url)
    (problem,) = refused.value.problems
    assert "401 unauthorized" in problem and "GRAFANA_TOKEN" in problem
    assert grafana.url in problem and not grafana.dashboards


def test_missing_credentials_and_unreachable_grafana(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GRAFANA_TOKEN", "GRAFANA_USER", "GRAFANA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InputError, match="set GRAFANA_TOKEN"):
        import_dashboards(generated, "http://127.0.0.1:1")
    monkeypatch.setenv("GRAFANA_TOKEN", "t")
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(InputError, match="unreachable") as unreachable:
        import_dashboards(generated, url)
    assert "\n" not in str(unreachable.value)
