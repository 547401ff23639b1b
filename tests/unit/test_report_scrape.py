"""A report keeps the scrape interval its server side was read with; one written before
slakit read it (when it assumed 5 s) still loads."""

from __future__ import annotations

import time

from slakit import metrics
from slakit.report.model import Report, ScrapeSettings
from tests.report_factory import passing_report


def test_a_report_keeps_its_scrape_settings() -> None:
    scrape = ScrapeSettings(
        interval_s=15, source="targets", jobs=["vllm"], step_s=15, rate_window_s=60
    )
    stored = passing_report(scrape=scrape).model_dump_json()
    assert Report.model_validate_json(stored).scrape == scrape


def test_a_report_from_before_the_field_loads() -> None:
    old = passing_report().model_dump(mode="json")
    del old["scrape"]
    assert Report.model_validate(old).scrape is None


def test_the_wait_for_the_last_scrape_is_bounded_if_the_clock_stepped_back() -> None:
    """The run ended at `ended` on the samples' axis; the wall clock now reads an hour
    earlier. The wait is one scrape and the slack (here 0.2 + 1 s), not an hour."""
    scrape = ScrapeSettings(interval_s=0.2, source="targets", jobs=[], step_s=1, rate_window_s=4)
    started = time.monotonic()
    metrics.wait_for_scrape(scrape, ended=time.time() + 3600)
    waited = time.monotonic() - started
    assert 0.2 + metrics.SCRAPE_SLACK_S <= waited < 0.2 + metrics.SCRAPE_SLACK_S + 2, waited
