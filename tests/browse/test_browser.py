"""Author pages, category pages and charts in a real browser at phone and desktop widths:
reached by clicking, charts drawn inside the page width, their tables one click away."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from dailypapers.storage import runs
from dailypapers.storage.schema import papers, users, votes
from tests.browser.browsing import Site
from tests.browser.live import LiveServer
from tests.browser.pages import overflow
from tests.browser.sample import Sample

pytestmark = pytest.mark.browser
WIDTHS = {"desktop": 1280, "phone": 390}


def _check_chart(page: Page, site: Site, title: str) -> None:
    """The chart is an image named ``title``, inside the page width, with its table."""
    chart = page.locator("figure.chart").first
    svg = chart.locator("svg[role=img]")
    expect(svg).to_be_visible()
    expect(svg.locator("> title")).to_contain_text(title)
    box = svg.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 100, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTHS[site.viewport] + 0.5, box
    label = svg.get_attribute("aria-labelledby") or ""
    assert all(page.locator(f"[id='{ident}']").count() == 1 for ident in label.split())
    table = chart.locator("details table")
    expect(table).to_be_hidden()
    chart.locator("summary").click()
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 1
    found = overflow(page, WIDTHS[site.viewport])
    assert found["scrollWidth"] <= WIDTHS[site.viewport], found


def test_home_chart_of_papers_per_day(site: Site, page: Page, sample: Sample) -> None:
    page.goto("/")
    _check_chart(page, site, "Papers per day")
    latest = sample.latest.isoformat()
    cell = page.locator("figure.chart tbody tr", has_text=latest).locator("td").nth(1)
    expect(cell).to_have_text(str(len(sample.ids(sample.latest))))


def test_author_name_on_a_card_opens_the_author_page(
    site: Site, page: Page, sample: Sample
) -> None:
    counts = Counter(a for p in sample.papers.values() for a in set(p.authors))
    busiest = max(counts, key=lambda a: (counts[a], a))
    paper = max((p for p in sample.papers.values() if busiest in p.authors), key=lambda p: p.day)
    page.goto(f"/papers?date={paper.day.isoformat()}")
    card = page.locator(f'article.card[data-paper-id="{paper.id}"]')
    link = card.locator("a.author-link", has_text=busiest)
    if link.count() == 0:  # past the first three names: the paper page lists every author
        page.goto(f"/papers/{paper.id}")
        link = page.locator(".authors-full a", has_text=busiest)
    link.first.click()
    expect(page.locator("main h1")).to_contain_text(busiest)
    assert page.locator("article.card").count() >= min(counts[busiest], 50)
    _check_chart(page, site, "Papers per month")
    expect(page.locator(".category-counts li").first).to_be_visible()


def test_category_chip_opens_the_category_page(site: Site, page: Page, sample: Sample) -> None:
    paper = next(p for p in sample.papers.values() if p.day == sample.latest)
    page.goto(f"/papers/{paper.id}")
    page.locator(".categories a.cat-link").first.click()
    expect(page).to_have_url(f"/c/{paper.categories[0]}")
    expect(page.locator("main h1")).not_to_have_text(paper.categories[0])  # its name
    _check_chart(page, site, "Papers per day in")
    page.get_by_role("link", name="Weekly").click()
    expect(page.locator(".period-tabs .tab.active")).to_have_text("Weekly")
    expect(page.locator("article.card").first).to_be_visible()


def test_paper_page_chart_of_upvotes(
    site: Site, page: Page, sample: Sample, live_server: LiveServer
) -> None:
    # The sample has no votes: three readers upvote a paper, on two days.
    paper = sorted(sample.papers.values(), key=lambda p: p.id)[0]
    engine: Engine = live_server.server.config.app.state.engine
    start = dt.datetime.combine(paper.day, dt.time(12), dt.UTC)
    with engine.begin() as conn:
        voted = conn.execute(select(votes.c.user_id).where(votes.c.paper_id == paper.id))
        if voted.first() is None:  # not yet voted by the other viewport's run
            for n in (1, 2, 3):
                name = f"chart-reader-{n}"
                user = conn.execute(
                    users.insert()
                    .values(username=name, display_name=name, created_at=start)
                    .returning(users.c.id)
                ).scalar_one()
                when = start + dt.timedelta(days=0 if n == 1 else 3)
                conn.execute(
                    votes.insert().values(user_id=user, paper_id=paper.id, created_at=when)
                )
            conn.execute(
                papers.update().where(papers.c.id == paper.id).values(upvotes=papers.c.upvotes + 3)
            )
            runs.bump_revision(conn=conn)
    page.goto(f"/papers/{paper.id}")
    _check_chart(page, site, "Upvotes over time")
    rows = page.locator("figure.chart tbody tr")
    expect(rows.first.locator("td").nth(1)).to_have_text(str(paper.upvotes + 1))
    expect(rows.last.locator("td").nth(1)).to_have_text(str(paper.upvotes + 3))
    assert rows.count() == 4  # the day of the first vote to the day of the last
