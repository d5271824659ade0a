"""Matching a library's references to papers on this site: by arXiv id, then DOI, then exact
normalised title (accents folded, case, LaTeX, punctuation and spacing ignored).

A title matches only when it is long enough to mean something (``MIN_TITLE`` characters
once normalised) and exactly one paper here has it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import Connection

from dailypapers.library.parse import Reference
from dailypapers.storage import library

MIN_TITLE = 12
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_MARKUP = re.compile(r"[{}$\\^_]")
# Formatting commands vanish (``\emph{Word}`` is "Word"); others are words (``\alpha``).
_FORMATTING = {"emph", "textbf", "textit", "texttt", "textrm", "text", "mathrm", "mathbf"}
_FORMATTING |= {"mathcal", "mathit", "mathsf", "mathbb", "operatorname", "bf", "it", "rm"}


def normalise_title(title: str) -> str:
    """A title reduced for exact comparison: ``Attention Is {All} You Need!`` and
    ``attention is all you need`` are the same."""
    words = _COMMAND.sub(lambda m: " " if m.group(1) in _FORMATTING else f" {m.group(1)} ", title)
    text = unicodedata.normalize("NFKD", _MARKUP.sub(" ", words))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(_NOT_WORD.sub(" ", text).split())


class TitleIndex:
    """Normalised titles of the papers here, read once per import (only when needed)."""

    def __init__(self, conn: Connection) -> None:
        self.ids: dict[str, str | None] = {}  # None: two papers share the title
        for batch in library.iter_titles(conn=conn):
            for paper_id, title in batch:
                key = normalise_title(title)
                if len(key) >= MIN_TITLE:
                    self.ids[key] = None if key in self.ids else paper_id

    def find(self, title: str) -> str | None:
        """The one paper with this title, if any."""
        key = normalise_title(title)
        return self.ids.get(key) if len(key) >= MIN_TITLE else None


def match(
    *, conn: Connection, references: Sequence[Reference], titles: TitleIndex | None
) -> list[tuple[str | None, str | None]]:
    """(paper id, how it matched) for each reference; ``titles`` None skips title matching."""
    by_id = library.existing_papers(conn=conn, ids=[r.arxiv_id for r in references if r.arxiv_id])
    by_doi = library.papers_by_doi(conn=conn, dois=[r.doi for r in references if r.doi])
    found: list[tuple[str | None, str | None]] = []
    for reference in references:
        if reference.arxiv_id and reference.arxiv_id in by_id:
            found.append((reference.arxiv_id, "arxiv"))
        elif reference.doi and reference.doi in by_doi:
            found.append((by_doi[reference.doi], "doi"))
        elif titles is not None and reference.title and (paper := titles.find(reference.title)):
            found.append((paper, "title"))
        else:
            found.append((None, None))
    return found
