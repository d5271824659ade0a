"""Reading lists: saving with notes, visibility, the "Saved" mark (one query, never cached
for anyone else), exports read by real parsers, feeds and the JSON twin, CSRF and no 500s."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import bibtexparser
import jsonschema_rs
import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from dailypapers.library.parse import from_ris
from tests.community.conftest import Member

# The parts of CSL-JSON's schema (citation-style-language/schema, csl-data.json v1.0.2) that
# a list's items use: required id and type, the type enum, names, dates and string fields.
CSL_TYPES = [
    "article", "article-journal", "article-magazine", "article-newspaper", "bill", "book",
    "broadcast", "chapter", "classic", "collection", "dataset", "document", "entry",
    "entry-dictionary", "entry-encyclopedia", "event", "figure", "graphic", "hearing",
    "interview", "legal_case", "legislation", "manuscript", "map", "motion_picture",
    "musical_score", "pamphlet", "paper-conference", "patent", "performance", "periodical",
    "personal_communication", "post", "post-weblog", "regulation", "report", "review",
    "review-book", "software", "song", "speech", "standard", "thesis", "treaty", "webpage",
]  # fmt: skip
NAME = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in ("family", "given", "literal")},
    "additionalProperties": False,
}
DATE = {
    "type": "object",
    "properties": {
        "date-parts": {
            "type": "array",
            "items": {"type": "array", "items": {"type": ["string", "number"]}, "maxItems": 3},
            "maxItems": 2,
        }
    },
}
CSL_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": ["string", "number"]},
            "type": {"enum": CSL_TYPES},
            "author": {"type": "array", "items": NAME},
            "issued": DATE,
            **{
                k: {"type": "string"}
                for k in (
                    "title",
                    "abstract",
                    "URL",
                    "DOI",
                    "number",
                    "publisher",
                    "container-title",
                    "citation-key",
                    "keyword",
                )
            },
        },
    },
}


def _form_token(member: Member, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', member.client.get(path).text)
    assert match
    return match.group(1)


def _save(member: Member, paper: str, **fields: str) -> Any:
    data = {"csrf_token": member.csrf(), "action": "save", **fields}
    return member.client.post(f"/papers/{paper}/save", data=data)


def _list_token(member: Member, name: str) -> str:
    page = member.client.get("/lists").text
    match = re.search(r'href="/lists/([A-Za-z0-9_-]{8,})">' + re.escape(name) + "<", page)
    assert match, page
    return match.group(1)


def test_save_to_lists_with_notes(make_member: Any, known: dict[str, str]) -> None:
    ada: Member = make_member("ada")
    attention, bert = known["attention"], known["bert"]
    # No list yet: the first save makes one ("Saved", or the name given).
    response = _save(ada, attention, new_list="Transformers", note="Read section 3")
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{attention}#save"
    token = _list_token(ada, "Transformers")
    assert _save(ada, bert, list=token).status_code == 303
    assert _save(ada, attention, new_list="Later").status_code == 303  # a second list
    page = ada.client.get(f"/lists/{token}")
    assert page.status_code == 200
    assert "Read section 3" in page.text  # the owner sees notes
    assert page.headers["cache-control"] == "private, no-store"
    # The paper page says where it is saved.
    paper = ada.client.get(f"/papers/{attention}").text
    assert "Saved</span> in" in paper and "Transformers" in paper and "Later" in paper
    # Change a note, then take a paper off.
    data = {"csrf_token": ada.csrf(), "paper": attention, "note": "Done"}
    assert ada.client.post(f"/lists/{token}/note", data=data).status_code == 303
    assert "Done" in ada.client.get(f"/lists/{token}").text
    data = {"csrf_token": ada.csrf(), "action": "remove", "list": token}
    assert ada.client.post(f"/papers/{bert}/save", data=data).status_code == 303
    assert f'id="paper-{bert}"' not in ada.client.get(f"/lists/{token}").text
    # JSON for scripts (Accept: application/json).
    response = ada.client.post(
        f"/papers/{bert}/save",
        data={"csrf_token": ada.csrf(), "list": token},
        headers={"Accept": "application/json"},
    )
    assert response.json() == {"saved": True, "list": token, "name": "Transformers"}


def test_visibility(make_member: Any, client: TestClient, known: dict[str, str]) -> None:
    ada: Member = make_member("ada")
    bob: Member = make_member("bob")
    _save(ada, known["attention"], new_list="Mine", note="secret note")
    token = _list_token(ada, "Mine")
    # Private: not found for anyone else, not even with the link.
    for other in (bob.client, client):
        assert other.get(f"/lists/{token}").status_code == 404
        assert other.get(f"/lists/{token}.json").status_code == 404
        assert other.get(f"/lists/{token}/export.bib").status_code == 404
    assert client.get(f"/api/lists/{token}").status_code == 404
    # Unlisted: whoever has the link, without notes; not on the profile.
    data = {"csrf_token": ada.csrf(), "name": "Mine", "visibility": "unlisted"}
    assert ada.client.post(f"/lists/{token}/edit", data=data).status_code == 303
    page = client.get(f"/lists/{token}")
    assert page.status_code == 200 and "secret note" not in page.text
    assert page.headers["x-robots-tag"] == "noindex"
    assert "secret note" not in client.get(f"/lists/{token}.json").text
    assert f"/lists/{token}" not in client.get("/users/ada").text
    # Public: on the profile, with feeds; still no notes for others.
    data = {"csrf_token": ada.csrf(), "name": "Mine", "visibility": "public"}
    ada.client.post(f"/lists/{token}/edit", data=data)
    assert f"/lists/{token}" in client.get("/users/ada").text
    body = client.get(f"/api/lists/{token}").json()
    assert body["visibility"] == "public" and "note" not in body["papers"][0]
    assert ada.client.get(f"/lists/{token}.json").json()["papers"][0]["note"] == "secret note"
    # Only the owner changes it.
    data = {"csrf_token": bob.csrf(), "name": "Hijacked", "visibility": "public"}
    assert bob.client.post(f"/lists/{token}/edit", data=data).status_code == 404
    data = {"csrf_token": bob.csrf(), "list": token}
    assert bob.client.post(f"/papers/{known['bert']}/save", data=data).status_code == 404


def test_saved_mark_on_cards_one_query_never_cached_for_others(
    make_member: Any, client: TestClient, engine: Engine, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    bob: Member = make_member("bob")
    # Warm the anonymous cache first.
    assert "saved-mark" not in client.get("/").text
    _save(ada, known["attention"])
    _save(ada, known["gpt3"])
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        home = ada.client.get("/")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert home.text.count('class="saved-mark"') == 2
    assert sum("list_items" in s for s in statements) == 1  # one query, whatever the cards
    assert home.headers["cache-control"] == "private, no-store"
    # Neither another member nor an anonymous visitor (served from the cache) sees it.
    assert "saved-mark" not in bob.client.get("/").text
    anonymous = client.get("/")
    assert "saved-mark" not in anonymous.text
    paper = f"/papers/{known['attention']}"
    assert "saved-mark" in ada.client.get(paper).text
    assert "saved-mark" not in client.get(paper).text
    assert "saved-mark" not in bob.client.get(paper).text


def test_exports_parse_in_real_parsers(make_member: Any, known: dict[str, str]) -> None:
    ada: Member = make_member("ada")
    for paper in known.values():
        _save(ada, paper, new_list="All")
    token = _list_token(ada, "All")
    bib = ada.client.get(f"/lists/{token}/export.bib")
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    assert "attachment" in bib.headers["content-disposition"]
    library = bibtexparser.parse_string(bib.text)
    assert not library.failed_blocks
    eprints = {entry.fields_dict["eprint"].value for entry in library.entries}
    assert eprints == set(known.values())
    assert len({entry.key for entry in library.entries}) == len(known)
    csl = ada.client.get(f"/lists/{token}/export.csl.json")
    items = orjson.loads(csl.content)
    jsonschema_rs.validate(CSL_SCHEMA, items)
    assert {item["URL"] for item in items} == {f"https://arxiv.org/abs/{p}" for p in known.values()}
    chinchilla = next(i for i in items if i["number"] == "arXiv:2203.15556")
    assert (
        chinchilla["type"] == "article-journal" and chinchilla["container-title"] == "NeurIPS 2022"
    )
    ris = ada.client.get(f"/lists/{token}/export.ris").text
    back = from_ris(ris)
    assert not back.skipped
    assert {r.arxiv_id for r in back.references} == set(known.values())
    assert all(r.title and r.authors and r.year for r in back.references)
    bert = next(r for r in back.references if r.arxiv_id == known["bert"])
    assert bert.doi == "10.18653/v1/n19-1423"


def test_public_list_feeds_and_json(
    make_member: Any, client: TestClient, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    _save(ada, known["attention"], new_list="Reading", note="private!")
    _save(ada, known["bert"], new_list="Reading")
    token = _list_token(ada, "Reading")
    assert ada.client.get(f"/lists/{token}/feed.rss").status_code == 404  # private: no feed
    ada.client.post(
        f"/lists/{token}/edit",
        data={"csrf_token": ada.csrf(), "name": "Reading", "visibility": "public"},
    )
    rss = client.get(f"/lists/{token}/feed.rss")
    assert rss.status_code == 200 and rss.headers["content-type"].startswith("application/rss+xml")
    root = ET.fromstring(rss.content)
    links = [item.findtext("link") for item in root.iter("item")]
    assert links == [
        f"http://testserver/papers/{known['bert']}",
        f"http://testserver/papers/{known['attention']}",
    ]
    assert b"private!" not in rss.content
    atom = client.get(f"/lists/{token}/feed.atom")
    assert ET.fromstring(atom.content).tag == "{http://www.w3.org/2005/Atom}feed"
    body = client.get(f"/lists/{token}.json").json()
    assert body["name"] == "Reading" and body["numPapers"] == 2
    assert body["owner"]["user"] == "ada"
    assert client.get(f"/api/lists/{token}").json() == body


def test_api_lists_and_save(
    make_member: Any, api_token: Any, client: TestClient, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    _save(ada, known["attention"], new_list="Api")
    token = _list_token(ada, "Api")
    bearer = {"Authorization": f"Bearer {api_token(ada.id)}"}
    response = client.post(
        f"/api/papers/{known['bert']}/save", json={"list": token, "note": "via API"}, headers=bearer
    )
    assert response.status_code == 200, response.text
    mine = client.get("/api/me/lists", headers=bearer).json()
    assert [(p["id"], p["note"]) for p in mine[0]["papers"]] == [
        (known["bert"], "via API"),
        (known["attention"], ""),
    ]
    assert client.get("/api/me/lists").status_code == 401
    assert (
        client.post(
            f"/api/papers/{known['bert']}/save", json={"list": "x"}, headers=bearer
        ).status_code
        == 422
    )


def test_forms_need_csrf_and_bad_input_is_4xx(
    make_member: Any, client: TestClient, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    paper = known["attention"]
    assert ada.client.post(f"/papers/{paper}/save", data={"action": "save"}).status_code == 403
    assert ada.client.post("/lists", data={"name": "x"}).status_code == 403
    foreign = {"Origin": "https://evil.example"}
    data = {"csrf_token": ada.csrf(), "name": "x"}
    assert ada.client.post("/lists", data=data, headers=foreign).status_code == 403
    # Anonymous: to the log-in page, not an error.
    response = client.post(f"/papers/{paper}/save", data={"action": "save"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/lists").status_code == 303
    token = ada.csrf()
    cases = [
        ("post", f"/papers/{paper}/save", {"csrf_token": token, "action": "explode"}),
        ("post", "/papers/9999.99999/save", {"csrf_token": token}),
        ("post", f"/papers/{paper}/save", {"csrf_token": token, "list": "nope-nope-nope"}),
        ("post", f"/papers/{paper}/save", {"csrf_token": token, "note": "x" * 6000}),
        ("post", "/lists", {"csrf_token": token, "name": "  "}),
        ("post", "/lists", {"csrf_token": token, "name": "a", "visibility": "secret"}),
        ("get", "/lists/short", None),
        ("get", "/lists/" + "a" * 65, None),
        ("get", "/lists/has.dots.in", None),
        ("get", "/lists/aaaaaaaaaaaa/export.pdf", None),
        ("get", "/lists/aaaaaaaaaaaa/feed.rss", None),
    ]
    for method, path, data in cases:
        response = getattr(ada.client, method)(path, data=data) if data else ada.client.get(path)
        assert 400 <= response.status_code < 500, (path, data, response.status_code)
    ada.client.post("/lists", data={"csrf_token": token, "name": "Twice"})
    again = ada.client.post("/lists", data={"csrf_token": token, "name": "Twice"})
    assert again.status_code == 409
    # Every owner's form needs the token too.
    mine = _list_token(ada, "Twice")
    for action, data in [
        ("edit", {"name": "Renamed", "visibility": "public"}),
        ("note", {"paper": paper, "note": "x"}),
        ("delete", {}),
    ]:
        response = ada.client.post(f"/lists/{mine}/{action}", data=data)
        assert response.status_code == 403, action
        forged = ada.client.post(f"/lists/{mine}/{action}", data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403, action
    assert ada.client.get(f"/lists/{mine}").status_code == 200  # still there, unchanged
    assert ada.client.post("/settings/delete", data={"password": "x"}).status_code == 403


def test_rate_limit_on_saves(
    make_member: Any, settings: Any, engine: Engine, known: dict[str, str]
) -> None:
    from dailypapers.web.app import create_app

    limited = settings.model_copy(update={"rate_limit_lists": "2/hour"})
    ada: Member = make_member("ada")
    with TestClient(create_app(limited, engine), follow_redirects=False) as web:
        web.cookies = ada.client.cookies
        token = ada.csrf()
        codes = [
            web.post(f"/papers/{known['attention']}/save", data={"csrf_token": token}).status_code
            for _ in range(3)
        ]
    assert codes == [303, 303, 429]


def test_export_keys_are_the_papers_own_in_few_queries(
    make_member: Any, engine: Engine, known: dict[str, str]
) -> None:
    from dailypapers.ingest.pipeline import run_ingest
    from tests.core.helpers import raw

    # A second paper with the same key base as "Attention Is All You Need": its key has a suffix.
    twin = raw("1707.00001", title="Attention Is All You Need", published="2026-06-02T12:00:00Z")
    run_ingest(engine=engine, source="t", params={"twin": 1}, records=lambda _: [twin])
    ada: Member = make_member("ada")
    for paper in [*known.values(), "1707.00001"]:
        _save(ada, paper, new_list="Keys")
    token = _list_token(ada, "Keys")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        bib = ada.client.get(f"/lists/{token}/export.bib").text
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) < 12  # not one query per paper
    keys = {
        entry.fields_dict["eprint"].value: entry.key
        for entry in bibtexparser.parse_string(bib).entries
    }
    for paper, key in keys.items():
        page = ada.client.get(f"/papers/{paper}.bib").text
        assert page.startswith(("@misc{" + key + ",", "@article{" + key + ",")), (paper, key)
    assert keys["1707.00001"] != keys["1706.03762"]


def test_list_addresses_stay_out_of_the_access_log(
    make_member: Any, client: TestClient, known: dict[str, str], caplog: Any
) -> None:
    import logging

    ada: Member = make_member("ada")
    _save(ada, known["attention"], new_list="Secret")
    token = _list_token(ada, "Secret")
    data = {"csrf_token": ada.csrf(), "name": "Secret", "visibility": "unlisted"}
    ada.client.post(f"/lists/{token}/edit", data=data)
    caplog.set_level(logging.INFO, logger="dailypapers.access")
    for path in (f"/lists/{token}", f"/lists/{token}.json", f"/api/lists/{token}"):
        assert client.get(path).status_code == 200
    assert ada.client.get("/lists/import").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "dailypapers.access"]
    assert len(lines) == 4 and all(token not in line for line in lines)
    assert any("/lists/[redacted].json" in line for line in lines)
    assert any("/lists/import" in line for line in lines)
