"""The text analyser shared by indexing and querying: Unicode folding, stopwords, stemming."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TOKEN = 40

# A short English list (Lucene's default plus a few words common in arXiv prose queries).
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
        "we",
        "our",
        "us",
        "do",
        "does",
        "did",
        "can",
        "from",
        "which",
        "what",
        "how",
        "why",
        "when",
        "who",
        "whom",
        "its",
        "via",
        "than",
    }
)

_stemmer = Stemmer.Stemmer("english")


def fold(text: str) -> str:
    """Lower-case and strip accents (``Müller`` and ``Muller`` match)."""
    if text.isascii():  # most of arXiv: nothing to decompose (and 10x faster)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English Snowball stem of one folded word."""
    return str(_stemmer.stemWord(word))


def words(text: str) -> list[str]:
    """Folded words, stopwords kept (for phrase checks and highlighting)."""
    return [w for w in TOKEN.findall(fold(text)) if len(w) <= MAX_TOKEN]


def analyse(text: str) -> list[str]:
    """Index terms of ``text``: folded, stopwords dropped, stemmed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
