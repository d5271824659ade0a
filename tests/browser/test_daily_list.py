"""The daily list in a real browser: home page, pages, day navigation, week and month tabs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from dailypapers.render.latex import to_text

from .pages import PAGE_SIZE, card_ids, cards, day_groups, expected_groups
from .sample import Sample, author_line, day_label, has_math, squash

pytestmark = pytest.mark.browser


def assert_groups(page: Page, sample: Sample, start: dt.date, end: dt.date, number: int) -> None:
    """The page shows the sample's papers of the period grouped under linked day headings."""
    expected = expected_groups(sample, start, end, number)
    shown = day_groups(page)
    assert [(g["text"], g["href"], g["ids"]) for g in shown] == [
        (day_label(day), f"/papers?date={day.isoformat()}", ids) for day, ids in expected
    ]


def test_home_shows_the_latest_day(page: Page, sample: Sample) -> None:
    response = page.goto("/")
    assert response is not None and response.status == 200
    latest = sample.latest
    expect(page).to_have_title(f"{day_label(latest)} · Daily Papers")
    expect(page.locator("h1")).to_have_text("Daily Papers")
    expect(page.locator(".period-label")).to_have_text(day_label(latest))
    expect(page.locator(".period-tabs .tab.active")).to_have_text("Daily")
    expect(page.locator(".count-line")).to_contain_text(f"{len(sample.ids(latest))} papers")
    expect(page.locator("article.card")).to_have_count(PAGE_SIZE)
    expect(page.locator("article.card").first.locator(".card-title a")).to_be_visible()
    expect(page.locator(".day-nav .next.disabled")).to_be_visible()

    shown = cards(page)
    assert [c["id"] for c in shown] == sample.ids(latest)[:PAGE_SIZE]
    for card in shown:
        paper = sample.papers[card["id"]]
        assert card["href"] == f"/papers/{paper.id}"
        if has_math(paper.title):
            assert card["titleMath"] > 0, paper.id
        else:  # text-mode LaTeX (``--``, ``\\emph{}``) as the characters it means
            assert squash(card["title"]) == squash(to_text(paper.title, dollar="$"))
        assert squash(card["authors"]) == author_line(paper.authors)
        assert card["allAuthors"] == ", ".join(paper.authors)
        count = len(paper.authors)
        assert card["authorCount"] == f"{count} author{'' if count == 1 else 's'}"
        excerpt = squash(card["abstract"])
        assert 40 < len(excerpt) <= 281, paper.id
        if not has_math(paper.abstract):  # the plain text of the abstract's LaTeX
            shown = to_text(paper.abstract, dollar="$")
            assert squash(shown).startswith(excerpt.removesuffix("…").strip())
            assert excerpt.endswith("…") == (len(to_text(paper.abstract)) > 280)
        assert card["upvotes"] == str(paper.upvotes)


def test_pagination_to_page_two_and_back(page: Page, sample: Sample) -> None:
    page.goto("/")
    ids = sample.ids(sample.latest)
    assert len(ids) > PAGE_SIZE, "the sample's latest day should fill more than one page"
    pager = page.locator("nav.pager")
    expect(pager).to_contain_text("Page 1 of 2")
    expect(pager.get_by_role("link", name="← Newer")).to_have_count(0)

    pager.get_by_role("link", name="Older →").click()
    expect(page).to_have_url(re.compile(r"[?&]p=1(&|$)"))
    expect(pager).to_contain_text("Page 2 of 2")
    expect(page.locator("article.card")).to_have_count(len(ids) - PAGE_SIZE)
    expect(page.locator(".period-label")).to_have_text(day_label(sample.latest))
    assert card_ids(page) == ids[PAGE_SIZE:]
    expect(pager.get_by_role("link", name="Older →")).to_have_count(0)

    pager.get_by_role("link", name="← Newer").click()
    expect(pager).to_contain_text("Page 1 of 2")
    expect(page.locator("article.card")).to_have_count(PAGE_SIZE)
    assert card_ids(page) == ids[:PAGE_SIZE]


