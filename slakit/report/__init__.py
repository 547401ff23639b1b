"""Reports of a run: report.json (the source of truth) rendered as JUnit, Markdown, HTML."""
