"""Write a run's four report files, and read a stored report back (for check/report)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from slakit.errors import InputError
from slakit.report.html import render_html
from slakit.report.junit import render_junit
from slakit.report.markdown import render_markdown
from slakit.report.model import Report
from slakit.yamlconf import format_validation_error

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


def report_file(path: Path) -> Path:
    """The report.json a REPORT argument names: the file itself, or the one in a run dir."""
    return path / "report.json" if path.is_dir() else path


def load_report(path: Path) -> Report:
    """A stored report (its report.json, or the run directory holding it); InputError with
    one `file: field: problem` line per problem."""
    path = report_file(path)
    try:
        data = path.read_bytes()  # bytes: pydantic reports a non-UTF-8 file as invalid JSON
    except OSError as exc:
        raise InputError(f"{path}: cannot read report: {exc.strerror}") from None
    try:
        return Report.model_validate_json(data)
    except ValidationError as exc:
        raise InputError(*format_validation_error(exc, str(path))) from None
