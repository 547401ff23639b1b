"""The spec's SLOs as an OpenSLO v1 document set and as a Sloth `prometheus/v1` spec, for
teams whose SLO tooling already reads one of those. Same events and budgets as the
Prometheus rules (`budget.EventSlo`); the burn-rate policy is the tool's own.
"""

from __future__ import annotations

import re

from slakit.generate.budget import EventSlo
from slakit.generate.spec import SloSpec
from slakit.units import prom_duration


def _target(plan: EventSlo) -> float:
    return round(1 - plan.budget, 6)


def _sum(selector: str) -> str:
    return f"sum({selector})"


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
        ratio[kind] = _source(_sum(selector))
        ratio["total"] = _source(_sum(plan.total))
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


def _source(query: str) -> dict:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def sloth(spec: SloSpec, events: list[EventSlo]) -> dict:
    """Sloth's spec; Sloth applies its own (SRE workbook) burn rates over its SLO period."""
    slos = []
    for plan in events:
        total = f"sum(rate({plan.total}[{{{{.window}}}}]))"
        if plan.bad:
            errors = f"sum(rate({plan.bad}[{{{{.window}}}}]))"
        else:
            errors = f"{total} - sum(rate({plan.good}[{{{{.window}}}}]))"
        slos.append(
            {
                "name": plan.slo.name,
                "objective": round(_target(plan) * 100, 4),
                "description": plan.meaning,
                "sli": {"events": {"error_query": errors, "total_query": total}},
                "alerting": {
                    "name": "Slo" + re.sub(r"[^A-Za-z0-9]", "", plan.slo.name.title()),
                    "labels": {"slo": plan.slo.name},
                    "annotations": {"summary": f"SLO {plan.slo.name}: {plan.meaning}"},
                    "page_alert": {"labels": {"severity": "page"}},
                    "ticket_alert": {"labels": {"severity": "ticket"}},
                },
            }
        )
    return {"version": "prometheus/v1", "service": spec.name, "slos": slos}
