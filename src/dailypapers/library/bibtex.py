"""A small, forgiving BibTeX reader for reference-manager exports (Zotero, Better BibTeX,
Mendeley, JabRef).

It reads ``@type{key, field = {value} # "value" # macro, ...}`` with brace or parenthesis
delimiters, ``@string`` macros (and the month names), and skips ``@comment`` and
``@preamble``. A broken entry (unbalanced braces, a missing comma, a field over
``MAX_VALUE`` characters) is reported and skipped: reading resumes at the next ``@`` that
starts a line, so one bad entry never loses the rest of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_VALUE = 100_000  # characters in one field value
_START = re.compile(r"@[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t\r\n]*([{(])")
_NAME = re.compile(r"[ \t\r\n]*([^\s=,{}()\"#%'~]+)[ \t\r\n]*")
_NUMBER = re.compile(r"[0-9]+")
_RESYNC = re.compile(r"^[ \t]*@", re.MULTILINE)
MONTHS = {
    name: str(number)
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


class BibError(ValueError):
    """A part of the file that is not BibTeX; the message says what and where."""


@dataclass(slots=True)
class BibEntry:
    """One entry: its type (lower-cased), key and raw field values (names lower-cased)."""

    kind: str
    key: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class BibFile:
    """The entries read, and one message per part skipped."""

    entries: list[BibEntry]
    errors: list[str]


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.macros: dict[str, str] = dict(MONTHS)

    def skip_space(self) -> None:
        text = self.text
        while self.at < len(text) and text[self.at] in " \t\r\n":
            self.at += 1

    def expect(self, chars: str) -> str:
        self.skip_space()
        if self.at >= len(self.text) or self.text[self.at] not in chars:
            found = self.text[self.at : self.at + 10] or "the end of the file"
            raise BibError(f"expected {chars!r} at line {_line(self.text, self.at)}, not {found!r}")
        self.at += 1
        return self.text[self.at - 1]

    def braced(self) -> str:
        """A ``{...}`` value (the opening brace read), braces inside kept."""
        text, start, depth = self.text, self.at, 1
        while self.at < len(text):
            char = text[self.at]
            if char == "\\":
                self.at += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    self.at += 1
                    return self._bounded(text[start : self.at - 1], start)
            elif char == "@" and not text[self._line_start() : self.at].strip():
                break  # a new entry starts: this brace was never closed
            self.at += 1
        raise BibError(f"unbalanced braces in the value starting at line {_line(text, start)}")

    def _line_start(self) -> int:
        return self.text.rfind("\n", 0, self.at) + 1

    def quoted(self) -> str:
        """A ``"..."`` value (the quote read); quotes inside braces do not end it."""
        text, start, depth = self.text, self.at, 0
        while self.at < len(text):
            char = text[self.at]
            if char == "\\":
                self.at += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            elif char == '"' and depth == 0:
                self.at += 1
                return self._bounded(text[start : self.at - 1], start)
            self.at += 1
        raise BibError(f"unterminated quoted value starting at line {_line(text, start)}")

    def _bounded(self, value: str, start: int) -> str:
        if len(value) > MAX_VALUE:
            raise BibError(
                f"a value over {MAX_VALUE:,} characters at line {_line(self.text, start)}"
            )
        return value

    def value(self) -> str:
        """A value: pieces joined with ``#``."""
        parts: list[str] = []
        while True:
            self.skip_space()
            char = self.text[self.at : self.at + 1]
            if char == "{":
                self.at += 1
                parts.append(self.braced())
            elif char == '"':
                self.at += 1
                parts.append(self.quoted())
            elif number := _NUMBER.match(self.text, self.at):
                parts.append(number.group())
                self.at = number.end()
            elif name := _NAME.match(self.text, self.at):
                parts.append(self.macros.get(name.group(1).lower(), name.group(1)))
                self.at = name.end()
            else:
                where = _line(self.text, self.at)
                raise BibError(f"expected a value at line {where}, not {char or 'the end'!r}")
            self.skip_space()
            if self.text[self.at : self.at + 1] != "#":
                return "".join(parts)
            self.at += 1

    def name(self) -> str:
        match = _NAME.match(self.text, self.at)
        if not match:
            raise BibError(f"expected a field name at line {_line(self.text, self.at)}")
        self.at = match.end()
        return match.group(1)

    def fields(self, close: str) -> dict[str, str]:
        values: dict[str, str] = {}
        while True:
            self.skip_space()
            if self.text[self.at : self.at + 1] == close:
                self.at += 1
                return values
            name = self.name().lower()
            self.expect("=")
            values.setdefault(name, self.value())
            if self.expect("," + close) == close:
                return values

    def entry(self, kind: str, close: str) -> BibEntry | None:
        if kind == "comment":
            self._skip_comment(close)
            return None
        if kind == "preamble":
            self.value()
            self.expect(close)
            return None
        if kind == "string":
            for name, value in self.fields(close).items():
                self.macros[name] = value
            return None
        self.skip_space()
        key_match = re.compile(r"[^\s,{}()]*").match(self.text, self.at)
        assert key_match is not None
        key = key_match.group()
        self.at = key_match.end()
        if self.expect("," + close) == close:
            return BibEntry(kind, key)
        return BibEntry(kind, key, self.fields(close))

    def _skip_comment(self, close: str) -> None:
        if close == "}":
            self.braced()
        else:
            end = self.text.find(")", self.at)
            self.at = len(self.text) if end < 0 else end + 1


def read(text: str) -> BibFile:
    """Every entry of a BibTeX file, and what was skipped and why."""
    reader = _Reader(text)
    entries: list[BibEntry] = []
    errors: list[str] = []
    while True:
        start = _START.search(text, reader.at)
        if start is None:
            return BibFile(entries, errors)
        reader.at = start.end()
        close = "}" if start.group(2) == "{" else ")"
        try:
            entry = reader.entry(start.group(1).lower(), close)
        except (BibError, IndexError) as exc:
            errors.append(str(exc))
            following = _RESYNC.search(text, start.end())
            reader.at = following.start() if following else len(text)
            continue
        if entry is not None:
            entries.append(entry)
