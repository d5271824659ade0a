"""Layout in a real browser: no sideways scrolling on a phone, the favicon, the README shot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .browsing import REPO, Site
from .pages import overflow, plain_paper
from .sample import Sample

pytestmark = pytest.mark.browser

README_SCREENSHOT = REPO / "docs" / "screenshot.png"


# Sample papers that once showed layout faults at phone width (long URL, wide math, \$).
LONG_URL_PAPER = "2605.02989"  # a 90-character Google Docs URL in the abstract
WIDE_MATH_PAPER = "2605.14457"  # $\{\text{AIME}, \text{HMMT}, ...\}$: inline math, no break
ESCAPED_DOLLAR_PAPER = "2605.05410"  # "\$0 marginal cost" opens a math span in KaTeX


def _path(sample: Sample, key: str) -> str:
    latest = sample.latest
    previous = sample.before(latest)
    assert previous is not None
    year, week, _ = previous.isocalendar()
    papers = {
        "paper": plain_paper(sample, sample.ids(latest)).id,
        "math-paper": sample.with_math().id,
        "long-url-paper": LONG_URL_PAPER,
        "wide-math-paper": WIDE_MATH_PAPER,
        "escaped-dollar-paper": ESCAPED_DOLLAR_PAPER,
    }
    if key in papers:
        assert papers[key] in sample.papers, f"{papers[key]} is not in the sample"
        return f"/papers/{papers[key]}"
    return {
        "home": "/",
        "home-page-2": "/?p=1",
        "day-with-both-links": f"/papers?date={previous.isoformat()}",
        "week": f"/papers?week={year}-W{week:02d}",
        "month": f"/papers?month={latest:%Y-%m}",
        "empty-day": "/papers?date=2026-06-07",
        "unknown-paper": "/papers/2101.99999",
    }[key]


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
@pytest.mark.parametrize(
    "key",
    [
        "home",
        "home-page-2",
        "day-with-both-links",
        "week",
        "month",
        "paper",
        "math-paper",
        "empty-day",
        "unknown-paper",
        "long-url-paper",
        "wide-math-paper",
        "escaped-dollar-paper",
    ],
)
def test_no_horizontal_scrolling_on_a_phone(
    site: Site, page: Page, sample: Sample, key: str
) -> None:
    site.allow_console(r"status of 404 ")  # the two not-found pages
    page.goto(_path(sample, key))
    expect(page.locator("main h1").first).to_be_visible()
    found = overflow(page, 390)
    # A phone widens the window to fit a page that is too wide: both numbers must stay 390.
    assert found["scrollWidth"] <= 390 and found["innerWidth"] == 390, found


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_favicon(page: Page) -> None:
    page.goto("/")
    has_icon = page.locator("link[rel~=icon]").count() > 0
    assert has_icon or page.request.get("/favicon.ico").ok


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_readme_screenshot(page: Page, sample: Sample) -> None:
    """A 1280x900 shot of the home page; DAILYPAPERS_UPDATE_SCREENSHOT=1 writes docs/."""
    page.goto("/")
    expect(page.locator("article.card")).to_have_count(50)
    page.evaluate("document.fonts.ready.then(() => true)")
    shot = page.screenshot()
    Path(REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "readme-screenshot.png").write_bytes(shot)
    if os.environ.get("DAILYPAPERS_UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        README_SCREENSHOT.write_bytes(shot)
