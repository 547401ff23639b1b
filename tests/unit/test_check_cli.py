"""`slakit check` and `slakit exporter` as a user runs them: stored reports written to disk,
edited as a user (or a careless script) would edit them, and the exit code and stderr
line the gate gives. Exit 2 is a refusal: one `slakit: REPORT: field: problem` line each."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from slakit import evaluate as ev
from slakit.load.samples import Sample, SampleWriter, read_samples
from slakit.report.model import Report
from slakit.scenario import Scenario
from tests.conftest import run_cli
from tests.report_factory import START, make_report, make_slo, partial_report, passing_report

CLI_TIMEOUT_S = 120


def stored(report: Report, run_dir: Path, edit: Callable[[dict], object] | None = None) -> Path:
    """`report` as report.json in `run_dir`, after `edit` changed its JSON in place."""
    data = json.loads(report.model_dump_json())
    if edit is not None:
        edit(data)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "report.json"
    path.write_text(json.dumps(data))
    return path


def check(*args: str):
    return run_cli("check", *map(str, args), timeout=CLI_TIMEOUT_S)


def assert_refused(result, line: str) -> None:
    """Exit 2 with `line` among stderr's lines, every line a `slakit:` problem."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert line in lines, result.stderr
    assert all(text.startswith("slakit: ") for text in lines), result.stderr


def test_an_untouched_stored_report_passes(tmp_path: Path) -> None:
    result = check(stored(passing_report(), tmp_path))
    assert result.returncode == 0, result.stderr


def test_an_untouched_partial_report_fails_without_being_refused(tmp_path: Path) -> None:
    result = check(stored(partial_report(), tmp_path))
    assert result.returncode == 1, result.stderr


# --- reports that do not add up ---------------------------------------------------------


def _set(*keys: str | int, to: object) -> Callable[[dict], None]:
    """An edit setting the field at `keys` to `to`."""

    def edit(data: dict) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = to

    return edit


def _drop_scenario_slos(data: dict) -> None:
    del data["scenario"]["slos"]


def _duplicate_first_result(data: dict) -> None:
    data["slos"].append(data["slos"][0])


def _claim_complete(data: dict) -> None:
    data["status"], data["partial_reason"] = "complete", None


# (report, edit, the line check must give); the passing report's first SLO is ttft-p95
REFUSED = {
    "results emptied": (
        passing_report,
        _set("slos", to=[]),
        "slos: no result for the scenario's SLO 'ttft-p95'",
    ),
    "result renamed": (
        passing_report,
        _set("slos", 0, "name", to="ttft-p95-old"),
        "slos.0.name: 'ttft-p95-old' is not an SLO of the scenario (its SLOs: "
        "ttft-p95, rag-latency-p99, error-rate, throughput, kv-cache)",
    ),
    "scenario lost its slos": (
        passing_report,
        _drop_scenario_slos,
        "slos.0.name: 'ttft-p95' is not an SLO of the scenario (its SLOs: none)",
    ),
    "result twice": (
        passing_report,
        _duplicate_first_result,
        "slos: 'ttft-p95' has 2 results, not one",
    ),
    "result of another aggregation": (
        passing_report,
        _set("slos", 0, "aggregation", to="p50"),
        "slos.0.aggregation: 'p50', but the scenario's SLO 'ttft-p95' has 'p95'",
    ),
    "scenario invalid": (
        passing_report,
        _set("scenario", "slos", 0, "sli", to="ttft_typo"),
        "scenario: slos.0: unknown sli 'ttft_typo'; expected one of ",
    ),
    "unknown schema version": (
        passing_report,
        _set("schema_version", to=99),
        "schema_version: this slakit reads schema version 1, not 99",
    ),
    "value not a number": (
        passing_report,
        _set("slos", 0, "value", to=math.nan),
        "slos.0.value: nan is not a finite number",
    ),
    "partial edited to complete": (
        partial_report,
        _set("status", to="complete"),
        "status: 'complete', but partial_reason says "
        "'the target stopped answering after 42 s (connection refused)'",
    ),
    "partial edited to complete, reason removed": (
        partial_report,
        _claim_complete,
        "status: 'complete', but the run lasted 42 s of its 120 s",
    ),
    "partial without a reason": (
        partial_report,
        _set("partial_reason", to=None),
        "partial_reason: a partial report says why",
    ),
}


