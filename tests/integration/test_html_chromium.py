"""The HTML report in a real headless Chromium: it paints, offline, with its plots.

String checks cannot tell whether inline SVG survives the HTML parser or whether the page
paints at all; a browser can. No stack needed, only /usr/bin/chromium.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from slakit.report.html import render_html
from tests.report_factory import realistic_report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT = 120  # seconds; a cold Chromium start takes a few

pytestmark = pytest.mark.integration  # Chromium comes from scripts/bootstrap.sh


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """One Chromium run on a fresh profile, bounded by TIMEOUT."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmp_path)
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(realistic_report(seconds=300)), encoding="utf-8")
    return path


def test_report_paints(page: Path, tmp_path: Path):
    png = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2400", page.as_uri())
    assert png.exists(), done.stderr[-2000:]
    assert png.stat().st_size > 20_000
    with Image.open(png) as image:
        assert image.size == (1280, 2400)
        assert image.getcolors(maxcolors=1) is None  # more than one colour: not blank
        grey = image.convert("L").histogram()
        assert sum(grey[:200]) / (1280 * 2400) > 0.01  # ink on at least 1% of the page


def test_plots_reach_the_dom(page: Path, tmp_path: Path):
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    for key in ("slo-bars", "latency", "throughput", "server"):
        figure = dom.split(f'id="plot-{key}"', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in figure and "<path" in figure, key
    assert "SlakitLatencyP95High" in dom and "WARN" in dom
