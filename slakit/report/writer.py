"""Write a run's four report files, and read a stored report back (for check/report)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from slakit.errors import InputError
from slakit.report.html import render_html
from slakit.report.junit import render_junit
from slakit.report.markdown import render_markdown
from slakit.report.model import SCHEMA_VERSION, Report

RENDERERS = {
    "html": ("report.html", render_html),
    "md": ("summary.md", render_markdown),
    "junit": ("junit.xml", render_junit),
}


def write_reports(report: Report, run_dir: Path) -> None:
    """report.json first (the source of truth), then every rendering of it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "report.json").write_text(report.model_dump_json(indent=1))
    for filename, render in RENDERERS.values():
        (run_dir / filename).write_text(render(report))


def load_report(path: Path) -> Report:
    """A stored report (its report.json, or the run directory holding it)."""
    if path.is_dir():
        path = path / "report.json"
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read report: {exc.strerror}") from None
    try:
        report = Report.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"{path}: not a slakit report (schema v{SCHEMA_VERSION}): {where}: {first['msg']}"
        ) from None
    return report
