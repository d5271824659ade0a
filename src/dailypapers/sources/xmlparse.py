"""XML helpers shared by the Atom, OAI-PMH and RSS readers.

Bodies are parsed with the standard library's ElementTree, which never fetches
external entities; documents that declare entities are refused outright so that
entity-expansion tricks never reach the parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dailypapers.records import SourceError

Element = ET.Element

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai": "http://www.openarchives.org/OAI/2.0/",
    "arXiv": "http://arxiv.org/OAI/arXiv/",
}


def parse_xml(text: str, *, what: str) -> Element:
    """Parse a whole response body; ``SourceError`` when it is not (safe) XML."""
    if "<!ENTITY" in text:
        raise SourceError(f"{what} declares XML entities; refusing to parse it")
    try:
        return ET.fromstring(text)  # noqa: S314 - no entity declarations, see above
    except ET.ParseError as exc:
        start = " ".join(text[:80].split())
        raise SourceError(f"{what} is not XML ({exc}); it starts with {start!r}") from None


def text_of(element: Element, path: str) -> str | None:
    """Text of the first ``path`` match (prefixes from ``NS``); None if absent or blank."""
    found = element.find(path, NS)
    if found is None:
        return None
    text = "".join(found.itertext())
    return text if text.strip() else None
