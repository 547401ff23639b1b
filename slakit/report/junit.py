"""JUnit XML: every CI system can show it, so each SLO becomes one test case.

`fail` and `inconclusive` are failures (the gate fails on inconclusive by default, and a
CI page should agree with the exit code); `warn` passes with a note in system-out. A
partial run adds a failing `run-complete` case so a cut-short run never looks green, and
a scenario's `gate.max_measurement_error` is a case of its own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from slakit.report.formatting import MISSING, fmt_value
from slakit.report.model import Report, SloResult
from slakit.verdict import BOUND


def _testcase(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")


def _slo_case(suite: ET.Element, classname: str, slo: SloResult) -> None:
    case = _testcase(suite, classname, slo.name)
    measured = fmt_value(slo.value, slo.dimension)
    if slo.verdict == "fail":
        failure = ET.SubElement(
            case,
            "failure",
            type="fail",
            message=f"measured {measured} vs objective {slo.objective}",
        )
        failure.text = slo.detail
    elif slo.verdict == "inconclusive":
        failure = ET.SubElement(
            case,
            "failure",
            type="inconclusive",
            message=f"inconclusive: {slo.detail or 'not enough data'}",
        )
        failure.text = f"measured {measured} from {slo.samples} samples"
    elif slo.verdict == "warn":
        out = ET.SubElement(case, "system-out")
        out.text = (
            f"WARN: measured {measured} vs warn {slo.warn or MISSING}"
            f" (objective {slo.objective}). {slo.detail}"
        ).strip()


def _measurement_case(suite: ET.Element, classname: str, report: Report) -> None:
    """The scenario's measurement bound as one more case, failing as the gate does."""
    measurement = report.measurement
    if measurement is None or measurement.verdict is None:
        return
    case = _testcase(suite, classname, BOUND)
    if measurement.verdict in ("fail", "inconclusive"):
        ET.SubElement(
            case, "failure", type=measurement.verdict, message=measurement.detail
        ).text = measurement.detail
    else:
        ET.SubElement(case, "system-out").text = measurement.detail


def _properties(suite: ET.Element, report: Report) -> None:
    props = ET.SubElement(suite, "properties")
    for name, value in [
        ("run_id", report.run_id),
        ("scenario_path", report.scenario_path),
        ("verdict", report.verdict),
        ("exit_code", report.exit_code),
        ("schema_version", report.schema_version),
    ]:
        ET.SubElement(props, "property", name=name, value=str(value))


def render_junit(report: Report) -> str:
    """The report as a JUnit XML document (one suite, one case per SLO)."""
    classname = f"slakit.{report.scenario_name}"
    root = ET.Element("testsuites", name="slakit")
    suite = ET.SubElement(root, "testsuite", name=classname)
    _properties(suite, report)
    for slo in report.slos:
        _slo_case(suite, classname, slo)
    _measurement_case(suite, classname, report)
    if report.status == "partial":
        case = _testcase(suite, classname, "run-complete")
        reason = report.partial_reason or "the run ended early"
        ET.SubElement(
            case, "failure", type="partial", message=f"partial run: {reason}"
        ).text = reason
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    duration = f"{report.ended_at - report.started_at:.3f}"
    counts = {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": "0",
        "skipped": "0",
        "time": duration,
    }
    suite.attrib.update(
        {
            **counts,
            "timestamp": datetime.fromtimestamp(report.started_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S"
            ),
        }
    )
    root.attrib.update(counts)
    ET.indent(root)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{ET.tostring(root, encoding="unicode")}\n'
