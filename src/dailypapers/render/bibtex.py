"""BibTeX entries for papers, in the form arXiv exports them, safe for BibTeX and LaTeX.

Titles, abstracts and journal references are arXiv's LaTeX-ish text: math (``$...$``) and
commands (``\\emph{}``, ``\\"o``) are kept, and every character BibTeX or LaTeX would
misread is escaped (``&`` ``%`` ``#`` ``_`` ``$`` ``^`` ``~`` and unpaired braces).
Author names are plain Unicode text and are escaped whole. A value always has balanced
braces (BibTeX counts ``\\{`` too); when LaTeX-ish text cannot be kept balanced it is
escaped as plain text instead. URLs and DOIs are written verbatim (biblatex reads them so),
with only the characters that would break the entry percent-encoded.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, Protocol

from dailypapers.render.latex import brace_pairs, math_spans

_PLAIN = {
    "\\": "\\textbackslash{}",
    "{": "\\textbraceleft{}",
    "}": "\\textbraceright{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
}
# ``\`` followed by one of these is already a LaTeX control symbol and is kept.
_CONTROL_SYMBOLS = set("%&#_$'\"`.=^~,;:!-/@| ")
_NAME = re.compile(r"[A-Za-z]+")
_VERBATIM_UNSAFE = re.compile(r"[{}\\\s]")


def escape_plain(text: str) -> str:
    """Plain ``text`` for a BibTeX value: every special character escaped."""
    return "".join(_PLAIN.get(char, char) for char in text)


def balanced(value: str) -> bool:
    """Whether BibTeX reads ``value``'s braces as balanced (it counts ``\\{`` as a brace)."""
    depth = 0
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


class _Run:
    """What ``_escape_text`` needs to know about the whole value: which braces pair up
    outside math."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = math_spans(text)
        starts = [start for start, _ in self.spans]
        pairs = brace_pairs(text)

        def in_math(at: int) -> bool:
            index = bisect.bisect_right(starts, at) - 1
            return index >= 0 and self.spans[index][0] <= at < self.spans[index][1]

        kept = {o: c for o, c in pairs.items() if not in_math(o) and not in_math(c)}
        self.openers = set(kept)
        self.closers = set(kept.values())

    def escape(self, start: int, end: int, out: list[str]) -> None:
        """Escape the text between two math segments, keeping commands and paired braces."""
        text = self.text
        at = start
        while at < end:
            char = text[at]
            if char == "\\":
                at = self._command(at, end, out)
                continue
            if char == "{":
                out.append("{" if at in self.openers else "\\textbraceleft{}")
            elif char == "}":
                out.append("}" if at in self.closers else "\\textbraceright{}")
            elif char == "~":
                approx = (at == 0 or text[at - 1] in " (\t\n") and text[at + 1 : at + 2].isdigit()
                out.append("$\\sim$" if approx else "~")  # "~5": about 5
            elif char == "^":
                out.append("\\^{}")
            else:
                out.append(_PLAIN[char] if char in "&%$#_" else char)
            at += 1

    def _command(self, at: int, end: int, out: list[str]) -> int:
        """Keep a command (``\\emph``, ``\\%``, ``\\'``); escape a stray backslash."""
        text = self.text
        following = text[at + 1] if at + 1 < end else ""
        name = _NAME.match(text, at + 1, end)
        if name:
            out.append("\\" + name.group())
            return name.end()
        if following in ("{", "}"):  # BibTeX would count an escaped brace
            out.append(_PLAIN[following])
        elif following == "\\":
            out.append(" ")
        elif following and following in _CONTROL_SYMBOLS:
            out.append("\\" + following)
        else:
            out.append("\\textbackslash{}")
            return at + 1
        return at + 2


def escape_latex(text: str) -> str:
    """arXiv's LaTeX-ish ``text`` for a BibTeX value: math and commands kept, the rest
    escaped; plain escaping when the result would not have balanced braces."""
    run = _Run(text)
    out: list[str] = []
    at = 0
    for start, end in run.spans:
        run.escape(at, start, out)
        segment = text[start:end]
        out.append(segment if balanced(segment) else escape_plain(segment))
        at = end
    run.escape(at, len(text), out)
    value = "".join(out)
    return value if balanced(value) else escape_plain(text)


def verbatim(value: str) -> str:
    """A URL or DOI as written (biblatex and ``\\url`` read them verbatim, ``%`` and ``_``
    included), with braces, backslashes and spaces percent-encoded: they would unbalance
    the entry or end the address."""
    return _VERBATIM_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value)


def author_list(authors: list[str]) -> str:
    """Names joined with `` and ``; a name that holds ``and`` or a comma is kept whole."""
    names = []
    for name in authors:
        escaped = escape_plain(name)
        if re.search(r"\band\b|,", name, re.IGNORECASE):
            escaped = "{" + escaped + "}"
        names.append(escaped)
    return " and ".join(names) or "{Unknown}"


class PaperRow(Protocol):
    """A paper's stored row (a database row mapping or a dict with its column names)."""

    def __getitem__(self, key: str, /) -> Any: ...


def entry(*, key: str, paper: PaperRow, abstract: bool = False) -> str:
    """A ``@misc`` entry (``@article`` with a journal reference) for a paper row."""
    fields: list[tuple[str, str]] = [
        ("title", "{" + escape_latex(paper["title"]) + "}"),
        ("author", author_list(list(paper["authors"]))),
        ("year", str(paper["published_at"].year)),
        ("eprint", paper["id"]),
        ("archivePrefix", "arXiv"),
    ]
    if paper["primary_category"]:
        fields.append(("primaryClass", paper["primary_category"]))
    fields.append(("url", verbatim(f"https://arxiv.org/abs/{paper['id']}")))
    if paper["doi"]:
        fields.append(("doi", verbatim(paper["doi"])))
    if paper["journal_ref"]:
        fields.append(("journal", escape_latex(paper["journal_ref"])))
    if abstract:
        fields.append(("abstract", escape_latex(" ".join(paper["abstract"].split()))))
    kind = "article" if paper["journal_ref"] else "misc"
    body = ",\n".join(f"      {name}={{{value}}}" for name, value in fields)
    return f"@{kind}{{{key},\n{body}\n}}"
