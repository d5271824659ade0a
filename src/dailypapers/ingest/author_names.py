"""Author names, folded and compared: the rule that groups spellings of one person's name.

docs/authors.md states the rule for readers; in short, two spellings are one author when
their folded surnames are equal and their given names are compatible (``J.`` with ``Jan``,
``Jan`` with ``Jan K.``), and an initial stands for a full name only when it is not
ambiguous among the names stored with that surname. Pure functions, no database.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Letters NFKD does not split into a base letter and a mark.
_EXTRA = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "\u0131": "i", "ß": "ss"}
    | {"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"}
    | {"\u2019": "'", "\u02bc": "'"}
)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
# Lower-case words that open a surname ("Jan van der Berg": surname "van der berg").
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "ter"}
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
MAX_NAME = 200  # characters of a name worth reading
MAX_SURNAME = 200  # characters of a folded surname stored and looked up


@dataclass(frozen=True, slots=True)
class NameKey:
    """A name folded for comparison: surname words joined by spaces, given names in order
    (one letter for an initial)."""

    surname: str
    given: tuple[str, ...]


@functools.lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Lower case without accents: ``Müller`` -> ``muller``, ``Łukasz`` -> ``lukasz``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _words(text: str) -> list[str]:
    """Folded words; hyphens and full stops separate (``J.-P.`` is ``j``, ``p``)."""
    return _WORD.findall(fold(text))


@functools.lru_cache(maxsize=65_536)
def name_key(name: str) -> NameKey | None:
    """The folded key of one stored or requested name; None when it has no letters.

    ``Last, First`` is read as ``First Last``; ``Jr.``-style suffixes are dropped.
    """
    name = name[:MAX_NAME]
    if name.count(",") == 1:
        last, first = name.split(",")
        if fold(first).strip(" .") not in _SUFFIXES:
            name = f"{first} {last}"
    raw = [w for w in re.split(r"\s+", name.strip()) if w]
    tokens = [(w, _words(w)) for w in raw]
    tokens = [(w, words) for w, words in tokens if words]
    while len(tokens) > 1 and "".join(tokens[-1][1]) in _SUFFIXES:
        tokens.pop()
    if not tokens:
        return None
    surname = list(tokens[-1][1])
    rest = tokens[:-1]
    while len(rest) > 1 and rest[-1][0].islower() and "".join(rest[-1][1]) in _PARTICLES:
        surname = [*rest[-1][1], *surname]
        rest = rest[:-1]
    given = tuple(word for _, words in rest for word in words)
    return NameKey(" ".join(surname), given)


def compatible(a: NameKey, b: NameKey) -> bool:
    """Whether two keys may name one person: the same surname, and given names that agree
    as far as both go (an initial agrees with a name that starts with it). A name with no
    given names agrees only with another such name."""
    if a.surname != b.surname or bool(a.given) != bool(b.given):
        return False
    for x, y in zip(a.given, b.given, strict=False):
        if x == y or (len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y)):
            continue
        return False
    return True


def _agree(keys: list[NameKey]) -> bool:
    """Whether every two of ``keys`` (one surname, all with given names) are compatible.

    Compatibility is decided position by position, so every pair agrees exactly when, at
    each position, the full names there are one name and every initial there is its first
    letter (or, with no full name, every initial is the same letter): one pass, not a pass
    per pair."""
    for i in range(max((len(k.given) for k in keys), default=0)):
        words = {k.given[i] for k in keys if len(k.given) > i}
        full = {w for w in words if len(w) > 1}
        initials = {w for w in words if len(w) == 1}
        if len(full) > 1 or len(initials) > 1:
            return False
        if full and initials and not next(iter(full)).startswith(next(iter(initials))):
            return False
    return True


def _ambiguous(key: NameKey, keys: Iterable[NameKey]) -> bool:
    """Whether ``key`` agrees with two names that disagree with each other (``J. Smith``
    among ``Jan Smith`` and ``Jens Smith``)."""
    agreeing = [k for k in keys if k != key and compatible(key, k)]
    return len(agreeing) > 1 and bool(key.given) and not _agree(agreeing)


def group(key: NameKey, keys: Iterable[NameKey]) -> set[NameKey]:
    """The keys among ``keys`` that are one author with ``key`` (always ``key`` itself).

    Among keys that are not ambiguous, compatibility is an equivalence (each one's agreeing
    names all agree with each other), so every member of a group gets the same group; an
    ambiguous key is grouped with nothing but itself.
    """
    candidates = {k for k in keys if k.surname == key.surname}
    if _ambiguous(key, candidates):
        return {key}
    return {key} | {k for k in candidates if compatible(key, k) and not _ambiguous(k, candidates)}


def surname_key(name: str) -> str | None:
    """The folded surname stored and looked up for ``name`` (``Müller, Jan`` -> ``muller``),
    None for a name without letters."""
    key = name_key(name)
    return key.surname[:MAX_SURNAME] if key is not None else None
