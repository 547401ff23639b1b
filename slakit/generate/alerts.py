"""`slakit gen alerts SPEC --out DIR`: Prometheus rules for an SLO spec, with their tests.

Writes `slo.rules.yml` (per SLO: error ratios recorded over every burn-rate window and the
budget window, the budget metadata, one page and one ticket multi-window burn-rate alert),
`resources.rules.yml` (thresholds on GPU, Elasticsearch, engine and gateway metrics, and the
outage alerts: targets down or gone, exporters whose target is down, canaries failing), a
promtool unit test file for each (`slo.test.yml`, `resources.test.yml`: every alert fires on
a violating series when its `for:` has passed, not before, and stays silent on a healthy
one) and `RUNBOOK.md`, which the alerts' `runbook_url` annotation points into. The test
files sit beside the rules: copy only `*.rules.yml` into a Prometheus rules directory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from slakit.errors import InputError
from slakit.generate import export
from slakit.generate.budget import EventSlo, Skipped
from slakit.generate.checks import Check, Clock, Series
from slakit.generate.outage_rules import outage_checks
from slakit.generate.resource_rules import resource_checks
from slakit.generate.slo_rules import alert_name, recording_rules, slo_checks
from slakit.generate.spec import SloSpec, load_spec, prom_duration

SHORT_WINDOW_FACTOR = 20  # --short-windows: 5m -> 15s, 1h -> 3m, for: 2m -> 6s
FORMATS = ("prometheus", *export.FORMATS)
SAMPLE_INTERVAL = 60  # synthetic series: one sample (and one rule evaluation) a minute


def generate_alerts(
    spec_path: Path,
    out_dir: Path,
    *,
    short_windows: bool = False,
    formats: Iterable[str] = ("prometheus",),
) -> list[Path]:
    """Write the alert files for `spec_path` into `out_dir`; return the paths written.

    `short_windows` divides every window and `for:` by SHORT_WINDOW_FACTOR, so a live test
    sees an alert fire within a minute. InputError (one line per problem) on bad input.
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(
            *(f"unknown format {f!r}; expected one of {', '.join(FORMATS)}" for f in unknown)
        )
    spec = load_spec(spec_path)
    header = _header(spec_path, short_windows)
    plans = spec.plans()
    events = [p for p in plans if isinstance(p, EventSlo)]
    _distinct_alert_names(events, spec_path)
    files: dict[str, str] = {}
    if "prometheus" in formats:
        files.update(
            _prometheus(spec, plans, Clock(SHORT_WINDOW_FACTOR if short_windows else 1), header)
        )
    for fmt in (f for f in formats if f != "prometheus"):
        try:
            exported = export.export(fmt, spec, events)
        except InputError as exc:  # what the format cannot hold, named in the spec
            problems = (f"{spec_path}: {p} (--format {fmt})" for p in exc.problems)
            raise InputError(*problems) from None
        for name, out in exported.items():
            files[name] = header + out.note + _dump_all(out.documents)
    for name, text in files.items():
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / name).write_text(text)
    return [out_dir / name for name in files]


def _distinct_alert_names(events: list[EventSlo], spec_path: Path) -> None:
    """Alert names are the SLOs' names in CamelCase: `a-b` and `a_b` would share theirs."""
    named: dict[str, str] = {}
    for plan in events:
        stem = alert_name(plan.slo.name, "page")
        if stem in named:
            raise InputError(
                f"{spec_path}: slos: {named[stem]!r} and {plan.slo.name!r} make the same alert "
                f"name {stem}: rename one"
            )
        named[stem] = plan.slo.name


def _prometheus(
    spec: SloSpec, plans: list[EventSlo | Skipped], clock: Clock, header: str
) -> dict[str, str]:
    """Rule files, their promtool tests and the runbook, by file name."""
    skipped = [p for p in plans if isinstance(p, Skipped)]
    if skipped:
        header += "# No alert for (from the scenario file):\n" + "".join(
            f"#   {s.slo.name}: {s.reason}\n" for s in skipped
        )
    events = [p for p in plans if isinstance(p, EventSlo)]
    by_slo = {p.slo.name: slo_checks(p, spec.alerting, clock) for p in events}
    resources = resource_checks(spec.resources, clock) + outage_checks(spec.resources, clock)
    base = spec.alerting.runbook_url_base
    groups = [
        {
            "name": f"slakit-slo-{p.slo.name}",
            "rules": recording_rules(p, spec.alerting, clock)
            + [_alert_rule(c, base) for c in by_slo[p.slo.name]],
        }
        for p in events
    ]
    resource_group = {
        "name": "slakit-resources",
        "rules": [_alert_rule(c, base) for c in resources],
    }
    interval = clock.seconds(SAMPLE_INTERVAL)
    all_slo_checks = [c for checks in by_slo.values() for c in checks]
    return {
        "slo.rules.yml": header + _dump({"groups": groups}),
        "resources.rules.yml": header + _dump({"groups": [resource_group]}),
        "slo.test.yml": header + _dump(_test_file("slo.rules.yml", all_slo_checks, base, interval)),
        "resources.test.yml": header
        + _dump(_test_file("resources.rules.yml", resources, base, interval)),
        "RUNBOOK.md": _runbook(spec, events, all_slo_checks + resources),
    }


def _header(spec_path: Path, short_windows: bool) -> str:
    flag = " --short-windows" if short_windows else ""
    text = f"# Generated by `slakit gen alerts {spec_path}{flag}`: edit the spec, not this file.\n"
    if short_windows:
        text += (
            f"# SHORT WINDOWS (tests only): every window and for: is divided by "
            f"{SHORT_WINDOW_FACTOR}; record names keep the spec's windows.\n"
        )
    return text


