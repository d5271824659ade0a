"""Mark the query's words in titles and abstract excerpts (HTML-escaped, math left alone)."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from dailypapers.index.text import STOPWORDS, fold, stem

WORD = re.compile(r"[^\W_]+", re.UNICODE)
MATH = re.compile(r"(\$\$.*?\$\$|\$[^$]*\$)", re.DOTALL)


def query_stems(text: str) -> frozenset[str]:
    """Stems of the query's words, stopwords dropped."""
    return frozenset(stem(w) for w in WORD.findall(fold(text)) if w not in STOPWORDS)


def _mark(text: str, stems: frozenset[str]) -> str:
    out: list[str] = []
    last = 0
    for match in WORD.finditer(text):
        if stem(fold(match.group())) in stems:
            out.append(str(escape(text[last : match.start()])))
            out.append(f"<mark>{escape(match.group())}</mark>")
            last = match.end()
    out.append(str(escape(text[last:])))
    return "".join(out)


def highlight(text: str, stems: frozenset[str]) -> Markup:
    """``text`` escaped, with query words wrapped in ``<mark>`` outside ``$math$``."""
    if not stems:
        return escape(text)
    parts = MATH.split(text)
    # Every piece is escaped before the <mark> tags are added.
    return Markup(  # noqa: S704
        "".join(str(escape(p)) if i % 2 else _mark(p, stems) for i, p in enumerate(parts))
    )


def excerpt_around(text: str, stems: frozenset[str], length: int = 320) -> str:
    """A window of ``text`` starting a little before the first query word."""
    if len(text) <= length:
        return text
    start = 0
    for match in WORD.finditer(text):
        if stem(fold(match.group())) in stems:
            start = max(0, match.start() - 80)
            break
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    piece = text[start : start + length]
    if start + length < len(text):
        piece = piece.rsplit(" ", 1)[0] + "…"
    if piece.count("$") % 2:
        piece = piece.replace("$", "")
    return ("…" if start else "") + piece
