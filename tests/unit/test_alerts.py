"""`slakit gen alerts`: the rules' shape, the bucket edge a latency SLO is judged at, the
committed files being current, real promtool on what is generated, and bad specs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from slakit.catalogue import metrics as names
from slakit.errors import InputError
from slakit.exporters import gpu
from slakit.generate.alerts import generate_alerts, go_humanize
from slakit.generate.promtool import validate

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path("scenarios/slo-spec.yaml")  # relative: the files' header names it so
COMMITTED = ROOT / "alert_rules"
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
METADATA = [
    names.SLO_OBJECTIVE, names.SLO_ERROR_BUDGET, names.SLO_PERIOD_DAYS,
    names.SLO_PERIOD_BURN_RATE, names.SLO_BUDGET_REMAINING, names.SLO_INFO,
]  # fmt: skip


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def rules_of(path: Path) -> dict[str, list[dict]]:
    return {g["name"]: g["rules"] for g in yaml.safe_load(path.read_text())["groups"]}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("alerts")
    generate_alerts(ROOT / SPEC, out)
    return out


def test_every_server_slo_gets_its_records_and_one_page_and_one_ticket_alert(
    generated: Path,
) -> None:
    groups = rules_of(generated / "slo.rules.yml")
    spec = yaml.safe_load((ROOT / SPEC).read_text())
    assert set(groups) == {f"slakit-slo-{s['name']}" for s in spec["slos"]}
    for group, rules in groups.items():
        slo = group.removeprefix("slakit-slo-")
        records = [r for r in rules if "record" in r]
        assert [r["record"] for r in records] == [
            *(f"slakit:slo_errors:ratio_rate{w}" for w in [*WINDOWS, "30d"]),
            *METADATA,
        ]
        assert all(r["labels"]["slo"] == slo for r in records)
        alerts = [r for r in rules if "alert" in r]
        stem = "SloBurn" + "".join(p.capitalize() for p in slo.split("-"))
        # One page and one ticket alert per SLO, with no `for:` (issue 11: a `for:` only
        # made them late; two page rules per SLO paged twice for one incident).
        assert [(a["alert"], a["labels"]["severity"], a.get("for")) for a in alerts] == [
            (f"{stem}Page", "page", None),
            (f"{stem}Ticket", "ticket", None),
        ]
        for alert in alerts:
            assert alert["labels"] == {"severity": alert["labels"]["severity"], "slo": slo}
            assert alert["annotations"]["runbook_url"] == (
                f"alert_rules/RUNBOOK.md#{alert['alert'].lower()}"
            )
            assert alert["annotations"]["burn_rate"] == "{{ $value | humanize }}"
            assert "{{ $value | humanize }}x the budget" in alert["annotations"]["description"]
            assert alert["annotations"]["objective"].startswith(
                next(f"{s['sli']} " for s in spec["slos"] if s["name"] == slo)
            )


def test_the_page_ors_both_window_pairs_each_over_its_factor(generated: Path) -> None:
    rules = rules_of(generated / "slo.rules.yml")["slakit-slo-gateway-errors"]
    page = next(r for r in rules if r.get("alert") == "SloBurnGatewayErrorsPage")
    ratio = 'slakit:slo_errors:ratio_rate{}{{slo="gateway-errors"}} / 0.01'
    assert page["expr"] == (
        f"(\n  {ratio.format('1h')} > 14.4\n  and\n  {ratio.format('5m')} > 14.4\n)\nor\n"
        f"(\n  {ratio.format('6h')} > 6\n  and\n  {ratio.format('30m')} > 6\n)"
    )
    five = next(r for r in rules if r.get("record") == "slakit:slo_errors:ratio_rate5m")
    requests = names.GATEWAY_REQUESTS_TOTAL
    assert five["expr"] == (
        f'sum(rate({requests}{{status=~"5.."}}[5m])) / sum(rate({requests}[5m]))'
    )
    remaining = next(r for r in rules if r.get("record") == names.SLO_BUDGET_REMAINING)
    assert remaining["expr"] == '1 - slakit:slo_period_burn_rate:ratio{slo="gateway-errors"}'


@pytest.mark.parametrize(
    ("sli", "objective", "le"),
    [
        ("gateway_retrieve_latency", "< 400ms", "0.3"),  # between 0.3 and 0.5: the edge below
        ("gateway_retrieve_latency", "< 500ms", "0.5"),  # on an edge
        ("vllm_ttft", "< 600ms", "0.5"),
        ("vllm_e2e", "< 2200ms", "2.0"),
    ],
)
def test_latency_slo_is_judged_at_the_bucket_edge_at_or_below(
    tmp_path: Path, sli: str, objective: str, le: str
) -> None:
    spec = write_spec(
        tmp_path,
        f"""\
        name: t
        slos:
          - {{name: s, sli: {sli}, aggregation: p99, objective: "{objective}"}}
        """,
    )
    generate_alerts(spec, tmp_path / "out")
    rules = rules_of(tmp_path / "out" / "slo.rules.yml")["slakit-slo-s"]
    assert f'le="{le}"' in rules[0]["expr"]
    assert rules[0]["expr"].startswith("1 - sum(rate(")
    alerts = [r for r in rules if "alert" in r]
    assert all(a["annotations"]["bucket_le"] == le for a in alerts)
    assert all("/ 0.01 > " in a["expr"] for a in alerts)  # p99: budget 1%


def test_committed_rules_are_generated_from_the_example_spec(
    generated: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)
    written = generate_alerts(SPEC, tmp_path)
    assert {p.name for p in written} == {p.name for p in COMMITTED.iterdir()}
    for path in written:
        assert path.read_text() == (COMMITTED / path.name).read_text(), (
            f"alert_rules/{path.name} is stale: run `slakit gen alerts {SPEC} --out alert_rules/`"
        )


def test_promtool_accepts_the_committed_rules_and_their_tests_pass() -> None:
    rules = sorted(COMMITTED.glob("*.rules.yml"))
    tests = sorted(COMMITTED.glob("*.test.yml"))
    assert len(rules) == len(tests) == 2
    assert validate(rules, tests) == []


def test_short_windows_divide_windows_and_fors_and_still_pass_promtool(tmp_path: Path) -> None:
    generate_alerts(ROOT / SPEC, tmp_path, short_windows=True)
    rules = rules_of(tmp_path / "slo.rules.yml")["slakit-slo-gateway-errors"]
    assert "[15s]" in rules[0]["expr"] and "[3m]" in rules[2]["expr"]  # 5m and 1h / 20
    assert "for" not in next(r for r in rules if r.get("alert") == "SloBurnGatewayErrorsPage")
    resources = rules_of(tmp_path / "resources.rules.yml")["slakit-resources"]
    assert next(r for r in resources if r["alert"] == "GpuMemoryHigh")["for"] == "30s"
    # The SLO tests take seconds (hours of rule evaluation); the live test runs these rules.
    rules = sorted(tmp_path.glob("*.rules.yml"))
    assert validate(rules, [tmp_path / "resources.test.yml"]) == []


def test_promtool_problems_name_the_alert_that_broke(generated: Path, tmp_path: Path) -> None:
    for name in ("resources.rules.yml", "resources.test.yml"):
        (tmp_path / name).write_text((generated / name).read_text())
    rules = tmp_path / "resources.rules.yml"
    rules.write_text(
        rules.read_text().replace("DCGM_FI_DEV_GPU_TEMP > 85", "DCGM_FI_DEV_GPU_TEMP > 95")
    )
    problems = validate([rules], [tmp_path / "resources.test.yml"])
    assert problems and all(p.startswith("promtool test rules: ") for p in problems)
    assert any("alertname: GpuTemperatureHigh" in p for p in problems)
    rules.write_text(rules.read_text().replace("> 95", "> > 95"))
    problems = validate([rules], [])
    assert problems and all(p.startswith("promtool check rules: ") for p in problems)


def test_resource_rules_cover_the_thresholds_of_the_spec(generated: Path) -> None:
    rules = {r["alert"]: r for r in rules_of(generated / "resources.rules.yml")["slakit-resources"]}
    assert set(rules) == {
        "GpuMemoryHigh", "GpuTemperatureHigh", "ElasticsearchCpuHigh", "ElasticsearchClusterRed",
        "ElasticsearchClusterYellow", "ElasticsearchSearchRejections", "ElasticsearchIndexingSlow",
        "ElasticsearchHeapHigh", "InferenceLatencyHigh", "GatewayErrorRateHigh", "LogErrorsHigh",
        "VllmQueueGrowing", "TargetDown", "InferenceCanaryFailing", "RagCanaryFailing",
        "ElasticsearchDown", "ElasticsearchCanaryFailing", "ElasticsearchIndexNotFresh",
        "GpuDown", "EngineReplicaDown",
    }  # fmt: skip
    assert rules["ElasticsearchClusterRed"]["labels"]["severity"] == "page"
    assert rules["ElasticsearchClusterYellow"]["labels"]["severity"] == "ticket"
    assert rules["InferenceLatencyHigh"]["expr"].endswith("> 2")
    assert (
        "vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc" in rules["VllmQueueGrowing"]["expr"]
    )
    assert 'job=~"prometheus|alertmanager|vllm|gateway|' in rules["TargetDown"]["expr"]


def test_gpu_names_are_the_gpu_exporters() -> None:
    exported = {field.name for field in gpu.FIELDS}
    assert {names.GPU_FB_USED, names.GPU_FB_FREE, names.GPU_TEMP} <= exported


def test_a_scenario_file_is_read_for_its_server_side_slos(tmp_path: Path) -> None:
    generate_alerts(ROOT / "scenarios" / "smoke.yaml", tmp_path)
    text = (tmp_path / "slo.rules.yml").read_text()
    assert set(rules_of(tmp_path / "slo.rules.yml")) == {
        "slakit-slo-errors", "slakit-slo-server-ttft-p95", "slakit-slo-rag-total-p95",
    }  # fmt: skip
    assert "#   ttft-p95: sli 'ttft' is measured by the load generator" in text


def test_resources_can_be_tuned_and_switched_off(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """\
        name: t
        resources:
          gpu_temperature: {above_celsius: 80, for: 1m, severity: page}
          es_cluster_yellow: {enabled: false}
        """,
    )
    generate_alerts(spec, tmp_path / "out")
    rules = {
        r["alert"]: r
        for r in rules_of(tmp_path / "out" / "resources.rules.yml")["slakit-resources"]
    }
    assert "ElasticsearchClusterYellow" not in rules
    temp = rules["GpuTemperatureHigh"]
    assert (temp["expr"], temp["for"], temp["labels"]["severity"]) == (
        "DCGM_FI_DEV_GPU_TEMP > 80", "1m", "page",
    )  # fmt: skip
    assert rules["GpuMemoryHigh"]["for"] == "10m"  # untouched: its own default


def test_humanize_matches_prometheus() -> None:
    # Values and outputs from Prometheus' template tests.
    cases = {
        0: "0",
        0.72: "720m",
        1: "1",
        18: "18",
        14.4: "14.4",
        1234567: "1.235M",
        0.0005: "500u",
    }
    assert {v: go_humanize(v) for v in cases} == cases


BAD = {
    "gauge sli": (
        "slos:\n  - {name: q, sli: vllm_queue_length, aggregation: max, objective: '< 5'}\n",
        ":3: slos.0.sli: sli 'vllm_queue_length' is a gauge",
    ),
    "window ratio sli": (
        "slos:\n  - {name: p, sli: vllm_prefix_cache_hit_rate, aggregation: ratio, "
        "objective: '> 50%'}\n",
        ":3: slos.0.sli: sli 'vllm_prefix_cache_hit_rate' is a share of tokens over a run window",
    ),
    "client sli": (
        "slos:\n  - name: t\n    sli: ttft\n    objective: '< 5s'\n",
        ":4: slos.0.sli: sli 'ttft' is measured by the load generator",
    ),
    "unreachable alert": (
        "slos:\n  - {name: t, sli: vllm_ttft, aggregation: p50, objective: '< 5s'}\n",
        ":3: slos.0.aggregation: a budget of 50% burnt 14.4x is every request",
    ),
    "below every bucket": (
        "slos:\n  - {name: t, sli: vllm_ttft, aggregation: p99, objective: '< 0.5ms'}\n",
        ":3: slos.0.objective: '< 0.5ms' is below the smallest bucket",
    ),
    "scoped": (
        "slos:\n  - {name: t, sli: vllm_ttft, objective: '< 1s', scope: chat}\n",
        ":3: slos.0.scope: scoped to a request kind",
    ),
    "two slos one name": (
        "slos:\n  - {name: t, sli: vllm_ttft, objective: '< 1s'}\n"
        "  - {name: t, sli: vllm_itl, objective: '< 1s'}\n",
        ":4: slos.1.name: two SLOs share the name 't'",
    ),
    "windows reversed": (
        "alerting:\n  burn_rates:\n"
        "    - {severity: page, factor: 2, long_window: 5m, short_window: 1h}\n",
        ":4: alerting.burn_rates.0.short_window: must be shorter than long_window",
    ),
    "for on a burn rate": (
        "alerting:\n  burn_rates:\n"
        "    - {severity: page, factor: 2, long_window: 1h, short_window: 5m, for: 2m}\n",
        ":4: alerting.burn_rates.0.for: burn-rate alerts take no `for:`",
    ),
    "one alert name for two slos": (
        "slos:\n  - {name: a-b, sli: vllm_ttft, objective: '< 1s'}\n"
        "  - {name: a_b, sli: vllm_itl, objective: '< 1s'}\n",
        ": slos: 'a-b' and 'a_b' make the same alert name SloBurnABPage",
    ),
    "bad duration": (
        "alerting:\n  budget_window: 30 days\n",
        ":3: alerting.budget_window: expected a duration like '5m', '6h' or '30d'",
    ),
    "bad percentage": (
        "resources:\n  gpu_memory: {above: 190%}\n",
        ":3: resources.gpu_memory.above: expected a percentage like '90%'",
    ),
    "unknown field": ("resources:\n  gpu: {above: 5%}\n", ":3: resources.gpu: unknown field"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_spec_is_an_input_error_with_file_and_line(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: bad\n" + text)
    with pytest.raises(InputError) as err:
        generate_alerts(spec, tmp_path / "out")
    assert any(p.startswith(f"{spec}{expected}") for p in err.value.problems), err.value.problems
    assert not (tmp_path / "out").exists()


def test_unknown_format_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown format 'grafana'"):
        generate_alerts(ROOT / SPEC, tmp_path, formats=("prometheus", "grafana"))
