"""When "ERROR lines > 10 per minute for 2m" first fires, checked by the real promtool on
the generated rule: the ES exporter's count of the last window's ERROR lines, scraped and
evaluated every minute. A burst that starts at minute 10 holds the expression from then
on, so the alert is pending at 10 and 11 and fires at 12, once, and stays one alert
while the burst lasts; a burst shorter than `for:` never fires; the threshold is the
spec's and is a rate a minute whatever the query's window."""

from __future__ import annotations

from pathlib import Path

import pytest

from slakit.catalogue import metrics as names
from slakit.generate.alerts import generate_alerts
from tests.promtool_cases import alerts_of, at, firing, first_fires_at, gauge, run

ALERT = "LogErrorsHigh"
EXPORTER = {"instance": "es-exporter:1", "job": "es-exporter"}
QUERY = {**EXPORTER, names.COUNT_QUERY_LABEL: "log_lines"}
ERRORS = {**QUERY, "index": "logs-slakit.*-*", names.COUNT_GROUP_LABEL: "error"}
START, UNTIL = 10, 20  # the burst begins at minute 10; the test ends at 20


def rules(tmp: Path, resources: str = "") -> Path:
    spec = tmp / "spec.yaml"
    spec.write_text(f"name: t\n{resources}")
    generate_alerts(spec, tmp)
    return tmp / "resources.rules.yml"


def counted(before: float, during: float, window_s: float = 60, lasts: int | None = None) -> list:
    """The exporter's series: `before` lines per window until START, then `during` for
    `lasts` minutes (to the end if None), then `before` again; the window gauge beside it."""
    lasts = UNTIL + 1 - START if lasts is None else lasts
    after = UNTIL + 1 - START - lasts
    hits = gauge((START, before), (lasts, during), (after, before))
    return [
        {"series": _sel(names.ES_COUNT_QUERY_HITS, ERRORS), "values": hits},
        {
            "series": _sel(names.ES_COUNT_QUERY_WINDOW, QUERY),
            "values": gauge((UNTIL + 1, window_s)),
        },
        # Other levels are counted too and must not make it fire.
        {
            "series": _sel(names.ES_COUNT_QUERY_HITS, {**ERRORS, names.COUNT_GROUP_LABEL: "info"}),
            "values": gauge((UNTIL + 1, 1000)),
        },
    ]


def _sel(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def check(rule_file: Path, tmp: Path, series: list, tests: list) -> None:
    problems = run(
        rule_file, [{"name": "burst", "input_series": series, "alert_rule_test": tests}], tmp
    )
    assert problems == [], "\n".join(problems)


def test_a_burst_fires_two_minutes_after_it_began_and_once(tmp_path: Path) -> None:
    rule_file = rules(tmp_path)
    rule = alerts_of(rule_file)[ALERT]
    assert rule["for"] == "2m"
    one = firing(rule, ERRORS, 25)
    tests = [at(START, ALERT, []), *first_fires_at(START + 2, ALERT, one)]
    tests += [at(m, ALERT, [one]) for m in (START + 3, UNTIL)]  # one alert, still
    check(rule_file, tmp_path, counted(5, 25), tests)


def test_a_burst_shorter_than_for_never_fires(tmp_path: Path) -> None:
    rule_file = rules(tmp_path)
    tests = [at(m, ALERT, []) for m in range(START, UNTIL + 1)]
    check(rule_file, tmp_path, counted(5, 25, lasts=2), tests)


@pytest.mark.parametrize(("during", "fires"), [(10, False), (11, True)])
def test_the_threshold_is_more_than_ten_a_minute(tmp_path: Path, during: float, fires: bool):
    rule_file = rules(tmp_path)
    one = firing(alerts_of(rule_file)[ALERT], ERRORS, during)
    check(rule_file, tmp_path, counted(0, during), [at(START + 2, ALERT, [one] if fires else [])])


def test_a_count_over_five_minutes_is_judged_per_minute(tmp_path: Path) -> None:
    """55 lines in a 5-minute window are 11 a minute: above 10; 45 are 9: below."""
    rule_file = rules(tmp_path)
    one = firing(alerts_of(rule_file)[ALERT], ERRORS, 11)
    check(rule_file, tmp_path, counted(0, 55, 300), [at(START + 2, ALERT, [one])])
    check(rule_file, tmp_path, counted(0, 45, 300), [at(START + 2, ALERT, [])])


def test_the_spec_sets_threshold_and_for(tmp_path: Path) -> None:
    resources = "resources:\n  log_errors: {above_per_minute: 30, for: 5m}\n"
    rule_file = rules(tmp_path, resources)
    rule = alerts_of(rule_file)[ALERT]
    assert rule["for"] == "5m"
    one = firing(rule, ERRORS, 40)
    tests = [at(START + 4, ALERT, []), at(START + 5, ALERT, [one])]
    check(rule_file, tmp_path, counted(25, 40), tests)
