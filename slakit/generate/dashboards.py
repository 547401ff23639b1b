"""Grafana dashboards and provisioning files, built with grafana-foundation-sdk.

The panels are data (`slakit/catalogue/panels.py`, `dashboards_panels`); this module only
turns them into Grafana's typed models (so the JSON follows Grafana's schema instead of a
hand-written shape) and writes one JSON file per dashboard, plus provisioning for a
Prometheus datasource with a fixed uid and a file provider that loads the JSON files.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from slakit.catalogue import metrics as m
from slakit.catalogue.panels import (
    MODEL_LABEL,
    VAR_DATASOURCE,
    VAR_INSTANCE,
    VAR_MODEL,
    DashboardDef,
    PanelDef,
)
from slakit.errors import InputError
from slakit.generate.dashboards_panels import dashboards
from slakit.generate.spec import load_spec
from slakit.stack.config import PrometheusConfig, StackConfig

DATASOURCE_UID = "slakit-prometheus"
DATASOURCE_TYPE = "prometheus"
DATASOURCE = model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=f"${{{VAR_DATASOURCE}}}")
TAGS = ["slakit"]
PANEL_HEIGHT = 8
# Where Grafana reads the JSON from when provisioned: copy or mount this directory there.
PROVISIONED_PATH = "/var/lib/grafana/dashboards/slakit"


def _variables(instance_query: str) -> list:
    every = model.VariableOption(selected=True, text="All", value="$__all")

    def query(name: str, label: str, promql: str) -> dash.QueryVariable:
        return (
            dash.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(promql)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(every)
        )

    return [
        dash.DatasourceVariable(VAR_DATASOURCE)
        .label("Data source")
        .type(DATASOURCE_TYPE)
        .current(model.VariableOption(selected=True, text=DATASOURCE_UID, value=DATASOURCE_UID)),
        query(VAR_INSTANCE, "Instance", f"label_values({instance_query}, instance)"),
        query(VAR_MODEL, "Model", f"label_values({m.VLLM_NUM_REQUESTS_RUNNING}, {MODEL_LABEL})"),
    ]


def _thresholds(panel: PanelDef) -> dash.ThresholdsConfig:
    steps = panel.thresholds or ((None, "green"),)
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def _panel(panel: PanelDef, panel_id: int):
    if panel.kind == "stat":
        builder = (
            stat.Panel()
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .graph_mode(common.BigValueGraphMode.NONE)
        )
    else:
        builder = timeseries.Panel().legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        if panel.thresholds:  # the objective as a dashed line on the graph
            builder = builder.thresholds_style(
                common_builders.GraphThresholdsStyleConfig().mode(
                    common.GraphTresholdsStyleMode.DASHED
                )
            )
    builder = (
        builder.id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(DATASOURCE)
        .unit(panel.unit)
        .thresholds(_thresholds(panel))
        .height(PANEL_HEIGHT)
        .span(panel.width)
    )
    for index, (promql, legend) in enumerate(panel.queries):
        builder = builder.with_target(
            prometheus.Dataquery()
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
            .expr(promql)
            .legend_format(legend)
            .range()
        )
    return builder


def build(definition: DashboardDef) -> model.Dashboard:
    """The SDK's Dashboard model of one definition."""
    builder = (
        dash.Dashboard(definition.title)
        .uid(definition.uid)
        .description(definition.description)
        .tags(TAGS)
        .editable()
        .time("now-30m", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables(_variables(definition.instance_query))
    )
    for panel_id, panel in enumerate(definition.panels, start=1):
        builder = builder.with_panel(_panel(panel, panel_id))
    return builder.build()


def to_json(dashboard: model.Dashboard) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(dashboard) + "\n"


def _provisioning() -> dict[str, dict]:
    prometheus_cfg = PrometheusConfig()
    host = StackConfig.model_fields["host"].default
    return {
        "datasource.yaml": {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus (slakit)",
                    "type": DATASOURCE_TYPE,
                    "uid": DATASOURCE_UID,
                    "access": "proxy",
                    "url": f"http://{host}:{prometheus_cfg.port}",
                    "isDefault": True,
                    "jsonData": {"timeInterval": prometheus_cfg.scrape_interval},
                }
            ],
        },
        "dashboards.yaml": {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "slakit",
                    "folder": "slakit",
                    "type": "file",
                    "allowUiUpdates": False,
                    "updateIntervalSeconds": 30,
                    "options": {"path": PROVISIONED_PATH},
                }
            ],
        },
    }


_PROVISIONING_HEADER = (
    "# Generated by `slakit gen dashboards`. Put this file in Grafana's provisioning/{kind}/\n"
    "# directory; the datasource points at the embedded stack's Prometheus, the dashboard\n"
    f"# provider reads the JSON files from {PROVISIONED_PATH}.\n"
)


def generate_dashboards(spec_path: Path | None, out_dir: Path) -> list[Path]:
    """Write every dashboard as `<uid>.json` and the provisioning files; return the paths.
    Without a spec the SLO overview only shows the firing alerts."""
    spec = load_spec(spec_path) if spec_path is not None else None
    definitions = dashboards(spec.slos, spec.alerting) if spec else dashboards([])
    provisioning = out_dir / "provisioning"
    try:
        provisioning.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{provisioning}: cannot create: {exc.strerror}") from None
    written = []
    for definition in definitions:
        path = out_dir / f"{definition.uid}.json"
        path.write_text(to_json(build(definition)))
        written.append(path)
    kinds = {"datasource.yaml": "datasources", "dashboards.yaml": "dashboards"}
    for name, content in _provisioning().items():
        path = provisioning / name
        header = _PROVISIONING_HEADER.format(kind=kinds[name])
        path.write_text(header + yaml.safe_dump(content, sort_keys=False))
        written.append(path)
    return written


def read_dashboard(path: Path) -> dict:
    """A generated (or any Grafana) dashboard JSON file; InputError if it is not one."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not data.get("title") or not data.get("uid"):
        raise InputError(f"{path}: not a Grafana dashboard (no title or uid)")
    return data
