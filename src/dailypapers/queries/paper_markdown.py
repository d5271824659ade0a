"""A paper as Markdown: what ``/papers/{id}.md`` (and ``Accept: text/markdown``) serves.

Meant for reading in a terminal (``hf papers read``) and for AI agents: the title, authors,
dates, links, the abstract with its LaTeX math kept as ``$...$``, the comment and upvote
counts and related papers, in plain Markdown with absolute links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.engine import RowMapping

from dailypapers.queries.daily import arxiv_links
from dailypapers.render.latex import to_markdown, to_text

_LINK_TEXT = re.compile(r"([\[\]\\])")


def _text(value: str) -> str:
    """One line of text: whitespace folded (math and Markdown characters kept)."""
    return " ".join(value.split())


def _link_text(value: str) -> str:
    return _LINK_TEXT.sub(r"\\\1", _text(value))


def paper_markdown(row: RowMapping, *, base: str, related: Sequence[RowMapping] = ()) -> str:
    """The Markdown page of the paper ``row`` (``paper_detail``'s row)."""
    links = arxiv_links(row)
    page = f"{base}/papers/{row['id']}"
    lines = [f"# {_text(to_markdown(row['title']))}", ""]
    facts = [
        f"- **arXiv:** [{row['id']}]({links['abs']}) (version {row['version']})",
        f"- **PDF:** {links['pdf']}",
        f"- **Page:** {page}",
        f"- **Authors:** {', '.join(_text(a) for a in row['authors']) or 'unknown'}",
        f"- **Published:** {row['published_at']:%Y-%m-%d}",
    ]
    if row["updated_at"] and row["updated_at"] != row["published_at"]:
        facts.append(f"- **Updated:** {row['updated_at']:%Y-%m-%d}")
    if row["categories"]:
        facts.append(f"- **Categories:** {', '.join(row['categories'])}")
    if row["day"] is not None:
        listed = f"- **On the daily list:** {row['day']:%Y-%m-%d}"
        if row["submitter"]:
            listed += f", submitted by {_text(row['submitter'])}"
        else:
            listed += ", featured automatically"
        facts.append(listed)
    facts.append(f"- **Upvotes:** {row['upvotes']}")
    facts.append(f"- **Comments:** {row.get('num_comments') or 0} ({page}#comments)")
    if row["comment"]:
        facts.append(f"- **arXiv comment:** {_text(to_markdown(row['comment']))}")
    if row["journal_ref"]:
        facts.append(f"- **Journal reference:** {_text(row['journal_ref'])}")
    if row["doi"]:
        facts.append(f"- **DOI:** https://doi.org/{_text(row['doi'])}")
    lines += [*facts, "", "## Abstract", "", to_markdown(row["abstract"]).strip(), ""]
    if related:
        lines += ["## Related papers", ""]
        lines += [
            f"- [{_link_text(to_text(other['title'], dollar='$'))}]({base}/papers/{other['id']})"
            f" (arXiv:{other['id']})"
            for other in related
        ]
        lines.append("")
    return "\n".join(lines)
