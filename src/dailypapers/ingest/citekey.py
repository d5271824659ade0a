"""ASCII citation keys in the arXiv / Google Scholar style: ``vaswani2017attentionneed``.

``key_base`` is what storage keeps beside each paper (``papers.cite_key``, indexed), so the
papers sharing a base are one indexed query away; ``suffix`` names the second, third... of
them (``b``, ``c``, ...) in a stable order (see ``queries/citations.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Letters that Unicode does not decompose into a base letter and a mark.
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",  # noqa: RUF001
        "ħ": "h",
        "Ħ": "H",
        "ŋ": "ng",
        "Ŋ": "NG",
        "ĸ": "k",
        "\u017f": "s",  # long s
    }
)
_MATH = re.compile(r"\$\$.*?\$\$|\$.*?\$|\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)
_MACRO = re.compile(r"\\[A-Za-z]+\*?|\\.")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = """a all an and are as at be but by can do does for from how in into is it its not
of on or our over than that the their these this those to toward towards under via vs we what
when where which while who why with without you your"""
STOPWORDS = frozenset(_STOPWORDS.split())
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
TITLE_WORDS = 3  # words of the title in a key, as arXiv's own entries do
MAX_BASE = 96


def ascii_fold(text: str) -> str:
    """``text`` in ASCII: accents dropped (``é`` -> ``e``), ``ß`` -> ``ss``, ``ø`` -> ``o``,
    ``æ`` -> ``ae``, ``ł`` -> ``l``...; anything with no ASCII form (CJK, symbols) is dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _words(text: str) -> list[str]:
    """Lower-case ASCII words of ``text``, with math and LaTeX commands removed."""
    plain = _MACRO.sub(" ", _MATH.sub(" ", text))
    return _WORD.findall(ascii_fold(plain).lower())


def _surname(authors: Sequence[str]) -> str:
    """The first author's last name in ASCII letters (``anon`` without one); a hyphenated or
    apostrophed name stays one word (``smithjones``, ``obrien``)."""
    for author in authors[:1]:
        plain = ascii_fold(_MACRO.sub("", _MATH.sub(" ", author))).lower()
        names = [n for n in (re.sub(r"[^a-z]", "", t) for t in plain.split()) if n]
        while len(names) > 1 and names[-1] in _NAME_SUFFIXES:
            names.pop()
        if names:
            return names[-1]
    return "anon"


def key_base(*, authors: Sequence[str], year: int, title: str) -> str:
    """First author's surname, the year and the first title words that are not stopwords."""
    words = [w for w in _words(title) if w not in STOPWORDS]
    return f"{_surname(authors)}{year}{''.join(words[:TITLE_WORDS])}"[:MAX_BASE]


def suffix(rank: int) -> str:
    """The suffix of the paper at ``rank`` among those sharing a base: none for the first,
    then ``b`` ... ``z``, ``aa``, ``ab``... (so ``smith2020deep``, ``smith2020deepb``)."""
    if rank < 0:
        raise ValueError("rank must be >= 0")
    if rank == 0:
        return ""
    letters = ""
    number = rank + 1  # bijective base 26: 1 -> a, 2 -> b, 27 -> aa
    while number:
        number, digit = divmod(number - 1, 26)
        letters = chr(ord("a") + digit) + letters
    return letters
