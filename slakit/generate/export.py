"""The spec's SLOs for other SLO tools, keeping the alerting policy or refusing (exit 2)
when the format cannot hold it; never a silent default in its place.

- `sloth`: Sloth's `prometheus/v1` spec (no time window there) and an `AlertWindows` file
  (`sloth.slok.dev/v1`) with the budget window as `sloPeriod` and the burn rates as page and
  ticket quick/slow windows: Sloth's alerts are slakit's. Sloth has exactly two window pairs
  per severity; any other policy is refused.
- `openslo` (v1, as `oslo validate` reads it) and `openslo-v1alpha` (what Sloth v0.16 reads):
  objective, SLI and budget window. OpenSLO has no multi-window burn-rate alert, so the
  policy stays in slakit's rules (the file says so; Sloth generates no alert for it).

Same events and budgets as the Prometheus rules (`budget.EventSlo`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slakit.errors import InputError
from slakit.generate.budget import EventSlo
from slakit.generate.slo_rules import SEVERITIES, alert_name, camel
from slakit.generate.spec import BurnRate, SloSpec
from slakit.units import prom_duration

FORMATS = ("openslo", "openslo-v1alpha", "sloth")
SLOTH_WINDOWS_DIR = "sloth-windows"
DAY = 86400
_NO_POLICY = (
    "# OpenSLO has no multi-window burn-rate alert: the spec's burn rates are not in this "
    "file (slakit's Prometheus rules keep them).\n"
)


@dataclass(frozen=True)
class Export:
    """One file: YAML documents and comment lines to put above them."""

    documents: list[dict]
    note: str = ""


def export(fmt: str, spec: SloSpec, events: list[EventSlo]) -> dict[str, Export]:
    """The files of `fmt` by name (relative to the output directory)."""
    if fmt == "openslo":
        return {"openslo.yaml": Export(openslo(spec, events), _NO_POLICY)}
    if fmt == "openslo-v1alpha":
        return {"openslo-v1alpha.yaml": Export(openslo_v1alpha(spec, events), _NO_POLICY)}
    return sloth(spec, events)


def _target(plan: EventSlo) -> float:
    return round(1 - plan.budget, 6)


def _source(query: str) -> dict:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def openslo(spec: SloSpec, events: list[EventSlo]) -> list[dict]:
    """A Service and one ratio-metric SLO per event SLO (raw counters, `counter: true`)."""
    window = prom_duration(spec.alerting.budget_window)
    docs: list[dict] = [
        {
            "apiVersion": "openslo/v1",
            "kind": "Service",
            "metadata": {"name": spec.name},
            "spec": {"description": spec.description or f"SLOs of {spec.name}"},
        }
    ]
    for plan in events:
        ratio: dict = {"counter": True}
        kind, selector = ("bad", plan.bad) if plan.bad else ("good", plan.good)
        ratio[kind] = _source(f"sum({selector})")
        ratio["total"] = _source(f"sum({plan.total})")
        docs.append(
            {
                "apiVersion": "openslo/v1",
                "kind": "SLO",
                "metadata": {"name": plan.slo.name},
                "spec": {
                    "description": plan.meaning,
                    "service": spec.name,
                    "indicator": {
                        "metadata": {"name": f"{plan.slo.name}-sli"},
                        "spec": {"ratioMetric": ratio},
                    },
                    "timeWindow": [{"duration": window, "isRolling": True}],
                    "budgetingMethod": "Occurrences",
                    "objectives": [{"displayName": plan.slo.objective, "target": _target(plan)}],
                },
            }
        )
    return docs


def _rate(selector: str) -> str:
    return f"sum(rate({selector}[{{{{.window}}}}]))"


def openslo_v1alpha(spec: SloSpec, events: list[EventSlo]) -> list[dict]:
    """One SLO document per event SLO, as Sloth v0.16 reads OpenSLO: good and total events
    as PromQL over `{{.window}}`, the window in whole days."""
    days = spec.alerting.budget_window / DAY
    if days != int(days):
        raise InputError(
            f"alerting.budget_window: {prom_duration(spec.alerting.budget_window)} is not a "
            "whole number of days, which OpenSLO v1alpha as Sloth reads it requires"
        )
    docs = []
    for plan in events:
        good = f"{_rate(plan.total)} - {_rate(plan.bad)}" if plan.bad else _rate(plan.good)
        query = {"source": "prometheus", "queryType": "promql"}
        docs.append(
            {
                "apiVersion": "openslo/v1alpha",
                "kind": "SLO",
                "metadata": {"name": plan.slo.name, "displayName": plan.slo.objective},
                "spec": {
                    "service": spec.name,
                    "description": plan.meaning,
                    "budgetingMethod": "Occurrences",
                    "objectives": [
                        {
                            "ratioMetrics": {
                                "good": {**query, "query": good},
                                "total": {**query, "query": _rate(plan.total)},
                            },
                            "target": _target(plan),
                        }
                    ],
                    "timeWindows": [{"count": int(days), "unit": "Day", "isRolling": True}],
                },
            }
        )
    return docs


def _sloth_windows(spec: SloSpec) -> dict:
    """Sloth's AlertWindows for the spec's budget window and burn rates; InputError when
    the burn rates are not two page and two ticket pairs (all Sloth can express)."""
    alerting = spec.alerting
    period = alerting.budget_window
    by_severity: dict[str, list[BurnRate]] = {
        s: sorted((r for r in alerting.burn_rates if r.severity == s), key=lambda r: r.long_window)
        for s in SEVERITIES
    }
    counts = ", ".join(f"{len(rates)} {s}" for s, rates in by_severity.items())
    if any(len(rates) != 2 for rates in by_severity.values()):
        raise InputError(
            "alerting.burn_rates: Sloth's alert windows are exactly two page and two ticket "
            f"burn rates (quick and slow); this spec has {counts}, which Sloth cannot express"
        )

    def window(rate: BurnRate) -> dict:
        # Sloth states a burn rate as the share of the period's budget spent over the long
        # window: factor = percent / 100 * period / long window.
        percent = rate.factor * rate.long_window / period * 100
        return {
            "errorBudgetPercent": round(percent, 9),
            "shortWindow": prom_duration(rate.short_window),
            "longWindow": prom_duration(rate.long_window),
        }

    return {
        "apiVersion": "sloth.slok.dev/v1",
        "kind": "AlertWindows",
        "spec": {
            "sloPeriod": prom_duration(period),
            **{
                s: {"quick": window(rates[0]), "slow": window(rates[1])}
                for s, rates in by_severity.items()
            },
        },
    }


# Sloth's names (service, SLO): alphanumeric at both ends, `-`, `_` and `.` between.
_SLOTH_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")


def _sloth_names(spec: SloSpec, events: list[EventSlo]) -> None:
    named = [("name", spec.name), *(("slos", p.slo.name) for p in events)]
    bad = [
        f"{field}: {name!r}"
        for field, name in named
        if len(name) < 2 or not _SLOTH_NAME.fullmatch(name)
    ]
    if bad:
        raise InputError(
            *(
                f"{b}: Sloth takes names of two or more letters, digits, '-', '_' and '.' that "
                "start and end with a letter or digit"
                for b in bad
            )
        )


def sloth(spec: SloSpec, events: list[EventSlo]) -> dict[str, Export]:
    """Sloth's spec and the alert windows file it must be run with (the command is in the
    spec's header)."""
    _sloth_names(spec, events)
    windows = _sloth_windows(spec)
    period = windows["spec"]["sloPeriod"]
    windows_file = f"{SLOTH_WINDOWS_DIR}/{period}.yaml"
    slos = []
    base = spec.alerting.runbook_url_base
    for plan in events:
        total = _rate(plan.total)
        errors = _rate(plan.bad) if plan.bad else f"{total} - {_rate(plan.good)}"
        name = f"SloBurn{camel(plan.slo.name)}"  # slakit's alert names less the severity

        def runbook(severity: str, slo: str = plan.slo.name) -> str:
            return alert_name(slo, severity).lower()

        slos.append(
            {
                "name": plan.slo.name,
                "objective": round(_target(plan) * 100, 4),
                "description": plan.meaning,
                "sli": {"events": {"error_query": errors, "total_query": total}},
                "alerting": {
                    "name": name,
                    "labels": {"slo": plan.slo.name},
                    "annotations": {"summary": f"SLO {plan.slo.name}: {plan.meaning}"},
                    **{
                        f"{severity}_alert": {
                            "labels": {"severity": severity},
                            "annotations": {"runbook_url": f"{base}#{runbook(severity)}"},
                        }
                        for severity in SEVERITIES
                    },
                },
            }
        )
    run = (
        f"# Run: sloth generate -i sloth.yaml --default-slo-period {period} "
        f"--slo-period-windows-path {SLOTH_WINDOWS_DIR}\n"
        f"# ({windows_file} holds the budget window and burn rates: Sloth's spec has no "
        "field for them.)\n"
    )
    spec_doc = {"version": "prometheus/v1", "service": spec.name, "slos": slos}
    return {
        "sloth.yaml": Export([spec_doc], run),
        windows_file: Export([windows], run),
    }