@pytest.mark.parametrize(("make", "edit", "problem"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_report_that_does_not_add_up_is_refused(
    tmp_path: Path, make: Callable[[], Report], edit: Callable[[dict], None], problem: str
) -> None:
    path = stored(make(), tmp_path, edit)
    result = check(path)
    expected = f"slakit: {path}: {problem}"
    if problem.endswith("expected one of "):  # the SLI catalogue follows
        assert result.returncode == 2 and expected in result.stderr, result.stderr
    else:
        assert_refused(result, expected)


def test_a_baseline_that_does_not_add_up_is_refused(tmp_path: Path) -> None:
    current = stored(passing_report(), tmp_path / "current")
    baseline = stored(
        passing_report(), tmp_path / "baseline", _set("slos", 0, "value", to=math.nan)
    )
    result = check(current, "--baseline", baseline)
    assert_refused(result, f"slakit: {baseline}: slos.0.value: nan is not a finite number")


# --- stored values against the samples beside them ------------------------------------

SAMPLED = {
    "name": "sampled",
    "workload": [{"kind": "chat"}],
    "load": {"rate": {"rps": 10, "duration": "60s"}},
    "slos": [
        {"name": "latency-p95", "sli": "latency", "aggregation": "p95", "objective": "< 1s"},
        {"name": "errors", "sli": "error_rate", "aggregation": "ratio", "objective": "< 5%"},
    ],
}


def sampled_run(run_dir: Path) -> Report:
    """600 requests over 60 s written as a run writes them, and the report a run makes of
    them (its values evaluated from those samples)."""
    writer = SampleWriter(run_dir / "samples-local.jsonl")
    for i in range(600):
        start = START + i / 10
        latency = 0.2 + (i % 50) / 100
        error = "http_500" if i % 100 == 0 else None
        writer.write(Sample(kind="chat", start=start, end=start + latency, error=error))
    writer.close()
    window = ev.EvalWindow(START, START + 60)
    slos = ev.evaluate_slos(Scenario.model_validate(SAMPLED), read_samples(run_dir), window, None)
    return make_report(name="sampled", seconds=60, warmup=0, slos=slos, scenario=SAMPLED)


def test_values_that_agree_with_the_samples_beside_the_report_pass(tmp_path: Path) -> None:
    result = check(stored(sampled_run(tmp_path), tmp_path))
    assert result.returncode == 0, result.stderr


def test_a_value_the_samples_beside_it_do_not_give_is_refused(tmp_path: Path) -> None:
    report = sampled_run(tmp_path)
    measured = report.slos[0].value
    # 594 successes; their p95 lies among the twelve at 0.2 + 0.47 s (start + latency on
    # an epoch-second clock is exact to a microsecond)
    assert (measured, report.slos[0].samples) == (pytest.approx(0.67, abs=1e-6), 594)
    path = stored(report, tmp_path, _set("slos", 0, "value", to=0.5))
    given = f"the samples beside the report give {measured:.12g}"
    assert_refused(check(path), f"slakit: {path}: slos.0.value: 0.5 stored, but {given}")


def test_a_sample_count_the_samples_beside_it_do_not_give_is_refused(tmp_path: Path) -> None:
    path = stored(sampled_run(tmp_path), tmp_path, _set("slos", 0, "samples", to=6000))
    given = "the samples beside the report give 594"
    assert_refused(check(path), f"slakit: {path}: slos.0.samples: 6000 stored, but {given}")


# --- baseline arithmetic --------------------------------------------------------------


def latency_run(run_dir: Path, seconds: float, allowed: str | None = None) -> Path:
    """A stored run whose one SLO measured latency p95 = `seconds`, the scenario allowing
    `allowed` worsening against a baseline."""
    slo = make_slo("latency-p95", "latency", "p95", "< 5s", seconds)
    allow = _set("scenario", "slos", 0, "baseline", to=allowed) if allowed else None
    return stored(make_report(slos=[slo]), run_dir, allow)


# 1.0 -> 1.1 is +10%, not +10.000000000000009%; 33.3% is 0.333, not 0.33299999999999996
@pytest.mark.parametrize(
    ("allowed", "now", "code"),
    [("10%", 1.1, 0), ("10%", 1.1001, 1), ("33.3%", 1.333, 0), ("33.3%", 1.3331, 1)],
)
def test_a_regression_exactly_at_the_allowed_share_is_within_it(
    tmp_path: Path, allowed: str, now: float, code: int
) -> None:
    baseline = latency_run(tmp_path / "baseline", 1.0, f"within {allowed}")
    current = latency_run(tmp_path / "current", now, f"within {allowed}")
    result = check(current, "--baseline", baseline)
    assert result.returncode == code, result.stdout + result.stderr


@pytest.mark.parametrize(("now", "code"), [(1.1, 0), (1.1001, 1)])
def test_max_regression_exactly_at_the_allowed_share_is_within_it(
    tmp_path: Path, now: float, code: int
) -> None:
    baseline = latency_run(tmp_path / "baseline", 1.0)
    current = latency_run(tmp_path / "current", now)
    result = check(current, "--baseline", baseline, "--max-regression", "10")
    assert result.returncode == code, result.stdout + result.stderr


@pytest.mark.parametrize("pct", ["nan", "inf", "-5"])
def test_a_max_regression_that_is_no_share_is_refused(tmp_path: Path, pct: str) -> None:
    baseline = latency_run(tmp_path / "baseline", 1.0)
    current = latency_run(tmp_path / "current", 2.0)
    result = check(current, "--baseline", baseline, "--max-regression", pct)
    assert_refused(result, f"slakit: --max-regression: expected a percentage >= 0, got {pct}")


# --- exporters ------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", ["gpu", "es", "inference"])
def test_an_exporter_with_a_bad_config_exits_2_with_a_readable_line(
    tmp_path: Path, exporter: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("bogus: 1\n")  # unknown to every exporter, whatever the environment
    result = run_cli("exporter", exporter, "--config", str(config), timeout=CLI_TIMEOUT_S)
    assert result.returncode == 2, result.stderr
    assert f"{config}:1: bogus: unknown field" in result.stderr
    assert "Traceback" not in result.stderr


def test_text_from_a_report_reaches_the_terminal_inert(tmp_path: Path) -> None:
    """A reason a target sent (or an edited file holds) is printed, never interpreted:
    no terminal escape, no rich markup turned into style."""
    hostile = "\x1b[2Jcleared [bold red]red[/bold red] \u202eevil"
    path = stored(
        partial_report(limits=[hostile]), tmp_path / "run", _set("partial_reason", to=hostile)
    )
    result = check(path)
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "[bold red]red[/bold red]" in result.stdout
    assert "limited by:  [2Jcleared" in result.stdout