def test_previous_and_next_day_by_clicking(page: Page, sample: Sample) -> None:
    latest = sample.latest
    previous = sample.before(latest)
    assert previous is not None
    earlier = sample.before(previous)
    assert earlier is not None
    # The sample's days before Jun 30 (Tue) are Jun 29 (Mon) and Jun 26 (Fri): a weekend gap.
    assert (previous - earlier).days > 1, "the sample should have a gap before its last days"

    page.goto("/")
    nav = page.locator("nav.day-nav")
    for before in (previous, earlier):
        expect(nav.locator("a.prev")).to_have_text(f"← {day_label(before)}")
        nav.locator("a.prev").click()
        expect(page).to_have_url(f"/papers?date={before.isoformat()}")
        expect(page.locator(".period-label")).to_have_text(day_label(before))
        expect(page.locator("article.card")).to_have_count(min(PAGE_SIZE, len(sample.ids(before))))
        assert card_ids(page) == sample.ids(before)[:PAGE_SIZE]

    for day in (previous, latest):
        expect(nav.locator("a.next")).to_have_text(f"{day_label(day)} →")
        nav.locator("a.next").click()
        expect(page).to_have_url(f"/papers?date={day.isoformat()}")
        expect(page.locator(".period-label")).to_have_text(day_label(day))
        assert card_ids(page) == sample.ids(day)[:PAGE_SIZE]
    expect(nav.locator(".next.disabled")).to_be_visible()
    expect(nav.locator("a.next")).to_have_count(0)


def test_weekly_tab_groups_days(page: Page, sample: Sample) -> None:
    latest = sample.latest
    start = latest - dt.timedelta(days=latest.weekday())
    end = start + dt.timedelta(days=6)
    year, week, _ = latest.isocalendar()
    total = len(sample.ids(start, end))

    page.goto("/")
    page.locator(".period-tabs").get_by_role("link", name="Weekly").click()
    expect(page).to_have_url(f"/papers?week={year}-W{week:02d}")
    expect(page.locator(".period-tabs .tab.active")).to_have_text("Weekly")
    expect(page.locator(".period-label")).to_have_text(f"Week {week}, {year}")
    expect(page.locator(".count-line")).to_contain_text(f"{total} papers")
    expect(page.locator("article.card")).to_have_count(min(PAGE_SIZE, total))
    assert_groups(page, sample, start, end, 0)

    page.locator("nav.pager").get_by_role("link", name="Older →").click()
    expect(page.locator("nav.pager")).to_contain_text("Page 2 of")
    assert_groups(page, sample, start, end, 1)
    headings = page.locator("h3.day-heading")
    assert headings.count() >= 2, "page 2 of the last week should span two days"

    second = expected_groups(sample, start, end, 1)[1][0]
    headings.get_by_role("link", name=day_label(second)).click()
    expect(page).to_have_url(f"/papers?date={second.isoformat()}")
    expect(page.locator(".period-tabs .tab.active")).to_have_text("Daily")
    expect(page.locator("h3.day-heading")).to_have_count(0)


def test_monthly_tab_groups_days(page: Page, sample: Sample) -> None:
    latest = sample.latest
    start = latest.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    total = len(sample.ids(start, end))
    pages = -(-total // PAGE_SIZE)

    page.goto("/")
    page.locator(".period-tabs").get_by_role("link", name="Monthly").click()
    expect(page).to_have_url(f"/papers?month={start:%Y-%m}")
    expect(page.locator(".period-tabs .tab.active")).to_have_text("Monthly")
    expect(page.locator(".period-label")).to_have_text(f"{start:%B %Y}")
    expect(page.locator(".count-line")).to_contain_text(f"{total} papers")
    expect(page.locator("nav.pager")).to_contain_text(f"Page 1 of {pages}")
    assert_groups(page, sample, start, end, 0)

    page.locator("nav.pager").get_by_role("link", name="Older →").click()
    expect(page.locator("nav.pager")).to_contain_text(f"Page 2 of {pages}")
    assert_groups(page, sample, start, end, 1)
    assert page.locator("h3.day-heading").count() >= 2

    before = sample.before(start)
    assert before is not None
    previous_month = before.replace(day=1)
    page.locator("nav.day-nav a.prev").click()
    expect(page).to_have_url(f"/papers?month={previous_month:%Y-%m}")
    expect(page.locator(".period-label")).to_have_text(f"{previous_month:%B %Y}")
    assert_groups(page, sample, previous_month, start - dt.timedelta(days=1), 0)
