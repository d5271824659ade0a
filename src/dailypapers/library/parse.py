"""Uploaded libraries as plain records: BibTeX, RIS, CSL-JSON or a list of arXiv ids / DOIs.

The format is recognised from the content (not the file name). Each reference becomes a
``Reference`` with a plain-text title and abstract, authors as "First Last", a year, a DOI
and an arXiv id found wherever reference managers put one: ``eprint`` with
``archivePrefix``/``eprinttype``, an arxiv.org URL, a ``10.48550/arXiv.`` DOI, or
``arXiv:`` in a note, journal or number field. A file that is not text, or holds no
reference at all, raises ``LibraryError`` with a message for the person who uploaded it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import orjson

from dailypapers.ingest.normalize import (
    MAX_ABSTRACT,
    MAX_TITLE,
    Rejected,
    clean_abstract,
    clean_line,
    delatex_name,
    parse_arxiv_id,
)
from dailypapers.library import bibtex

MAX_REFERENCES = 20_000
MAX_AUTHORS = 200  # names kept per reference
MAX_NAME = 300
_ARXIV_NEW = r"\d{4}\.\d{4,5}(?:v\d+)?"
_ARXIV_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?"
_ARXIV_REF = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf)/|arxiv[:\s.]*\s*|10\.48550/arxiv\.)({_ARXIV_NEW}|{_ARXIV_OLD})",
    re.IGNORECASE,
)
_ARXIV_BARE = re.compile(rf"^\s*({_ARXIV_NEW}|{_ARXIV_OLD})\s*$")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}]+)", re.IGNORECASE)
_COMMAND = re.compile(r"\\[A-Za-z]+\*?\s*")
_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)\b")
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


class LibraryError(ValueError):
    """An upload that cannot be read; the message is shown to the person who sent it."""


@dataclass(slots=True)
class Reference:
    """One reference of a library, as plain text."""

    kind: str
    key: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None


@dataclass(slots=True)
class Library:
    """The references of one upload, its format, and the parts that could not be read."""

    format: str
    references: list[Reference]
    skipped: list[str]


def latex_text(value: str) -> str:
    """BibTeX's LaTeX as plain text: accents as Unicode, commands and braces dropped."""
    text = delatex_name(value.replace("\\&", "&").replace("~", " "))
    return clean_line(_COMMAND.sub("", text).replace("{", "").replace("}", ""))


def _doi(value: str | None) -> str | None:
    match = _DOI.search(value or "")
    return match.group(1).rstrip(".,;").lower()[:255] if match else None


def _arxiv(*values: str | None) -> str | None:
    for value in values:
        if not value:
            continue
        match = _ARXIV_REF.search(value) or _ARXIV_BARE.match(value)
        if match:
            try:
                return parse_arxiv_id(match.group(1))[0]
            except Rejected:
                continue
    return None


def _year(value: Any) -> int | None:
    match = _YEAR.search(str(value or ""))
    return int(match.group(1)) if match else None


def _person(name: str) -> str:
    """``Last, First`` as ``First Last``; other forms as written."""
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        name = f"{first} {last}".strip()
    return clean_line(name)[:MAX_NAME]


def _reference(
    kind: str, key: str, title: str, abstract: str, authors: list[str], **ids: Any
) -> Reference:
    return Reference(
        kind=clean_line(kind)[:32] or "misc",
        key=clean_line(key)[:200],
        title=clean_line(title)[:MAX_TITLE],
        abstract=clean_abstract(abstract)[:MAX_ABSTRACT],
        authors=[a for a in (_person(name) for name in authors[:MAX_AUTHORS]) if a],
        **ids,
    )


def _split_authors(value: str) -> list[str]:
    """BibTeX's ``A and B and {C and D}`` (``and`` inside braces is part of a name)."""
    names, depth, start = [], 0, 0
    for match in re.finditer(r"[{}]|\s+and\s+", value):
        piece = match.group()
        if piece == "{":
            depth += 1
        elif piece == "}":
            depth -= 1
        elif depth == 0:
            names.append(value[start : match.start()])
            start = match.end()
    names.append(value[start:])
    return [latex_text(name) for name in names if name.strip()]


def from_bibtex(text: str) -> Library:
    """The references of a BibTeX file."""
    read = bibtex.read(text)
    references = []
    for entry in read.entries:
        f = entry.fields
        prefix = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
        eprint = f.get("eprint") if prefix in ("arxiv", "") else None
        references.append(
            _reference(
                entry.kind,
                entry.key,
                latex_text(f.get("title", "")),
                latex_text(f.get("abstract", "")),
                _split_authors(f.get("author", "")),
                year=_year(f.get("year") or f.get("date")),
                doi=_doi(f.get("doi")),
                arxiv_id=_arxiv(
                    eprint,
                    f.get("url"),
                    f.get("doi"),
                    f.get("note"),
                    f.get("journal"),
                    f.get("journaltitle"),
                    f.get("howpublished"),
                    f.get("number"),
                ),
            )
        )
    return Library("bibtex", references, read.errors)


