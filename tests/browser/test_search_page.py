"""The search page in a real browser: the header box, highlights, filters, related papers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .pages import overflow, plain_paper
from .sample import Sample

pytestmark = pytest.mark.browser


def test_search_from_the_header_box(page: Page, sample: Sample) -> None:
    paper = plain_paper(sample, sample.ids(sample.latest))
    page.goto("/")
    box = page.locator("header input[name=q]")
    box.fill(paper.title)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))
    first = page.locator("article.result").first
    expect(first).to_have_attribute("data-paper-id", paper.id)
    expect(first.locator("mark").first).to_be_visible()
    expect(page.locator(".count-line")).to_contain_text("results")


def test_filters_and_result_to_paper_with_related(page: Page, sample: Sample) -> None:
    page.goto("/search?q=language+models")
    page.locator("summary", has_text="Filters").click()
    page.locator("select[name=category]").select_option("cs.CV")
    page.locator("select[name=sort]").select_option("date")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"category=cs\.CV"))
    results = page.locator("article.result")
    expect(results.first).to_be_visible()
    ids = results.evaluate_all("els => els.map(e => e.dataset.paperId)")
    assert ids and all("cs.CV" in sample.papers[i].categories for i in ids)
    days = [sample.papers[i].published for i in ids]
    assert days == sorted(days, reverse=True)
    results.first.locator(".card-title a").click()
    expect(page.locator("h1.paper-title")).to_be_visible()
    related = page.locator("section.related article.card")
    expect(related).to_have_count(6)


def test_odd_queries_show_a_page_not_an_error(page: Page) -> None:
    for query in ['"unbalanced', "NEAR(a b) * ^", "'; DROP TABLE papers; --", "🙂", "the of"]:
        response = page.goto(f"/search?q={query}")
        assert response is not None and response.status == 200, query
        expect(page.locator("h1")).to_have_text("Search papers")


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_search_results_fit_a_phone(page: Page) -> None:
    page.goto("/search?q=diffusion+models+for+video")
    expect(page.locator("article.result").first).to_be_visible()
    found = overflow(page, 390)
    assert found["scrollWidth"] <= 390 and found["innerWidth"] == 390, found
