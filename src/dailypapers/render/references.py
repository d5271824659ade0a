"""Papers as CSL-JSON items and RIS records, the two other formats reference managers import
(Zotero, Mendeley, JabRef, citeproc); BibTeX entries come from ``render/bibtex.py``.

Titles and abstracts are arXiv's LaTeX-ish text made plain (``render/latex.to_text``; math
keeps its dollars). CSL-JSON follows the CSL data schema (csl-data.json): every item has an
``id`` and a ``type`` from its list, names are ``{"family", "given"}`` objects and dates
``{"date-parts": [[y, m, d]]}``. RIS writes one ``TAG  - value`` line per field, ``TY`` first
and ``ER`` last, with no line breaks inside a value.
"""

from __future__ import annotations

from typing import Any

from dailypapers.render.bibtex import PaperRow
from dailypapers.render.latex import to_text


def _plain(text: str) -> str:
    return " ".join(to_text(text, dollar="$").split())


def split_name(name: str) -> dict[str, str]:
    """``Ashish Vaswani`` as ``{"family": "Vaswani", "given": "Ashish"}`` (one word: family)."""
    parts = name.split()
    if len(parts) < 2:
        return {"family": name.strip() or "Unknown"}
    return {"family": parts[-1], "given": " ".join(parts[:-1])}


def csl_item(*, key: str, paper: PaperRow) -> dict[str, Any]:
    """One paper as a CSL-JSON item (``article`` for a preprint, ``article-journal`` when it
    has a journal reference)."""
    published = paper["published_at"]
    item: dict[str, Any] = {
        "id": key,
        "type": "article-journal" if paper["journal_ref"] else "article",
        "title": _plain(paper["title"]),
        "author": [split_name(a) for a in paper["authors"] if str(a).strip()],
        "issued": {"date-parts": [[published.year, published.month, published.day]]},
        "abstract": _plain(paper["abstract"]),
        "URL": f"https://arxiv.org/abs/{paper['id']}",
        "number": f"arXiv:{paper['id']}",
        "publisher": "arXiv",
        "citation-key": key,
    }
    if paper["doi"]:
        item["DOI"] = paper["doi"]
    if paper["journal_ref"]:
        item["container-title"] = _plain(paper["journal_ref"])
    if paper["primary_category"]:
        item["keyword"] = paper["primary_category"]
    return item


def _ris_value(value: str) -> str:
    return " ".join(value.split())


def ris_record(*, key: str, paper: PaperRow) -> str:
    """One paper as an RIS record (``JOUR`` with a journal reference, else ``GEN``)."""
    published = paper["published_at"]
    lines = [("TY", "JOUR" if paper["journal_ref"] else "GEN"), ("ID", key)]
    lines.append(("TI", _plain(paper["title"])))
    lines += [("AU", _ris_value(str(a))) for a in paper["authors"] if str(a).strip()]
    lines += [
        ("PY", str(published.year)),
        ("DA", f"{published:%Y/%m/%d}"),
        ("AB", _plain(paper["abstract"])),
        ("UR", f"https://arxiv.org/abs/{paper['id']}"),
        ("DB", "arXiv.org"),
        ("M1", f"arXiv:{paper['id']}"),
    ]
    if paper["doi"]:
        lines.append(("DO", paper["doi"]))
    if paper["journal_ref"]:
        lines.append(("JO", _plain(paper["journal_ref"])))
    lines += [("KW", c) for c in paper["categories"]]
    lines.append(("ER", ""))
    return "\n".join(f"{tag}  - {_ris_value(value)}".rstrip() for tag, value in lines) + "\n"
