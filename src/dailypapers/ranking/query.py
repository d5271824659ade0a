"""Parse what people type into a search box; any input gives a query, never an error.

Understood: plain words, ``"quoted phrases"``, ``-excluded`` words and phrases, and the
fields ``author:``, ``cat:`` / ``category:`` and ``title:`` (each taking a word or a quoted
phrase). Everything else (unbalanced quotes, FTS or SQL operators, emoji) is plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_QUERY = 1000
MAX_PARTS = 64
FIELDS = {"author": "author", "cat": "category", "category": "category", "title": "title"}
PART = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|(\S+))', re.UNICODE)


@dataclass(slots=True)
class ParsedQuery:
    """A search query taken apart."""

    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    title: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The free text of the query (words, phrases and title parts) for scoring."""
        return " ".join([*self.words, *self.phrases, *self.title]).strip()

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to search for and nothing to filter on."""
        return not (self.text or self.authors or self.categories)


def parse_query(raw: str) -> ParsedQuery:
    """Split a query string into words, phrases, exclusions and field filters."""
    text = raw[:MAX_QUERY].replace("\x00", " ")
    if text.count('"') % 2:
        text = text.replace('"', " ")  # an unbalanced quote: read everything as words
    parsed = ParsedQuery()
    for count, match in enumerate(PART.finditer(text)):
        if count >= MAX_PARTS:
            break
        negative, name, quoted, bare = match.groups()
        value = (quoted if quoted is not None else bare or "").strip()
        target = FIELDS.get((name or "").lower())
        if name and target is None:
            value = f"{name} {value}".strip()  # unknown field: keep both as text
        if not value or not any(ch.isalnum() for ch in value):
            continue
        if negative:
            parsed.excluded.append(value)
        elif target == "author":
            parsed.authors.append(value)
        elif target == "category":
            parsed.categories.append(value)
        elif target == "title":
            parsed.title.append(value)
        elif quoted is not None and " " in value:
            parsed.phrases.append(value)
        else:
            parsed.words.append(value)
    return parsed
