"""`slakit gen alerts --format openslo|openslo-v1alpha|sloth`: the exports keep the spec's
budget window and burn rates, or refuse with exit 2 naming what the format cannot hold;
the CLI says only what happened."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from slakit.errors import InputError
from slakit.generate.alerts import generate_alerts
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "scenarios" / "slo-spec.yaml"
SLO = "  - {name: errors, sli: error_rate, aggregation: ratio, objective: '< 0.1%'}\n"
WEEKLY = f"""\
name: weekly
slos:
{SLO}alerting:
  budget_window: 7d
  burn_rates:
    - {{severity: page, factor: 10, long_window: 1h, short_window: 5m}}
    - {{severity: page, factor: 4, long_window: 6h, short_window: 30m}}
    - {{severity: ticket, factor: 2, long_window: 1d, short_window: 2h}}
    - {{severity: ticket, factor: 1, long_window: 3d, short_window: 6h}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def docs(path: Path) -> list[dict]:
    return list(yaml.safe_load_all(path.read_text()))


def test_sloth_export_keeps_the_budget_window_and_burn_rates(tmp_path: Path) -> None:
    written = generate_alerts(write(tmp_path, WEEKLY), tmp_path / "out", formats=["sloth"])
    out = tmp_path / "out"
    assert written == [out / "sloth.yaml", out / "sloth-windows" / "1w.yaml"]  # 7d
    (windows,) = docs(out / "sloth-windows" / "1w.yaml")
    assert (windows["apiVersion"], windows["kind"]) == ("sloth.slok.dev/v1", "AlertWindows")
    spec = windows["spec"]
    assert spec["sloPeriod"] == "1w"
    # Sloth's factor is errorBudgetPercent / 100 * period / long window: back to the spec's.
    for severity, quick, slow in (("page", (10, 1), (4, 6)), ("ticket", (2, 24), (1, 72))):
        for key, (factor, hours) in (("quick", quick), ("slow", slow)):
            window = spec[severity][key]
            assert window["errorBudgetPercent"] / 100 * 7 * 24 / hours == pytest.approx(factor)
    assert spec["page"]["quick"]["longWindow"] == "1h"
    assert spec["ticket"]["slow"]["shortWindow"] == "6h"
    text = (out / "sloth.yaml").read_text()
    assert "--default-slo-period 1w --slo-period-windows-path sloth-windows" in text
    (sloth,) = docs(out / "sloth.yaml")
    slo = sloth["slos"][0]
    assert slo["objective"] == 99.9 and "{{.window}}" in slo["sli"]["events"]["error_query"]
    assert slo["alerting"]["name"] == "SloBurnErrors"
    assert slo["alerting"]["page_alert"]["annotations"]["runbook_url"].endswith(
        "#sloburnerrorspage"
    )


def test_the_default_policy_exports_as_the_workbooks_sloth_windows(tmp_path: Path) -> None:
    """30 days, 14.4x/6x/3x/1x: Sloth's own google-30d windows (2, 5, 10, 10 percent)."""
    generate_alerts(SPEC, tmp_path, formats=["sloth"])
    (windows,) = docs(tmp_path / "sloth-windows" / "30d.yaml")
    percents = {
        (s, k): w["errorBudgetPercent"]
        for s in ("page", "ticket")
        for k, w in windows["spec"][s].items()
    }
    assert percents == {
        ("page", "quick"): 2, ("page", "slow"): 5, ("ticket", "quick"): 10, ("ticket", "slow"): 10,
    }  # fmt: skip


def test_a_policy_sloth_cannot_express_is_refused_with_exit_2(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        f"""\
        name: three-pages
        slos:
        {SLO.strip()}
        alerting:
          burn_rates:
            - {{severity: page, factor: 14.4, long_window: 1h, short_window: 5m}}
            - {{severity: page, factor: 6, long_window: 6h, short_window: 30m}}
            - {{severity: page, factor: 3, long_window: 1d, short_window: 2h}}
            - {{severity: ticket, factor: 1, long_window: 3d, short_window: 6h}}
        """,
    )
    with pytest.raises(InputError, match="this spec has 3 page, 1 ticket, which Sloth cannot"):
        generate_alerts(spec, tmp_path / "out", formats=["prometheus", "sloth"])
    assert not (tmp_path / "out").exists()  # nothing half-written
    done = run_cli("gen", "alerts", str(spec), "--out", str(tmp_path / "cli"), "--format", "sloth")
    assert done.returncode == 2, done.stderr
    assert "two page and two ticket burn rates" in done.stderr
    assert not (tmp_path / "cli").exists()


def test_openslo_v1alpha_is_what_sloth_reads_and_keeps_the_window(tmp_path: Path) -> None:
    generate_alerts(write(tmp_path, WEEKLY), tmp_path, formats=["openslo-v1alpha", "openslo"])
    (alpha,) = docs(tmp_path / "openslo-v1alpha.yaml")
    assert (alpha["apiVersion"], alpha["kind"]) == ("openslo/v1alpha", "SLO")
    spec = alpha["spec"]
    assert spec["timeWindows"] == [{"count": 7, "unit": "Day", "isRolling": True}]
    (objective,) = spec["objectives"]
    assert objective["target"] == 0.999
    good = objective["ratioMetrics"]["good"]
    assert (good["source"], good["queryType"]) == ("prometheus", "promql")
    assert "[{{.window}}]" in good["query"]
    v1 = docs(tmp_path / "openslo.yaml")
    assert [d["apiVersion"] for d in v1] == ["openslo/v1"] * 2
    assert v1[1]["spec"]["timeWindow"] == [{"duration": "1w", "isRolling": True}]
    for name in ("openslo.yaml", "openslo-v1alpha.yaml"):
        assert "burn rates are not in this file" in (tmp_path / name).read_text()


def test_openslo_v1alpha_refuses_a_window_of_part_days(tmp_path: Path) -> None:
    spec = write(tmp_path, f"name: t\nslos:\n{SLO}alerting:\n  budget_window: 108h\n")
    with pytest.raises(InputError) as err:
        generate_alerts(spec, tmp_path / "out", formats=["openslo-v1alpha"])
    assert err.value.problems == [
        f"{spec}: alerting.budget_window: 108h is not a whole number of days, which OpenSLO "
        "v1alpha as Sloth reads it requires (--format openslo-v1alpha)"
    ]


def test_exports_only_print_what_was_written_and_no_promtool_verdict(tmp_path: Path) -> None:
    done = run_cli(
        "gen", "alerts", str(SPEC), "--out", str(tmp_path), "--format", "sloth",
        "--format", "openslo",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "promtool" not in done.stdout + done.stderr
    assert "wrote" in done.stdout and "sloth.yaml" in done.stdout
    assert sorted(p.name for p in tmp_path.rglob("*.yaml")) == [
        "30d.yaml", "openslo.yaml", "sloth.yaml",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "slo",
    [
        "{name: errors, sli: error_rate, aggregation: ratio, objective: '< 1%'}",
        "{name: ttft, sli: vllm_ttft, aggregation: p95, objective: '< 500ms'}",
    ],
)
def test_an_openslo_document_is_read_as_the_spec(tmp_path: Path, slo: str) -> None:
    """Round trip: the v1alpha export of an SLO, read back as the spec, gives the same
    recorded ratios and alert expressions (slakit's default policy over its window)."""
    spec = write(tmp_path, f"name: t\nslos:\n  - {slo}\nalerting:\n  budget_window: 28d\n")
    generate_alerts(spec, tmp_path / "from-spec", formats=["prometheus", "openslo-v1alpha"])
    document = tmp_path / "from-spec" / "openslo-v1alpha.yaml"
    generate_alerts(document, tmp_path / "from-openslo")

    def exprs(out: str) -> list[str]:
        (group,) = yaml.safe_load((tmp_path / out / "slo.rules.yml").read_text())["groups"]
        return [r["expr"] for r in group["rules"] if not r.get("record", "").endswith("info")]

    assert exprs("from-openslo") == exprs("from-spec")
    done = run_cli("gen", "alerts", str(document), "--out", str(tmp_path / "cli"))
    assert done.returncode == 0, done.stderr
    assert "every rule's unit test passes" in done.stdout


SLOTH_EXAMPLE = """\
apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: sloth-slo-my-service, displayName: Requests Availability}
spec:
  service: my-service
  description: Common SLO based on availability for HTTP request responses.
  budgetingMethod: Occurrences
  objectives:
    - ratioMetrics:
        good:
          source: prometheus
          queryType: promql
          query: GOOD
        total:
          source: prometheus
          queryType: promql
          query: TOTAL
      target: 0.999
  timeWindows:
    - {count: 30, unit: Day}
"""  # the shape of Sloth's examples/openslo-getting-started.yml
REQUESTS = "http_request_duration_seconds_count"
GOOD = f'sum(rate({REQUESTS}{{job="myservice",code!~"(5..|429)"}}[{{{{.window}}}}]))'
TOTAL = f'sum(rate({REQUESTS}{{job="myservice"}}[{{{{.window}}}}]))'
SLOTH_EXAMPLE = SLOTH_EXAMPLE.replace("GOOD", GOOD).replace("TOTAL", TOTAL)


def test_a_sloth_style_openslo_slo_gets_alerts_whose_tests_pass(tmp_path: Path) -> None:
    done = run_cli("gen", "alerts", str(write(tmp_path, SLOTH_EXAMPLE)), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "every rule's unit test passes" in done.stdout
    rules = yaml.safe_load((tmp_path / "slo.rules.yml").read_text())["groups"][0]["rules"]
    page = next(r for r in rules if r.get("alert") == "SloBurnSlothSloMyServicePage")
    assert "/ 0.001 > 14.4" in page["expr"]
    five = "[5m]"
    assert rules[0]["expr"] == "1 - " + GOOD.replace("[{{.window}}]", five) + " / " + (
        TOTAL.replace("[{{.window}}]", five)
    )


def test_an_openslo_query_slakit_cannot_alert_on_is_refused(tmp_path: Path) -> None:
    text = SLOTH_EXAMPLE.replace(TOTAL, "avg(up)")
    done = run_cli("gen", "alerts", str(write(tmp_path, text)), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "spec.objectives.0.ratioMetrics.total: 'avg(up)': slakit reads" in done.stderr


def test_names_sloth_refuses_are_refused_before_sloth_sees_them(tmp_path: Path) -> None:
    spec = write(tmp_path, f"name: t\nslos:\n{SLO}".replace("name: errors", "name: 'errors:5xx'"))
    with pytest.raises(InputError) as err:
        generate_alerts(spec, tmp_path / "out", formats=["sloth"])
    assert [p.split(": Sloth takes")[0] for p in err.value.problems] == [
        f"{spec}: name: 't'",
        f"{spec}: slos: 'errors:5xx'",
    ]
