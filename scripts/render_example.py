#!/usr/bin/env python3
"""Regenerate reports/example/: what slakit writes for a run, from the test factory.

Readers see the HTML, Markdown and JUnit without running anything; the report is built
in code (tests/report_factory.py), so it needs no stack and is the same every time.
Run: .venv/bin/python scripts/render_example.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the factory lives in tests/, not in the package

from slakit.report.html import render_html  # noqa: E402
from slakit.report.junit import render_junit  # noqa: E402
from slakit.report.markdown import render_markdown  # noqa: E402
from tests.report_factory import realistic_report  # noqa: E402


def main() -> None:
    out = ROOT / "reports" / "example"
    out.mkdir(parents=True, exist_ok=True)
    report = realistic_report()
    files = {
        "report.json": report.model_dump_json(indent=2) + "\n",
        "report.html": render_html(report),
        "summary.md": render_markdown(report),
        "junit.xml": render_junit(report),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"{out / name} ({len(text.encode()):,} bytes)")


if __name__ == "__main__":
    main()
