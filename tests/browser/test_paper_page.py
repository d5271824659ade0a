"""Paper pages in a real browser: reached from a card, links, BibTeX, math and local assets."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .browsing import Site
from .pages import plain_paper
from .sample import Sample, day_label, squash

pytestmark = pytest.mark.browser

KATEX_RESOURCES_JS = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/static/katex/'))
  .map(e => ({url: e.name, status: e.responseStatus}))"""

LOADED_KATEX_FONTS_JS = """() => document.fonts.ready.then(fonts => [...fonts]
  .filter(f => f.family.startsWith('KaTeX') && f.status === 'loaded')
  .map(f => f.family))"""


def test_card_title_opens_the_paper_page(site: Site, page: Page, sample: Sample) -> None:
    page.goto("/")
    paper = plain_paper(sample, sample.ids(sample.latest))
    page.locator(f'article.card[data-paper-id="{paper.id}"] .card-title a').click()
    expect(page).to_have_url(f"/papers/{paper.id}")
    expect(page).to_have_title(f"{paper.title} · Daily Papers")

    expect(page.locator("h1.paper-title")).to_have_text(paper.title)
    assert squash(page.locator(".abstract-full").text_content() or "") == squash(paper.abstract)
    expect(page.locator(".authors-full .author")).to_have_text(paper.authors)
    expect(page.locator(".categories .cat")).to_have_text(paper.categories)
    expect(page.locator(".categories .cat.primary")).to_have_text(paper.primary_category)
    expect(page.locator(".paper-meta .votes .count")).to_have_text(str(paper.upvotes))
    expect(page.locator(".paper-meta")).to_contain_text(f"v{paper.version}")

    links = page.locator("p.links")
    expect(links.get_by_role("link", name="arXiv page")).to_have_attribute(
        "href", f"https://arxiv.org/abs/{paper.id}"
    )
    expect(links.get_by_role("link", name="PDF")).to_have_attribute(
        "href", f"https://arxiv.org/pdf/{paper.id}v{paper.version}"
    )
    expect(links.get_by_role("link", name="JSON")).to_have_attribute(
        "href", f"/api/papers/{paper.id}"
    )

    bibtex = page.locator("pre#bibtex")
    expect(bibtex).to_be_visible()
    expect(bibtex).to_contain_text(re.compile(r"^@misc\{\w+,"))
    for line in (
        f"title={{{{{paper.title}}}}}",
        f"eprint={{{paper.id}}}",
        "archivePrefix={arXiv}",
        f"primaryClass={{{paper.primary_category}}}",
        f"url={{https://arxiv.org/abs/{paper.id}}}",
        f"year={{{paper.published.year}}}",
    ):
        expect(bibtex).to_contain_text(line)

    site.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    copy = page.locator("button.copy")
    expect(copy).to_have_text("Copy BibTeX")
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == (bibtex.inner_text()).strip()
    expect(copy).to_have_text("Copy BibTeX")

    page.locator(".crumb a").click()
    expect(page).to_have_url(f"/papers?date={paper.day.isoformat()}")
    expect(page.locator(".period-label")).to_have_text(day_label(paper.day))


def test_math_renders_with_local_katex(site: Site, page: Page, sample: Sample) -> None:
    paper = sample.with_math()
    with page.expect_response(re.compile(r"/static/katex/fonts/KaTeX_Math-Italic\.woff2$")) as font:
        page.goto(f"/papers/{paper.id}")
    assert font.value.status == 200

    expect(page.locator(".paper-title .katex").first).to_be_visible()
    expect(page.locator(".abstract-full .katex").first).to_be_visible()
    expect(page.locator(".katex-error")).to_have_count(0)
    assert "$" not in page.locator(".paper-title").inner_text()

    loaded = page.evaluate(LOADED_KATEX_FONTS_JS)
    assert "KaTeX_Math" in loaded and "KaTeX_Main" in loaded, loaded
    resources = page.evaluate(KATEX_RESOURCES_JS)
    names = {r["url"].rsplit("/", 1)[-1] for r in resources}
    assert {"katex.min.css", "katex.min.js", "auto-render.min.js"} <= names
    assert any(n.endswith(".woff2") for n in names), names
    assert [r for r in resources if r["status"] != 200] == []

    # The card on the paper's day renders the same math.
    page.goto(f"/papers?date={paper.day.isoformat()}")
    card = page.locator(f'article.card[data-paper-id="{paper.id}"]')
    if card.count() == 0:  # the paper is on a later page of its day
        page.goto(f"/papers?date={paper.day.isoformat()}&p=1")
    expect(card.locator(".card-title .katex").first).to_be_visible()
    expect(page.locator(".katex-error")).to_have_count(0)

    assert site.requests, "no requests were recorded"
    assert site.foreign_hosts() == set()


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_escaped_dollars_show_as_dollars(page: Page, sample: Sample) -> None:
    papers = sample.escaped_dollars()
    assert papers, "the sample should have abstracts with amounts of money"
    for paper in papers:
        page.goto(f"/papers/{paper.id}")
        shown = page.locator(".abstract-full").inner_text()
        for amount in re.findall(r"\\\$(\d[\d,.]*)", paper.abstract):
            assert f"${amount}" in shown, (paper.id, amount)
        assert "\\$" not in shown, paper.id


def test_versioned_id_redirects_to_the_paper(page: Page, sample: Sample) -> None:
    paper = plain_paper(sample, sample.ids(sample.latest))
    response = page.goto(f"/papers/{paper.id}v{paper.version}")
    assert response is not None and response.status == 200
    expect(page).to_have_url(f"/papers/{paper.id}")
    expect(page.locator("h1.paper-title")).to_have_text(paper.title)