def _alert_rule(check: Check, runbook_base: str) -> dict:
    """The rule; `runbook_url` is an annotation only (a label would change the alert's
    identity whenever the runbook moves)."""
    url = f"{runbook_base}#{check.alert.lower()}"
    rule: dict = {"alert": check.alert, "expr": check.expr}
    if check.for_s:
        rule["for"] = prom_duration(check.for_s)
    rule["labels"] = {"severity": check.severity, **check.labels}
    rule["annotations"] = {
        "summary": check.summary,
        "description": check.description,
        **check.annotations,
        "runbook_url": url,
    }
    return rule


# --- promtool unit tests -----------------------------------------------------------------


def _test_file(rule_file: str, checks: list[Check], runbook_base: str, interval: float) -> dict:
    return {
        "rule_files": [rule_file],
        "evaluation_interval": prom_duration(interval),
        "tests": [t for c in checks for t in _tests(c, runbook_base, interval)],
    }


def _tests(check: Check, runbook_base: str, interval: float) -> list[dict]:
    """A check's test groups: each violating case fires exactly when `for:` has passed since
    the expression first held (and not one interval before); the healthy series keep it
    silent then."""
    active = interval if check.ranged else 0  # a rate needs two samples
    fire_at = active + math.ceil(check.for_s / interval) * interval
    every = prom_duration(interval)
    rule = _alert_rule(check, runbook_base)
    groups = []
    for i, case in enumerate(check.fires, 1):
        tests = []
        if fire_at:
            tests.append(_expect(check.alert, fire_at - interval, []))
        firing = {
            "exp_labels": {**case.labels, **rule["labels"]},
            "exp_annotations": {
                k: render(v, {**case.labels, **rule["labels"]}, case.value)
                for k, v in rule["annotations"].items()
            },
        }
        tests.append(_expect(check.alert, fire_at, [firing]))
        suffix = f" ({i})" if len(check.fires) > 1 else ""
        group = {
            "name": f"{check.alert}{suffix} fires after {prom_duration(check.for_s or 0)}",
            "interval": every,
            "input_series": _input(case.series, fire_at, interval),
            "alert_rule_test": tests,
        }
        if case.samples:  # promtool compares values exactly: test closeness instead
            group["promql_expr_test"] = [
                {
                    "expr": f"abs({series} - {value:.10g}) < bool 1e-9",
                    "eval_time": prom_duration(fire_at),
                    "exp_samples": [{"labels": series[series.index("{") :], "value": 1}],
                }
                for series, value in case.samples
            ]
        groups.append(group)
    for series in check.healthy:
        groups.append(
            {
                "name": f"{check.alert} stays silent on a healthy series",
                "interval": every,
                "input_series": _input(series, fire_at, interval),
                "alert_rule_test": [_expect(check.alert, fire_at, [])],
            }
        )
    return groups


def _expect(alert: str, at: float, alerts: list[dict]) -> dict:
    return {"eval_time": prom_duration(at), "alertname": alert, "exp_alerts": alerts}


def _input(series: list[Series], until: float, interval: float) -> list[dict]:
    steps = math.ceil(until / interval) + 1
    return [
        {"series": s.selector, "values": f"{s.start:.10g}+{s.step:.10g}x{steps}"} for s in series
    ]


_TEMPLATE = re.compile(r"\{\{ (?:\$value \| (humanize|humanizePercentage)|\$labels\.(\w+)) \}\}")


def render(text: str, labels: dict[str, str], value: float | None) -> str:
    """An annotation as Prometheus renders it, for the templates the checks use."""

    def one(match: re.Match) -> str:
        if match.group(2):
            return labels[match.group(2)]
        if value is None:
            raise AssertionError(f"a check shows $value but its test case has none: {text!r}")
        if match.group(1) == "humanize":
            return go_humanize(value)
        return f"{_go_g(value * 100)}%"

    out = _TEMPLATE.sub(one, text)
    if "{{" in out:
        raise AssertionError(f"template the test generator cannot render: {text!r}")
    return out


def _go_g(value: float) -> str:
    return f"{value:.4g}"  # Go's %.4g and Python's agree on these values


def go_humanize(value: float) -> str:
    """Prometheus' `humanize` template function (SI prefixes, 4 significant digits)."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _go_g(value)
    prefix = ""
    if abs(value) >= 1:
        for p in "kMGTPEZY":
            if abs(value) < 1000:
                break
            prefix, value = p, value / 1000
    else:
        for p in "munpfazy":
            if abs(value) >= 1:
                break
            prefix, value = p, value * 1000
    return f"{_go_g(value)}{prefix}"


# --- runbook and YAML --------------------------------------------------------------------


def _runbook(spec: SloSpec, events: list[EventSlo], checks: list[Check]) -> str:
    lines = [
        f"# Runbook: {spec.name}",
        "",
        "Generated by `slakit gen alerts` with the rules beside it. Every alert links here "
        "by its name.",
        "",
    ]
    if events:
        lines += ["SLOs with burn-rate alerts:", ""]
        lines += [f"- `{p.slo.name}`: {p.meaning} (budget {p.budget:.4g})" for p in events]
        lines.append("")
    seen: set[str] = set()
    for check in checks:
        if check.alert in seen:
            continue
        seen.add(check.alert)
        lines += [f"## {check.alert}", "", f"Severity: {check.severity}.", "", check.runbook, ""]
    return "\n".join(lines)


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (PromQL), no anchors, keys in insertion order."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def _dump(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def _dump_all(documents: list[dict]) -> str:
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
