"""Text-mode LaTeX shown as what it means (render/latex.py), and comment math kept for KaTeX
by the Markdown renderer (community/markdown.py), with hostile input staying inert."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from dailypapers.community.markdown import render
from dailypapers.email import render as email_render
from dailypapers.render.latex import to_html, to_text
from dailypapers.web.render import TEMPLATES


@pytest.mark.parametrize(
    ("source", "html"),
    [
        (r"\emph{new} and \textit{it}", "<em>new</em> and <em>it</em>"),
        (r"\textbf{bold} \texttt{x_y}", "<strong>bold</strong> <code>x_y</code>"),
        (
            r"\texttt{--flag ``x} -- {\tt a--b}",
            "<code>--flag ``x</code> \u2013 <code>a--b</code>",
        ),
        (r"{\em a} {\bf b} {\it c}", "<em>a</em> <strong>b</strong> <em>c</em>"),
        ("``quoted'' -- and --- more", "\u201cquoted\u201d \u2013 and \u2014 more"),
        (r"Fig.~1, about ~5 times", "Fig.\u00a01, about ~5 times"),
        (r"50\% \& 3\_4 \#1", "50% &amp; 3_4 #1"),
        (r"\'e {\"o} \"{u} \c{c} \ss{} M\"uller \v{s}", "é ö ü ç ß Müller š"),
        (r"{GPT}-4", "GPT-4"),
        (r"\emph{with $x^2$ math}", "<em>with $x^2$ math</em>"),
        (r"$\emph{x}$ and \(a_{1}\) stay", r"$\emph{x}$ and \(a_{1}\) stay"),
        (r"costs \$5", r"costs \$5"),
        (r"\cite{ref} and \method{} unknown", r"\cite{ref} and \method{} unknown"),
        (
            r"\url{https://e.org/a_b} \href{https://e.org}{\textbf{site}}",
            '<a href="https://e.org/a_b" rel="nofollow noopener">https://e.org/a_b</a> '
            '<a href="https://e.org" rel="nofollow noopener"><strong>site</strong></a>',
        ),
    ],
)
def test_text_mode_latex_as_html(source: str, html: str) -> None:
    assert str(to_html(source)) == html


def test_plain_text_for_cards_and_emails() -> None:
    source = r"We \emph{propose} ``X'' -- costs \$5, $x^2$ \href{https://e.org}{here}"
    assert to_text(source) == "We propose \u201cX\u201d \u2013 costs \\$5, $x^2$ here"
    assert to_text(source, dollar="$") == "We propose \u201cX\u201d \u2013 costs $5, $x^2$ here"


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        r"\href{javascript:alert(1)}{click}",
        r"\url{javascript:alert(1)}",
        r"\href{https://e.org/\" onmouseover=\"alert(1)}{x}",
        r"\emph{<img src=x onerror=alert(1)>}",
        r"$<img src=x onerror=alert(1)>$",
        r"\href{data:text/html,<script>alert(1)</script>}{x}",
    ],
)
def test_hostile_latex_stays_text(source: str) -> None:
    html = str(to_html(source))
    assert "<script" not in html and "<img" not in html
    assert "javascript:" not in html.split(">", 1)[0] or not html.startswith("<a")
    assert 'href="javascript' not in html and 'href="data' not in html
    assert 'onmouseover="' not in html


def test_hostile_input_stays_linear() -> None:
    for source in ("\\(" * 10_000, "{" * 20_000, "$" * 20_000, "\\emph{" * 5_000, "\\'" * 10_000):
        started = time.perf_counter()
        to_html(source)
        assert time.perf_counter() - started < 2, source[:10]


def test_templates_use_the_filters() -> None:
    card = TEMPLATES.env.from_string("{{ t | tex_text }}|{{ t | tex_html }}")
    assert card.render(t=r"\emph{a} & <b>") == "a &amp; &lt;b&gt;|<em>a</em> &amp; &lt;b&gt;"


@pytest.mark.parametrize(
    ("body", "html"),
    [
        ("Nice: $x^2$", "<p>Nice: $x^2$</p>\n"),
        # Markdown would read the stars as emphasis and eat the backslashes.
        (r"$a * b * c$ and \(\{x\}\)", r"<p>$a * b * c$ and \(\{x\}\)</p>" + "\n"),
        (r"$$\sum_i x_i \\ y$$", r"<p>$$\sum_i x_i \\ y$$</p>" + "\n"),
        # Dollars that open no math are written \$ (shown as a dollar, not read by KaTeX).
        ("costs $5 and $10", r"<p>costs \$5 and \$10</p>" + "\n"),
        (r"escaped \$3", r"<p>escaped \$3</p>" + "\n"),
        ("`code $x$` and $y$", "<p><code>code $x$</code> and $y$</p>\n"),
        ("**bold $x$**", "<p><strong>bold $x$</strong></p>\n"),
    ],
)
def test_comment_markdown_keeps_math(body: str, html: str) -> None:
    assert render(body) == html


@pytest.mark.parametrize(
    "body",
    [
        "$<script>alert(1)</script>$",
        "$<img src=x onerror=alert(1)>$",
        "$$</p><img src=x onerror=alert(1)>$$",
        r"\(<svg onload=alert(1)>\)",
        "[$x$](javascript:alert(1))",
        '$x$ <a href="javascript:alert(1)">y</a>',
    ],
)
def test_comment_math_cannot_inject_html(body: str) -> None:
    tags = _tags(render(body))
    assert {name for name, _ in tags} <= {"p", "a", "em", "strong", "code"}, tags
    for _, attributes in tags:
        assert not any(name.startswith("on") for name in attributes), attributes
        assert attributes.get("href", "https:").startswith(("https:", "http:", "mailto:"))


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every element of ``html`` with its attributes, as a browser's parser reads them."""
    found: list[tuple[str, dict[str, str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, {k: v or "" for k, v in attrs}))

    Collector().feed(html)
    return found


def test_hostile_latex_makes_no_elements() -> None:
    for source in (r"\emph{<img src=x onerror=alert(1)>}", r"\href{javascript:alert(1)}{x}"):
        assert {name for name, _ in _tags(str(to_html(source)))} <= {"em"}


def test_digest_emails_show_plain_text() -> None:
    abstract = r"We \textbf{prune} 50\% for \$5."
    row = ("2606.00001", r"\emph{Sparse} -- models", ("Ada",), abstract, 3)
    for kind in ("txt", "html"):
        block = str(email_render._block(kind, "https://x.org", "Daily Papers", row, (), 1))
        assert "Sparse \u2013 models" in block, kind
        assert "We prune 50% for $5." in block, kind
        assert "\\" not in block, kind
