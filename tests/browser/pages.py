"""Small helpers that read what a page shows, for the browser tests."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from playwright.sync_api import Page

from .sample import Sample, SamplePaper, has_math

PAGE_SIZE = 50

CARDS_JS = """els => els.map(e => ({
  id: e.dataset.paperId,
  href: e.querySelector('.card-title a').getAttribute('href'),
  title: e.querySelector('.card-title').textContent,
  titleMath: e.querySelectorAll('.card-title .katex').length,
  authors: e.querySelector('.authors').textContent,
  allAuthors: e.querySelector('.authors').getAttribute('title'),
  authorCount: e.querySelector('.author-count').textContent,
  abstract: e.querySelector('.abstract').textContent,
  upvotes: e.querySelector('.votes .count').textContent,
}))"""

GROUPS_JS = """() => [...document.querySelectorAll('h3.day-heading')].map(h => ({
  text: h.textContent.trim(),
  href: h.querySelector('a').getAttribute('href'),
  ids: [...h.nextElementSibling.querySelectorAll('article.card')].map(c => c.dataset.paperId),
}))"""

OVERFLOW_JS = """width => {
  const wide = [];
  const clipped = el => {
    for (let p = el; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== 'visible' && o !== 'clip' && p.getBoundingClientRect().right <= width + 0.5) {
        return true;
      }
    }
    return false;
  };
  const walker = document.createTreeWalker(
    document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.nodeType === Node.TEXT_NODE;
    const el = text ? node.parentElement : node;
    if (wide.some(w => w.contains(el))) continue;
    let box = node;
    if (text) { box = document.createRange(); box.selectNodeContents(node); }
    const r = box.getBoundingClientRect();
    if (r.width && r.right > width + 0.5 && !clipped(text ? el : el.parentElement)) wide.push(el);
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: wide.slice(0, 5).map(el => {
      const name = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
      return `${name} (right ${Math.round(el.getBoundingClientRect().right)} px): `
        + el.textContent.trim().slice(0, 80);
    }),
  };
}"""


def cards(page: Page) -> list[dict[str, Any]]:
    """Every card on a list page, as the texts and links it shows."""
    result: list[dict[str, Any]] = page.locator("article.card").evaluate_all(CARDS_JS)
    return result


def card_ids(page: Page) -> list[str]:
    """The paper ids of the cards, in page order."""
    return [card["id"] for card in cards(page)]


def day_groups(page: Page) -> list[dict[str, Any]]:
    """A week or month page's day headings with their links and the ids under each."""
    result: list[dict[str, Any]] = page.evaluate(GROUPS_JS)
    return result


def expected_groups(
    sample: Sample, start: dt.date, end: dt.date, page_number: int
) -> list[tuple[dt.date, list[str]]]:
    """The day groups the sample puts on page ``page_number`` of the list for a period."""
    chosen = sample.listed(start, end)[page_number * PAGE_SIZE : (page_number + 1) * PAGE_SIZE]
    groups: dict[dt.date, list[str]] = {}
    for paper in chosen:
        groups.setdefault(paper.day, []).append(paper.id)
    return list(groups.items())


def overflow(page: Page, width: int) -> dict[str, Any]:
    """The page's scroll width, the window width and elements sticking out past ``width``.

    A phone (``is_mobile``) widens the window to fit a page that is too wide, so compare
    with the width the test asked for, not with ``innerWidth`` alone.
    """
    page.evaluate("document.fonts.ready.then(() => true)")
    result: dict[str, Any] = page.evaluate(OVERFLOW_JS, width)
    return result


# Text-mode LaTeX that pages show as what it means (``\\emph{}``, ``--``, ``~``, quotes).
TEXT_LATEX = re.compile(r"\\|~|--|``|''")


def plain_paper(sample: Sample, ids: list[str]) -> SamplePaper:
    """The first paper of ``ids`` with no math and no text-mode LaTeX in its title or abstract
    (texts compare as is)."""
    return next(
        sample.papers[i]
        for i in ids
        if not any(
            has_math(text) or TEXT_LATEX.search(text)
            for text in (sample.papers[i].title, sample.papers[i].abstract)
        )
    )
