"""Comments in a safe Markdown subset: rendered with markdown-it-py, sanitised with nh3.

Raw HTML in the source is shown as text, images are not rendered, links open as
``rel="nofollow ugc noopener"`` and only http(s)/mailto URLs survive. LaTeX math is kept
as written (and HTML-escaped), for KaTeX to render in the page like an abstract's math.

A comment is rendered once, when it is written or edited, and its HTML is stored beside its
text (``comments.html``): rendering hostile Markdown (``[`` ten thousand times) costs about
half a second, which a page that re-rendered every comment on every view would pay per
comment and per visitor. A change to the rules here needs a migration that re-renders the
stored comments (as 0006 does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    ["image", "heading", "lheading", "hr"]
)
_PAIRS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"))


def _closing_dollar(src: str, start: int, end: int) -> int:
    """Index of the ``$`` closing inline math opened just before ``start``, or -1: as in
    Pandoc, math starts with no space after ``$``, ends with no space before ``$`` and no
    digit after it, so ``$5 and $10`` stays text; nor does it run into a code span."""
    if start >= end or src[start].isspace():
        return -1
    at = start
    code = src.find("`", start, end)  # math does not run into a code span
    end = code if code >= 0 else end
    while (found := src.find("$", at, end)) >= 0:
        escaped = src[found - 1] == "\\"
        digit = found + 1 < end and src[found + 1].isdigit()
        if found > start and not escaped and not src[found - 1].isspace() and not digit:
            return found
        at = found + 1
    return -1


def _math(state: StateInline, silent: bool) -> bool:
    """LaTeX math (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) kept exactly as
    written for KaTeX in the browser: Markdown would eat its backslashes and read its ``*``
    and ``_`` as emphasis. A ``$`` that opens no math is written ``\\$``, which the page
    shows as a dollar that KaTeX does not read (web/static/app.js)."""
    src, pos, end = state.src, state.pos, state.posMax
    if src.startswith("\\$", pos) or (src[pos] == "$" and not src.startswith("$$", pos)):
        close = -1 if src[pos] == "\\" else _closing_dollar(src, pos + 1, end)
        if close < 0:
            if not silent:
                state.push("text", "", 0).content = "\\$"
            state.pos = pos + (2 if src[pos] == "\\" else 1)
            return True
        stop = close + 1
    else:
        pair = next(((o, c) for o, c in _PAIRS if src.startswith(o, pos)), None)
        if pair is None:
            return False
        found = src.find(pair[1], pos + len(pair[0]), end)
        if found < 0 or found == pos + len(pair[0]):
            return False
        stop = found + len(pair[1])
    if not silent:
        state.push("math_inline", "", 0).content = src[pos:stop]
    state.pos = stop
    return True


def _render_math(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return escapeHtml(tokens[idx].content)


_MD.inline.ruler.before("escape", "math_inline", _math)
_MD.add_render_rule("math_inline", _render_math)
TAGS = {"p", "br", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote"}
ATTRIBUTES = {"a": {"href", "title"}, "code": set(), "pre": set()}


def render(body: str) -> str:
    """Safe HTML for a comment's Markdown source."""
    html = _MD.render(body)
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow ugc noopener",
    )
