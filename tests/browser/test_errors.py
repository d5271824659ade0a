"""Not-found pages in a real browser: an empty day and an unknown paper."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from .browsing import Site
from .sample import Sample, day_label

pytestmark = pytest.mark.browser


def test_empty_day_links_to_the_nearest_days(site: Site, page: Page, sample: Sample) -> None:
    sunday = dt.date(2026, 6, 7)
    assert sunday.weekday() == 6 and sunday not in sample.days
    before, after = sample.before(sunday), sample.after(sunday)
    assert before is not None and after is not None
    site.allow_console(r"status of 404 .* at http://127\.0\.0\.1:\d+/papers\?date=2026-06-07$")

    response = page.goto(f"/papers?date={sunday.isoformat()}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text(f"No papers for {day_label(sunday)}")
    links = page.locator("ul.notice-links a")
    expect(links).to_have_text(
        [
            f"← {day_label(before)}",
            f"{day_label(after)} →",
            f"Latest papers ({day_label(sample.latest)})",
            "Home",
        ]
    )
    expect(page.get_by_role("link", name=f"{day_label(after)} →")).to_have_attribute(
        "href", f"/papers?date={after.isoformat()}"
    )

    page.get_by_role("link", name=f"← {day_label(before)}").click()
    expect(page).to_have_url(f"/papers?date={before.isoformat()}")
    expect(page.locator(".period-label")).to_have_text(day_label(before))
    expect(page.locator("article.card")).to_have_count(min(50, len(sample.ids(before))))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/papers/2101.99999", "No paper 2101.99999 is stored here."),
        ("/papers/not-a-paper", "'not-a-paper' is not an arXiv id."),
    ],
    ids=["unknown-id", "not-an-id"],
)
def test_unknown_paper_shows_not_found(site: Site, page: Page, path: str, message: str) -> None:
    site.allow_console(rf"status of 404 .* at http://127\.0\.0\.1:\d+{path}$")
    response = page.goto(path)
    assert response is not None and response.status == 404
    expect(page).to_have_title("Paper not found · Daily Papers")
    expect(page.locator("h1")).to_have_text("Paper not found")
    expect(page.locator(".notice p")).to_have_text(message)
    page.locator(".notice").get_by_role("link", name="Home").click()
    expect(page).to_have_url("/")
    expect(page.locator("h1")).to_have_text("Daily Papers")
