"""arXiv bulk metadata over OAI-PMH (``ListRecords`` with ``metadataPrefix=arXiv``).

The harvester follows ``resumptionToken`` pages.  A record's cursor is
``"<token that fetched its page>|<records of that page consumed>"`` (the token is
empty for the first page; arXiv tokens may contain ``|`` themselves, so the
cursor is split at the last one).  Resuming refetches that page and skips the
records already consumed.  Deleted records are skipped; ``noRecordsMatch`` means
an empty harvest, any other OAI error is a ``SourceError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.guard import one_record
from dailypapers.sources.http import Fetcher
from dailypapers.sources.xmlparse import NS, Element, parse_xml, text_of


def fetch_oai(
    fetcher: Fetcher,
    *,
    base_url: str,
    date_from: dt.date | None = None,
    date_until: dt.date | None = None,
    set_spec: str | None = None,
    resume: str | None = None,
) -> Iterator[RawPaper]:
    """Yield every record of an OAI-PMH ``ListRecords`` harvest, page after page."""
    token, skip = "", 0
    if resume:
        token, _, consumed = resume.rpartition("|")
        skip = int(consumed)
    while True:
        params: dict[str, str]
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": "arXiv"}
            if date_from:
                params["from"] = date_from.isoformat()
            if date_until:
                params["until"] = date_until.isoformat()
            if set_spec:
                params["set"] = set_spec
        root = parse_xml(fetcher.get(base_url, params), what="OAI-PMH response")
        error = root.find("oai:error", NS)
        if error is not None:
            code = error.get("code", "unknown")
            if code == "noRecordsMatch":
                return
            message = " ".join("".join(error.itertext()).split())
            raise SourceError(f"OAI-PMH error {code}: {message or 'no message'}")
        records = root.findall("oai:ListRecords/oai:record", NS)
        for index, record in enumerate(records[skip:], start=skip):
            header = record.find("oai:header", NS)
            if header is not None and header.get("status") == "deleted":
                continue
            cursor = f"{token}|{index + 1}"
            yield one_record(cursor, f"record {index + 1}", parse_record, record, cursor=cursor)
        next_token = (text_of(root, "oai:ListRecords/oai:resumptionToken") or "").strip()
        if not next_token or next_token == token:
            return
        token, skip = next_token, 0


def parse_record(record: Element, *, cursor: str | None = None) -> RawPaper:
    """One OAI ``<record>`` in the ``arXiv`` metadata format as a RawPaper."""
    identifier = (text_of(record, "oai:header/oai:identifier") or "").strip()
    meta = record.find("oai:metadata/arXiv:arXiv", NS)
    arxiv_id = text_of(meta, "arXiv:id") if meta is not None else None
    ref = f"record {identifier or '(no identifier)'}"
    if meta is None or not arxiv_id:
        return RawPaper(error="record without arXiv metadata or id", ref=ref, cursor=cursor)
    categories = (text_of(meta, "arXiv:categories") or "").split()
    return RawPaper(
        arxiv_id=arxiv_id.strip(),
        title=text_of(meta, "arXiv:title"),
        abstract=text_of(meta, "arXiv:abstract"),
        authors=[
            name
            for author in meta.findall("arXiv:authors/arXiv:author", NS)
            if (name := _author_name(author))
        ],
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=text_of(meta, "arXiv:created"),
        updated=text_of(meta, "arXiv:updated"),
        comment=text_of(meta, "arXiv:comments"),
        journal_ref=text_of(meta, "arXiv:journal-ref"),
        doi=text_of(meta, "arXiv:doi"),
        license=text_of(meta, "arXiv:license"),
        ref=ref,
        cursor=cursor,
    )


def _author_name(author: Element) -> str:
    parts = (text_of(author, f"arXiv:{part}") for part in ("forenames", "keyname", "suffix"))
    return " ".join(part.strip() for part in parts if part)
