"""`slakit run scenario --wire-check`: which ports a run captures, and what its capture
says of the run's numbers, for the report's "Measurement error" section.

The capture surrounds the load alone: the target check before it sends no traceparent,
and the SLOs judged on wire times are the scenario's own, over the same requests.
"""

from __future__ import annotations

import pandas as pd

from slakit import evaluate as ev
from slakit.errors import InputError
from slakit.report.model import MeasurementReport
from slakit.scenario import Scenario
from slakit.target import NEEDS, ResolvedTarget
from slakit.wire.arbiter import arbitrate
from slakit.wire.capture import Capture, loopback_ports
from slakit.wire.http import read_exchanges


def refuse_unsupported(scenario: Scenario, wire_check: bool) -> None:
    """A sweep judges each step on its own and its capacity across them, a repeated run
    each SLO over its runs: one capture cannot say which of those verdicts would change
    on wire times, so neither takes `--wire-check` nor a bound only a wire check holds."""
    if scenario.load.sweep:
        what, instead = "a sweep", "one of its rates as `load.rate`"
    elif scenario.repeat > 1:
        what, instead = "a repeated run (`repeat`)", "one run of it (`repeat: 1`)"
    else:
        return
    if wire_check:
        raise InputError(f"--wire-check: {what} cannot be checked; check {instead}")
    if scenario.gate.max_measurement_error is not None:
        raise InputError(
            f"{scenario.gate.where('max_measurement_error')}: {what} cannot be wire-checked; "
            f"bound {instead}"
        )


def capture_ports(scenario: Scenario, target: ResolvedTarget) -> list[int]:
    """The ports of the target URLs this workload's request kinds send to (not, say, a
    Prometheus the report queries): the capture holds the run's own traffic only."""
    return loopback_ports(getattr(target, NEEDS[k.kind][0]) for k in scenario.workload)


def measure(
    capture: Capture, samples: pd.DataFrame, scenario: Scenario, window: ev.EvalWindow
) -> MeasurementReport:
    """The run's samples (all of them: a warm-up request is timed like any other) against
    the capture, and the scenario's client-side SLOs judged again on wire times.

    The wire frame keeps each sample's own start for choosing the window, so both
    judgements cover the same requests; samples not found on the wire count with their
    client times."""
    traffic = read_exchanges(capture.paths)
    check = arbitrate(samples, traffic.exchanges)
    wire = check.wire.assign(start=samples["start"])
    wire_slos = [
        result
        for result in ev.evaluate_slos(scenario, wire, window, prometheus=None)
        if result.side == "client"
    ]
    return MeasurementReport(
        error=check.error,
        capture_clean=capture.clean,
        dropped_packets=capture.dropped,
        headless_connections=traffic.headless_connections,
        broken_connections=traffic.broken_connections,
        wire_slos=wire_slos,
    )
