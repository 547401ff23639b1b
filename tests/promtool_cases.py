"""promtool unit tests written by hand for generated rules: input series as segments, and
the expectation a user checks (an alert absent one evaluation before a minute, present at
it, once). Run by the real `promtool test rules` (`slakit.generate.promtool.validate`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from slakit.generate.alerts import render
from slakit.generate.promtool import validate

Segment = tuple[int, float]  # (samples, added per sample)


def counter(start: float, *segments: Segment) -> str:
    """promtool's notation for a counter at `start` (minute 0) that then adds `step` per
    sample for `samples` samples, segment after segment."""
    parts, value = [f"{start:.10g}"], start
    for samples, step in segments:
        if samples:
            parts.append(f"{value + step:.10g}+{step:.10g}x{samples - 1}")
            value += step * samples
    return " ".join(parts)


def gauge(*segments: tuple[int, float | str]) -> str:
    """`samples` samples of each value in turn; "stale" ends the series (as Prometheus
    marks the series of a target that stopped answering or was removed)."""
    return " ".join(
        "stale" if value == "stale" else f"{value:.10g}x{samples - 1}"
        for samples, value in segments
        if samples
    )


def alerts_of(rule_file: Path) -> dict[str, dict]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def firing(rule: dict, labels: dict[str, str], value: float | None = None) -> dict:
    """An alert of `rule` as promtool reports it: its labels and rendered annotations."""
    every = {**labels, **rule["labels"]}
    return {
        "exp_labels": every,
        "exp_annotations": {k: render(v, every, value) for k, v in rule["annotations"].items()},
    }


def at(minute: int, alert: str, alerts: list[dict]) -> dict:
    return {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": alerts}


def first_fires_at(minute: int, alert: str, expected: dict) -> list[dict]:
    """Not firing one evaluation before `minute`, firing once at it."""
    return [at(minute - 1, alert, []), at(minute, alert, [expected])]


def run(rules: Path | list[Path], groups: list[dict], tmp: Path) -> list[str]:
    """promtool's problems with `groups` (test groups) on the rule file(s); empty if all
    pass."""
    files = rules if isinstance(rules, list) else [rules]
    test = tmp / f"{files[0].stem}.cases.test.yml"
    test.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(f) for f in files],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", **g} for g in groups],
            },
            sort_keys=False,
            width=1000,
        )
    )
    return validate([], [test])
