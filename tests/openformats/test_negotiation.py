"""A paper's other representations: text-mode LaTeX as Markdown in ``/papers/{id}.md``, and
``Accept`` choosing Markdown or BibTeX on ``/papers/{id}`` (web/markdown.py)."""

from __future__ import annotations

import bibtexparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.render.latex import to_markdown
from tests.core.helpers import raw

PAPER = "/papers/2606.00001"


@pytest.mark.parametrize(
    ("latex", "markdown"),
    [
        (r"We \emph{really} mean \textbf{it}", "We *really* mean **it**"),
        (r"\texttt{snake_case\x}", r"`snake_case\x`"),
        (r"\emph{a \textbf{b}}", "*a **b***"),
        (r"math $a_b^*$ and \(x_1\) stay", r"math $a_b^*$ and \(x_1\) stay"),
        (
            r"costs \$5 for 2*3 [sic] <tag> snake_case",
            r"costs $5 for 2\*3 \[sic\] \<tag\> snake\_case",
        ),
        (r"\href{https://example.org/x}{the site}", "[the site](https://example.org/x)"),
        (
            r"\url{https://example.org/a)b}",
            "[https://example.org/a)b](https://example.org/a%29b)",
        ),
        (r"\href{javascript:alert(1)}{click}", "click"),
        (r"``quoted'' -- and --- {\"o}", "\u201cquoted\u201d \u2013 and \u2014 \u00f6"),
        (r"\emph{}", ""),
    ],
)
def test_text_mode_latex_as_markdown(latex: str, markdown: str) -> None:
    """Formatting becomes Markdown's, math is kept, Markdown's own characters are escaped."""
    assert to_markdown(latex) == markdown


def _ingest(engine: Engine) -> None:
    record = raw(
        "2606.00001",
        day="2026-06-01",
        title=r"\emph{Sparse} attention",
        abstract=r"We \textbf{prune} 50\% of weights; see \url{https://example.org}. $x_1^2$",
    )
    report = run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "negotiation"},
        records=lambda _: [record],
        explicit_days=True,
    )
    assert report.rejected == 0, report.summary()


def test_markdown_page_shows_latex_formatting_as_markdown(
    client: TestClient, engine: Engine
) -> None:
    """``/papers/{id}.md``: no raw ``\\emph``/``\\textbf`` macros, math kept for renderers."""
    _ingest(engine)
    text = client.get(f"{PAPER}.md").text
    assert text.startswith("# *Sparse* attention\n")
    assert "We **prune** 50% of weights; see [https://example.org](https://example.org)." in text
    assert "$x_1^2$" in text and "\\emph" not in text and "\\textbf" not in text


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("application/x-bibtex", "application/x-bibtex"),
        ("text/x-bibtex", "application/x-bibtex"),
        ("text/markdown", "text/markdown"),
        ("text/html, application/x-bibtex;q=0.9", "text/html"),
        ("application/x-bibtex;q=0.5, text/markdown;q=0.8", "text/markdown"),
        ("application/x-bibtex;q=0", "text/html"),
        ("*/*", "text/html"),
        ("", "text/html"),
    ],
)
def test_accept_chooses_the_representation(
    client: TestClient, engine: Engine, accept: str, kind: str
) -> None:
    """The paper's address answers HTML, Markdown or BibTeX by ``Accept``; every answer says
    ``Vary: Accept`` so shared caches keep them apart."""
    _ingest(engine)
    response = client.get(PAPER, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == kind
    assert "accept" in response.headers["vary"].lower()
    if kind == "application/x-bibtex":
        library = bibtexparser.parse_string(response.text)
        assert not library.failed_blocks
        (entry,) = library.entries
        assert entry["eprint"] == "2606.00001"


def test_head_and_unknown_papers_negotiate_too(client: TestClient, engine: Engine) -> None:
    """HEAD gets the chosen representation's headers; an unknown paper is a 404 either way."""
    _ingest(engine)
    head = client.head(PAPER, headers={"Accept": "application/x-bibtex"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("application/x-bibtex")
    missing = client.get("/papers/2606.09999", headers={"Accept": "application/x-bibtex"})
    assert missing.status_code == 404
