"""Comments in a safe Markdown subset: rendered with markdown-it-py, sanitised with nh3.

Raw HTML in the source is shown as text, images are not rendered, links open as
``rel="nofollow ugc noopener"`` and only http(s)/mailto URLs survive.

A comment is rendered once, when it is written or edited, and its HTML is stored beside its
text (``comments.html``): rendering hostile Markdown (``[`` ten thousand times) costs about
half a second, which a page that re-rendered every comment on every view would pay per
comment and per visitor. A change to the rules here needs a migration that re-renders the
stored comments (as 0006 does).
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    ["image", "heading", "lheading", "hr"]
)
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
