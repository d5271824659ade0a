"""Text-mode LaTeX in titles and abstracts shown as what it means, not as raw macros.

arXiv metadata is LaTeX-ish plain text: ``\\emph{new}``, ``\\textbf{}``, ``{\\it x}``,
``\\url{}``, ``\\href{}{}``, ``~``, ````quotes''``, ``--``, ``\\%``, ``{\\"o}``. ``to_html``
turns that into safe HTML (``em``, ``strong``, ``code``, links through ``urls.safe_url``)
and ``to_text`` into plain text for cards and emails. Math (``$...$``, ``$$...$$``,
``\\(...\\)``, ``\\[...\\]``) is left exactly as written, for KaTeX in the browser;
``\\$`` stays ``\\$`` in HTML (``app.js`` shows it as a dollar that KaTeX does not read).
Unknown macros are kept as written. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from dailypapers.ingest.normalize import ACCENTS
from dailypapers.urls import safe_url

_MATH_OPEN = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_SYMBOLS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",  # noqa: RUF001
    "ldots": "…",
    "dots": "…",
    "textendash": "\u2013",
    "textemdash": "—",
    "textquoteleft": "\u2018",
    "textquoteright": "\u2019",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "textasciitilde": "~",
    "textbackslash": "\\",
    "textbar": "|",
    "textless": "<",
    "textgreater": ">",
    "textbullet": "•",
    "S": "§",
    "P": "¶",
    "copyright": "©",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
    "today": "",
    "par": " ",
    "newline": " ",
    "quad": " ",
    "qquad": " ",
    "noindent": "",
    "xspace": "",
}
# Escaped characters shown as themselves (``\\$`` is kept for app.js, see above).
_ESCAPES = {"%": "%", "&": "&", "_": "_", "#": "#", "{": "{", "}": "}", " ": " ", ",": " "}
_STYLES = {
    "emph": "em",
    "textit": "em",
    "textsl": "em",
    "textbf": "strong",
    "texttt": "code",
    "underline": "u",
    "uline": "u",
}
_PLAIN_STYLES = frozenset({"textrm", "textsf", "textsc", "textnormal", "textup", "textmd", "mbox"})
_SWITCHES = {
    **dict.fromkeys(("em", "it", "itshape", "sl", "slshape"), "em"),
    **dict.fromkeys(("bf", "bfseries"), "strong"),
    **dict.fromkeys(("tt", "ttfamily"), "code"),
    **dict.fromkeys(("rm", "sf", "sc", "scshape", "normalfont", "upshape"), ""),
}
_NAME = re.compile(r"[A-Za-z]+")
_APPROX = re.compile(r"(?:^|(?<=[\s(]))~(?=\d)")
_DASHES = (("---", "—"), ("--", "\u2013"), ("``", "“"), ("''", "”"))
MAX_DEPTH = 20  # nested groups deeper than this are shown as written


@dataclass(slots=True)
class Node:
    """A run of text (``tag`` ""), math (``tag`` "math") or formatted children."""

    tag: str
    text: str = ""
    children: list[Node] = field(default_factory=list)
    href: str | None = None


_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.DOTALL)  # an escape pair, or a brace
_PLAIN_RUN = re.compile(r"[^$\\{]+")  # text the parser copies as it is
_SPECIAL = re.compile(r"[$\\{]")


def brace_pairs(text: str) -> dict[int, int]:
    """Each ``{`` (not ``\\{``) mapped to the index of its closing ``}``, in one pass."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for token in _BRACE_TOKENS.finditer(text):
        char = token.group()
        if char == "{":
            stack.append(token.start())
        elif char == "}" and stack:
            pairs[stack.pop()] = token.start()
    return pairs


class _Parser:
    """A small recursive-descent reader of LaTeX-ish text into ``Node``s."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pairs = brace_pairs(text)
        # Where a search for a closing delimiter found none: no later search can find one
        # either, so hostile text ("\\(" ten thousand times) stays linear.
        self.unclosed: dict[str, int] = {}

    def _group_end(self, at: int, end: int) -> int:
        """Index of the ``}`` closing the ``{`` at ``at`` before ``end``, or -1."""
        close = self.pairs.get(at, -1)
        return close if close < end else -1

    def _math_end(self, start: int, end: int, close: str) -> int:
        """Index just past the closing delimiter, or -1 (an escaped ``\\$`` does not close)."""
        if self.unclosed.get(close, end + 1) <= start:
            return -1
        at = start
        while True:
            found = self.text.find(close, at, end)
            if found < 0:
                if end == len(self.text):
                    self.unclosed[close] = min(start, self.unclosed.get(close, start))
                return -1
            if close.startswith("$") and self.text[found - 1] == "\\":
                at = found + 1
                continue
            if close == "$" and found == start:  # ``$$`` is display math, handled before
                return -1
            return found + len(close)

    def parse(self, start: int, end: int, depth: int = 0, code: bool = False) -> list[Node]:
        nodes: list[Node] = []
        buffer: list[str] = []
        text = self.text
        at = start

        def flush() -> None:
            if buffer:
                run = "".join(buffer)  # code (\\texttt) has no ligatures: -- stays --
                nodes.append(Node("", run if code else _typography(run)))
                buffer.clear()

        while at < end:
            char = text[at]
            math = self._math(at, end) if char in "$\\" else None
            if math is not None:
                flush()
                nodes.append(Node("math", text[at:math]))
                at = math
            elif char == "\\":
                produced, at = self._command(at, end, depth)
                if isinstance(produced, str):
                    buffer.append(produced)
                else:
                    flush()
                    nodes.append(produced)
            elif char == "{" and depth < MAX_DEPTH:
                close = self._group_end(at, end)
                if close < 0:
                    buffer.append(char)
                    at += 1
                    continue
                flush()
                nodes.append(self._group(at + 1, close, depth + 1))
                at = close + 1
            else:  # plain text up to the next $, \\ or { (or this lone one, read as text)
                run = _PLAIN_RUN.match(text, at, end)
                buffer.append(run.group() if run else char)
                at = run.end() if run else at + 1
        flush()
        return nodes

    def _math(self, at: int, end: int) -> int | None:
        text = self.text
        if text.startswith("\\$", at):
            return None
        for opening, close in _MATH_OPEN:
            if text.startswith(opening, at) and at + len(opening) < end:
                found = self._math_end(at + len(opening), end, close)
                if found > 0:
                    return found
                if opening in ("$$", "\\[", "\\("):
                    continue
                return None
        return None

    def _group(self, start: int, close: int, depth: int) -> Node:
        """``{...}``: a group, which may open with a switch (``{\\em x}``, ``{\\bf x}``)."""
        text = self.text
        match = re.match(r"\s*\\([A-Za-z]+)(?![A-Za-z])\s*", text[start:close])
        if match and match.group(1) in _SWITCHES:
            tag = _SWITCHES[match.group(1)]
            children = self.parse(start + match.end(), close, depth, code=tag == "code")
            return Node(tag or "group", children=children)
        return Node("group", children=self.parse(start, close, depth))

    def _argument(self, at: int, end: int) -> tuple[int, int] | None:
        """The span inside a ``{...}`` argument starting at ``at`` (after spaces), or None."""
        text = self.text
        while at < end and text[at] == " ":
            at += 1
        if at < end and text[at] == "{":
            close = self._group_end(at, end)
            if close > 0:
                return at + 1, close
        return None

    def _command(self, at: int, end: int, depth: int) -> tuple[Node | str, int]:
        text = self.text
        if at + 1 >= end:
            return "\\", at + 1
        char = text[at + 1]
        accent = char in ACCENTS and not char.isalpha()
        if accent or (char in "uvHck" and not text[at + 2 : at + 3].isalpha()):
            return self._accent(at, end, char)
        if char in _ESCAPES:
            return _ESCAPES[char], at + 2
        if char == "\\":
            return " ", at + 2
        if char == "$":
            return "\\$", at + 2
        match = _NAME.match(text, at + 1, end)
        if not match:
            return text[at : at + 2], at + 2
        name, after = match.group(), match.end()
        if name in _STYLES or name in _PLAIN_STYLES or name in ("url", "href"):
            produced = self._styled(name, after, end, depth)
            if produced is not None:
                return produced
        if name in _SYMBOLS:
            while after < end and text[after] == " " and name not in ("par", "quad", "qquad"):
                after += 1  # a control word eats the spaces after it
            if text.startswith("{}", after):
                after += 2
            return _SYMBOLS[name], after
        while (argument := self._argument(after, end)) is not None:
            after = argument[1] + 1
        return text[at:after], after  # unknown: shown as written, with its arguments

    def _styled(self, name: str, after: int, end: int, depth: int) -> tuple[Node, int] | None:
        argument = self._argument(after, end)
        if argument is None or depth >= MAX_DEPTH:
            return None
        start, close = argument
        if name == "url":
            target = self.text[start:close].strip()
            return Node("link", children=[Node("", target)], href=safe_url(target)), close + 1
        if name == "href":
            label = self._argument(close + 1, end)
            if label is None:
                return None
            target = self.text[start:close].strip().replace("\\%", "%").replace("\\#", "#")
            children = self.parse(label[0], label[1], depth + 1)
            return Node("link", children=children, href=safe_url(target)), label[1] + 1
        tag = _STYLES.get(name, "group")
        return Node(tag, children=self.parse(start, close, depth + 1, tag == "code")), close + 1

    def _accent(self, at: int, end: int, char: str) -> tuple[str, int]:
        text = self.text
        after = at + 2
        argument = (
            self._argument(after, end) if char.isalpha() or text[after : after + 1] == "{" else None
        )
        if argument is not None:
            letter, after = text[argument[0] : argument[1]].strip(), argument[1] + 1
        else:
            while char.isalpha() and after < end and text[after] == " ":
                after += 1
            letter, after = text[after : after + 1], after + 1
        if letter in ("\\i", "\\j"):
            letter = letter[1]
        if len(letter) != 1 or not letter.isalpha():
            return text[at : at + 2], at + 2
        return unicodedata.normalize("NFC", letter + ACCENTS[char]), min(after, end)


def _typography(text: str) -> str:
    """``--``, ``---``, ````''`` and ``~`` as the characters they mean (``~5`` after a space
    reads as "about 5" in arXiv abstracts and is kept)."""
    for source, target in _DASHES:
        text = text.replace(source, target)
    text = text.replace("`", "\u2018")
    marked = _APPROX.sub("\x00", text).replace("~", "\u00a0")
    return marked.replace("\x00", "~")


def parse(text: str) -> list[Node]:
    """``text`` as a tree of text, math and formatting nodes."""
    if not _SPECIAL.search(text):  # no math, command or group: most titles and abstracts
        return [Node("", _typography(text))] if text else []
    return _Parser(text).parse(0, len(text))


def _html(nodes: list[Node]) -> str:
    parts: list[str] = []
    for node in nodes:
        if node.tag in ("", "math"):
            parts.append(str(escape(node.text)))
        elif node.tag == "group":
            parts.append(_html(node.children))
        elif node.tag == "link":
            inner = _html(node.children)
            if node.href:
                href = escape(node.href)
                parts.append(f'<a href="{href}" rel="nofollow noopener">{inner}</a>')
            else:
                parts.append(inner)
        else:
            parts.append(f"<{node.tag}>{_html(node.children)}</{node.tag}>")
    return "".join(parts)


def _text(nodes: list[Node], dollar: str) -> str:
    parts: list[str] = []
    for node in nodes:
        if node.tag in ("", "math"):
            parts.append(node.text if node.tag == "math" else node.text.replace("\\$", dollar))
        else:
            parts.append(_text(node.children, dollar))
    return "".join(parts)


_MARKDOWN_MARKS = {"em": "*", "strong": "**", "u": ""}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _markdown(nodes: list[Node]) -> str:
    parts: list[str] = []
    for node in nodes:
        if node.tag == "math":
            parts.append(node.text)
        elif node.tag == "":
            parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", node.text.replace("\\$", "$")))
        elif node.tag == "group":
            parts.append(_markdown(node.children))
        elif node.tag == "link":
            inner = _markdown(node.children)
            href = (node.href or "").replace(")", "%29").replace(" ", "%20")
            parts.append(f"[{inner}]({href})" if href else inner)
        elif node.tag == "code":  # a code span shows backslashes as they are: no escapes
            inner = " ".join(_text(node.children, "$").split())
            fence = "``" if "`" in inner else "`"
            parts.append(f"{fence}{inner}{fence}" if inner else "")
        else:
            inner = _markdown(node.children).strip()
            mark = _MARKDOWN_MARKS.get(node.tag, "")
            parts.append(f"{mark}{inner}{mark}" if inner else "")
    return "".join(parts)


def to_markdown(text: str) -> str:
    """``text`` as Markdown: ``\\emph{x}`` -> ``*x*``, ``\\textbf`` -> ``**``, ``\\texttt``
    -> backticks, links through the URL sanitiser, math kept as written for ``$...$``
    renderers, Markdown's own characters in plain text escaped."""
    return _markdown(parse(text))


def to_html(text: str) -> Markup:
    """Safe HTML for LaTeX-ish ``text``: formatting as tags, math left for KaTeX."""
    return Markup(_html(parse(text)))  # noqa: S704 - every text node is escaped above


def to_text(text: str, *, dollar: str = "\\$") -> str:
    """``text`` with its formatting dropped (``\\emph{x}`` -> ``x``), math kept as written;
    ``dollar`` is what ``\\$`` becomes (``$`` for emails, kept for pages that run KaTeX)."""
    return _text(parse(text), dollar)


def math_spans(text: str) -> list[tuple[int, int]]:
    """Start and end of each math segment of ``text`` (``$...$``, ``\\(...\\)``...)."""
    parser = _Parser(text)
    spans: list[tuple[int, int]] = []
    at = 0
    while at < len(text):
        if text[at] in "$\\":
            end = parser._math(at, len(text))
            if end is not None:
                spans.append((at, end))
                at = end
                continue
            if text[at] == "\\":
                at += 2
                continue
        at += 1
    return spans
