"""An OpenSLO SLO document read as the SLO spec (`slakit gen alerts slo.openslo.yaml`).

One `kind: SLO` document per file, `openslo/v1alpha` (as Sloth reads it) or `openslo/v1`
(inline `ratioMetric`): its target, rolling time window (the budget window) and ratio of
good or bad to total events. slakit alerts on counters, so each query must be a counter
selector as slakit and Sloth write them, `sum(rate(<selector>[{{.window}}]))` or, with
`counter: true`, `sum(<selector>)`; the good query may be `total - bad`. Anything else is
refused (exit 2) naming the query. The burn-rate policy is slakit's defaults: OpenSLO has
no multi-window burn-rate alert.
"""

from __future__ import annotations

import re
from typing import Any

from slakit.generate.budget import EventSlo
from slakit.scenario import Slo
from slakit.units import parse_prom_duration, prom_duration

VERSIONS = ("openslo/v1alpha", "openslo/v1")
_SELECTOR = r"[A-Za-z_:][\w:]*(?:\{[^{}]*\})?"
_RATE = re.compile(rf"^sum\(rate\(({_SELECTOR})\[\{{\{{\s*\.window\s*\}}\}}\]\)\)$")
_COUNTER = re.compile(rf"^sum\(({_SELECTOR})\)$")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


class NotReadable(ValueError):
    """What of the document slakit cannot read, with the field's dotted path."""


def is_openslo(data: object) -> bool:
    return isinstance(data, dict) and data.get("apiVersion") in VERSIONS


def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            raise NotReadable(f"{'.'.join(map(str, path))}: missing") from None
    return data


def _selector(query: object, field: str) -> str:
    text = " ".join(str(query).split())
    match = _RATE.match(text) or _COUNTER.match(text)
    if match is None:
        raise NotReadable(
            f"{field}: {text!r}: slakit reads `sum(rate(<selector>[{{{{.window}}}}]))` or "
            "`sum(<selector>)` of a counter"
        )
    return match.group(1)


def _window(spec: dict) -> float:
    if "timeWindows" in spec:  # v1alpha
        window = _get(spec, "timeWindows", 0)
        unit = str(_get(window, "unit")).lower()
        if unit not in _UNITS:
            raise NotReadable(f"spec.timeWindows.0.unit: {unit!r} is not one of {list(_UNITS)}")
        return float(_get(window, "count")) * _UNITS[unit]
    return parse_prom_duration(str(_get(spec, "timeWindow", 0, "duration")))


def read(doc: dict) -> tuple[dict, EventSlo]:
    """The spec's fields (name, description, budget window) and the SLO's events."""
    if doc.get("kind") != "SLO":
        raise NotReadable(f"kind: {doc.get('kind')!r}: one `kind: SLO` document per file")
    spec = _get(doc, "spec")
    name = str(_get(doc, "metadata", "name"))
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", name):
        raise NotReadable(f"metadata.name: {name!r}: letters, digits and _.:- only")
    objective = _get(spec, "objectives", 0)
    target = float(_get(objective, "target"))
    if not 0 < target < 1:
        raise NotReadable(f"spec.objectives.0.target: {target:g} is not between 0 and 1")
    if doc["apiVersion"] == "openslo/v1alpha":
        ratio, where = _get(objective, "ratioMetrics"), "spec.objectives.0.ratioMetrics"
        queries = {k: _get(ratio, k, "query") for k in ("good", "total") if k in ratio}
    else:
        ratio, where = _get(spec, "indicator", "spec", "ratioMetric"), "spec.indicator"
        queries = {
            k: _get(ratio, k, "metricSource", "spec", "query")
            for k in ("good", "bad", "total")
            if k in ratio
        }
    total = _selector(_get(queries, "total"), f"{where}.total")
    good = bad = ""
    if "bad" in queries:
        bad = _selector(queries["bad"], f"{where}.bad")
    else:
        text = str(_get(queries, "good"))
        left, minus, right = (" ".join(text.split())).partition(" - ")
        if minus and _selector(left, f"{where}.good") == total:  # total - bad
            bad = _selector(right, f"{where}.good")
        else:
            good = _selector(text, f"{where}.good")
    window = _window(spec)
    described = str(spec.get("description") or f"{target:.6g} of events good").rstrip(".")
    slo = Slo.model_construct(  # no slakit SLI: the events are the document's own
        name=name, sli="openslo", aggregation="ratio", objective=f">= {target:.6g}"
    )
    plan = EventSlo(slo, round(1 - target, 9), total, good=good, bad=bad, meaning=described)
    fields = {
        "name": str(spec.get("service") or name),
        "description": described,
        "alerting": {"budget_window": prom_duration(window)},
    }
    return fields, plan
