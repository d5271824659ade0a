"""What the bundled sample says the pages should show, read straight from the sample file.

The browser tests compare the rendered pages with this, not with the app's own queries.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

# Inline or display math between unescaped dollars, or \( and \[ (a \$ is a literal dollar).
MATH = re.compile(r"(?<!\\)\$(?:[^$\\]|\\.)+\$|\\\(|\\\[")


def squash(text: str) -> str:
    """``text`` with runs of whitespace collapsed to one space, as a browser shows it."""
    return " ".join(text.split())


def has_math(text: str) -> bool:
    """Whether ``text`` holds LaTeX math that KaTeX will render."""
    return bool(MATH.search(text))


def day_label(value: dt.date) -> str:
    """``Jun 8, 2026``, the way the pages write a day."""
    return f"{value:%b} {value.day}, {value.year}"


def author_line(authors: list[str]) -> str:
    """The author line of a card: up to four names, else three and ``and N others``."""
    if len(authors) <= 4:
        return ", ".join(authors)
    return f"{', '.join(authors[:3])} and {len(authors) - 3} others"


@dataclass(frozen=True, slots=True)
class SamplePaper:
    """One record of the sample, as the pages should show it."""

    id: str
    version: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str
    published: dt.datetime
    day: dt.date
    upvotes: int


class Sample:
    """The sample's papers and the order the daily lists put them in."""

    def __init__(self, path: Path) -> None:
        self.papers: dict[str, SamplePaper] = {}
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                raw = json.loads(line)
                self.papers[raw["id"]] = SamplePaper(
                    id=raw["id"],
                    version=raw["version"],
                    title=squash(raw["title"]),
                    abstract=raw["abstract"],
                    authors=[squash(a) for a in raw["authors"]],
                    categories=raw["categories"],
                    primary_category=raw["primary_category"],
                    published=dt.datetime.fromisoformat(raw["published"]),
                    day=dt.date.fromisoformat(raw["day"]),
                    upvotes=raw["upvotes"],
                )
        self.days = sorted({p.day for p in self.papers.values()})

    @property
    def latest(self) -> dt.date:
        """The newest day with papers: the home page's day."""
        return self.days[-1]

    def before(self, day: dt.date) -> dt.date | None:
        """The nearest day with papers before ``day``."""
        earlier = [d for d in self.days if d < day]
        return earlier[-1] if earlier else None

    def after(self, day: dt.date) -> dt.date | None:
        """The nearest day with papers after ``day``."""
        later = [d for d in self.days if d > day]
        return later[0] if later else None

    def listed(self, start: dt.date, end: dt.date) -> list[SamplePaper]:
        """Papers listed from ``start`` to ``end``, newest day first, then newest, then id."""
        chosen = [p for p in self.papers.values() if start <= p.day <= end]
        return sorted(chosen, key=lambda p: (p.day, p.published, p.id), reverse=True)

    def ids(self, start: dt.date, end: dt.date | None = None) -> list[str]:
        """Ids listed from ``start`` to ``end`` (one day when ``end`` is None), in list order."""
        return [p.id for p in self.listed(start, end or start)]

    def with_math(self) -> SamplePaper:
        """The first paper (by id) with LaTeX math in both its title and its abstract."""
        return next(
            p for _, p in sorted(self.papers.items()) if has_math(p.title) and has_math(p.abstract)
        )

    def escaped_dollars(self) -> list[SamplePaper]:
        """Papers whose abstract writes a literal dollar as ``\\$`` (amounts of money)."""
        return [p for _, p in sorted(self.papers.items()) if "\\$" in p.abstract]