def from_ris(text: str) -> Library:
    """The references of an RIS file (``TY`` opens one, ``ER`` closes it)."""
    references: list[Reference] = []
    skipped: list[str] = []
    current: dict[str, list[str]] | None = None
    last = ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _RIS_LINE.match(line.rstrip())
        if match is None:
            if current is not None and last and line.strip():
                current[last][-1] += " " + line.strip()  # a wrapped value
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if current is not None:
                skipped.append(f"a reference without ER before line {number}")
            current, last = {"TY": [value]}, "TY"
        elif current is None:
            skipped.append(f"{tag} outside a reference at line {number}")
        elif tag == "ER":
            references.append(_ris_reference(current))
            current, last = None, ""
        else:
            current.setdefault(tag, []).append(value[: bibtex.MAX_VALUE])
            last = tag
    if current is not None:
        references.append(_ris_reference(current))
    return Library("ris", references, skipped)


def _ris_reference(tags: dict[str, list[str]]) -> Reference:
    def first(*names: str) -> str:
        return next((tags[n][0] for n in names if tags.get(n)), "")

    authors = [a for n in ("AU", "A1") for a in tags.get(n, [])]
    notes = [*tags.get("N1", []), *tags.get("UR", []), *tags.get("M1", []), *tags.get("M3", [])]
    return _reference(
        first("TY"),
        first("ID"),
        first("TI", "T1", "CT"),
        first("AB", "N2"),
        authors,
        year=_year(first("PY", "Y1", "DA")),
        doi=_doi(first("DO")),
        arxiv_id=_arxiv(first("DO"), first("JO", "T2", "JF"), *notes),
    )


def _csl_name(name: Any) -> str:
    if not isinstance(name, dict):
        return str(name) if isinstance(name, str) else ""
    if name.get("literal"):
        return str(name["literal"])
    return " ".join(str(name[k]) for k in ("given", "family") if isinstance(name.get(k), str))


def from_csl_json(text: str) -> Library:
    """The references of a CSL-JSON file (a list of items, as Zotero exports it)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise LibraryError(f"This is not valid JSON ({exc}).") from None
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list):
        raise LibraryError("A CSL-JSON file holds a list of references.")
    references, skipped = [], []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            skipped.append(f"item {index + 1} is not an object")
            continue

        def text_of(name: str, item: dict[str, Any] = item) -> str:
            value = item.get(name)
            return value if isinstance(value, str) else str(value) if value is not None else ""

        issued = item.get("issued")
        parts = issued.get("date-parts") if isinstance(issued, dict) else None
        year = parts[0][0] if isinstance(parts, list) and parts and parts[0] else None
        authors = item.get("author") if isinstance(item.get("author"), list) else []
        references.append(
            _reference(
                text_of("type"),
                text_of("id"),
                text_of("title"),
                text_of("abstract"),
                [_csl_name(name) for name in authors or []],
                year=_year(year or (issued.get("raw") if isinstance(issued, dict) else None)),
                doi=_doi(text_of("DOI")),
                arxiv_id=_arxiv(
                    text_of("DOI"),
                    text_of("URL"),
                    text_of("number"),
                    text_of("note"),
                    text_of("container-title"),
                    text_of("archive_location"),
                ),
            )
        )
    return Library("csl-json", references, skipped)


def from_ids(text: str) -> Library:
    """A plain list of arXiv ids, arXiv URLs or DOIs (one or more per line)."""
    references, skipped = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        for token in re.split(r"[\s,;]+", line.strip()):
            if not token:
                continue
            arxiv_id, doi = _arxiv(token), None if _arxiv(token) else _doi(token)
            if arxiv_id is None and doi is None:
                skipped.append(f"line {number}: {token[:80]!r} is neither an arXiv id nor a DOI")
                continue
            references.append(Reference(kind="id", key="", title="", arxiv_id=arxiv_id, doi=doi))
    return Library("ids", references, skipped)


def decode(payload: bytes) -> str:
    """The upload as text (UTF-8, or Windows-1252 as older Mendeley writes); binary refused."""
    if b"\x00" in payload[:65536]:
        raise LibraryError("This is not a text file: upload a .bib, .ris or .json export.")
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = payload.decode("cp1252", errors="replace")
    sample = text[:65536]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\r\n\f")
    if sample and controls > len(sample) // 100:
        raise LibraryError("This is not a text file: upload a .bib, .ris or .json export.")
    return text


def parse(payload: bytes) -> Library:
    """Read an upload in whichever of the four formats it is written in."""
    text = decode(payload)
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        library = from_csl_json(text)
    elif re.search(r"^TY  -", text, re.MULTILINE):
        library = from_ris(text)
    elif re.search(r"@[ \t]*[A-Za-z]+[ \t\r\n]*[{(]", text):
        library = from_bibtex(text)
    else:
        library = from_ids(text)
    empty = [r for r in library.references if not (r.title or r.arxiv_id or r.doi)]
    if empty:
        library.references = [r for r in library.references if r.title or r.arxiv_id or r.doi]
        library.skipped.append(f"{len(empty)} reference(s) with neither a title nor an id")
    if not library.references:
        reason = f" ({library.skipped[0]})" if library.skipped else ""
        raise LibraryError(f"No references were found in this file{reason}.")
    if len(library.references) > MAX_REFERENCES:
        raise LibraryError(
            f"This file holds {len(library.references):,} references; "
            f"the limit is {MAX_REFERENCES:,} per upload."
        )
    return library
