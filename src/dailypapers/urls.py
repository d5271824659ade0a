"""The one check for URLs that come from data (licences, links in records) before they are
used as a link: only absolute http(s) URLs with a host survive, everything else is text.

Pages and emails use it as the ``safe_url`` template filter; ingest uses it too, so a
``javascript:`` or ``data:`` value never becomes a link wherever it is shown.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_URL = 2000
# Control characters, whitespace and the characters browsers strip or fold before parsing
# a scheme (tab, newline, NUL, DEL, C1 controls, zero-width and bidi marks).
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\\]")


def safe_url(value: object) -> str | None:
    """``value`` when it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip(" ")
    if not url or len(url) > MAX_URL or _UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username is not None:
        return None
    if not url.lower().startswith(("http://", "https://")):
        return None
    return url


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def url_or_text(value: str | None) -> str | None:
    """``value`` unless it is a link to anything but http(s) (``javascript:``, ``data:``...),
    which is dropped; plain text such as ``CC BY 4.0`` is kept."""
    if value is None or safe_url(value) is not None:
        return value
    # Browsers drop leading controls and spaces, and tabs and newlines anywhere in a URL.
    folded = re.sub(r"^[\x00-\x20]+", "", re.sub(r"[\t\n\r]", "", value))
    return None if _SCHEME.match(folded) or folded.startswith("//") else value
