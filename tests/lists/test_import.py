"""Importing a library: matching by arXiv id, DOI and title, the report page, a 10,000-entry
file imported with progress (the job driven explicitly), hostile uploads, size and rate
limits, CSRF."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.library.imports import run_import, start_import
from dailypapers.storage import library, lists
from dailypapers.web.app import create_app
from tests.community.conftest import Member

FIXTURES = Path(__file__).parent / "fixtures"


class Manual:
    """An import worker that runs nothing until the test says so."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queued: list[int] = []
        self.stale_before: dict[int, dt.datetime | None] = {}

    def submit(self, import_id: int, stale_before: dt.datetime | None = None) -> None:
        self.queued.append(import_id)
        self.stale_before[import_id] = stale_before

    def run(self) -> None:
        while self.queued:
            import_id = self.queued.pop(0)
            run_import(self.engine, import_id, stale_before=self.stale_before.get(import_id))


def _manual(member: Member, engine: Engine) -> Manual:
    worker = Manual(engine)
    member.client.app.state.library_worker = worker  # type: ignore[attr-defined]
    return worker


def _upload(member: Member, name: str, payload: bytes, **headers: str) -> Any:
    token = member.csrf("/lists/import")
    return member.client.post(
        "/lists/import",
        data={"csrf_token": token},
        files={"file": (name, payload, "application/octet-stream")},
        headers=headers,
    )


def test_zotero_import_matches_by_id_doi_and_title(
    make_member: Any, engine: Engine, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    worker = _manual(ada, engine)
    response = _upload(ada, "My Library.bib", (FIXTURES / "zotero.bib").read_bytes())
    assert response.status_code == 303
    progress = response.headers["location"]
    assert re.fullmatch(r"/lists/imports/\d+", progress)
    waiting = ada.client.get(progress)
    assert "Waiting to start" in waiting.text and 'http-equiv="refresh"' in waiting.text
    worker.run()
    report = ada.client.get(progress).text
    assert 'http-equiv="refresh"' not in report
    assert "Done: 5 of 8 references matched" in report
    matched = report.split("Not on this site")[0]
    for paper in ("1706.03762", "1810.04805", "2005.14165", "hep-th/9711200", "2203.15556"):
        assert f'href="/papers/{paper}"' in matched
    assert "arXiv id</td>" in matched and "DOI</td>" in matched and "title</td>" in matched
    unmatched = report.split("Not on this site")[1]
    assert "Über die Schrödinger-Gleichung in Cafés" in unmatched
    assert "Deep learning" in unmatched and "Learning Transferable Visual Models" in unmatched
    # The matched papers are on a new private list named after the file.
    with engine.connect() as conn:
        mine = lists.user_lists(conn=conn, user_id=ada.id)
        assert [(m["name"], m["visibility"], m["size"]) for m in mine] == [
            ("Imported: My Library.bib", "private", 5)
        ]
        assert lists.saved_paper_ids(conn=conn, user_id=ada.id) == set(known.values())
        # The whole library is kept for "For you", matched or not, with abstracts.
        entries = library.imported_entries(conn=conn, user_id=ada.id)
    assert len(entries) == 8
    attention = next(e for e in entries if e["arxiv_id"] == "1706.03762")
    assert attention["abstract"].startswith("The dominant") and attention["matched_by"] == "arxiv"
    assert sum(1 for e in entries if e["paper_id"] is None) == 3
    status = ada.client.get(progress + ".json").json()
    assert status["status"] == "done" and status["total"] == 8 and status["matched"] == 5


def test_ris_csl_and_id_lists(make_member: Any, engine: Engine, known: dict[str, str]) -> None:
    ada: Member = make_member("ada")
    worker = _manual(ada, engine)
    _upload(ada, "export.ris", (FIXTURES / "mendeley.ris").read_bytes())
    _upload(ada, "export.json", (FIXTURES / "zotero.csl.json").read_bytes())
    worker.run()
    _upload(ada, "ids.txt", b"2005.14165\n10.18653/v1/N19-1423\n")
    worker.run()
    with engine.connect() as conn:
        imports = {i["filename"]: i for i in library.user_imports(conn=conn, user_id=ada.id)}
    assert {k: (v["format"], v["total"], v["matched"]) for k, v in imports.items()} == {
        "export.ris": ("ris", 3, 2),
        "export.json": ("csl-json", 3, 1),
        "ids.txt": ("ids", 2, 2),
    }


def test_ten_thousand_entries_import_with_progress(
    make_member: Any, engine: Engine, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    entries = [
        f"@article{{key{n},\n  title = {{A study of thing number {n}}},\n"
        f"  author = {{Doe, Jane and Roe, Richard}},\n  year = {{2020}},\n"
        f"  abstract = {{Abstract {n} with {{braces}} and accents {{\\'e}}.}},\n}}\n"
        for n in range(9_998)
    ]
    entries.append("@misc{a, eprint = {1706.03762}, archivePrefix = {arXiv}, title = {A}}\n")
    entries.append("@misc{b, doi = {10.18653/v1/N19-1423}, title = {B}}\n")
    payload = "".join(entries).encode()
    assert len(payload) > 1024 * 1024  # over the ordinary body limit: uploads have their own
    worker = _manual(ada, engine)
    response = _upload(ada, "big.bib", payload)
    assert response.status_code == 303
    (import_id,) = worker.queued
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int) -> None:
        # What the progress page shows between batches, read while the import runs.
        page = ada.client.get(f"/lists/imports/{import_id}").text
        shown = re.search(r"Reading (\d+) of (\d+) references", page)
        assert shown, page
        seen.append((int(shown.group(1)), int(shown.group(2)), str(done)))

    run_import(engine, worker.queued.pop(), progress=progress)
    assert len(seen) == 20
    assert seen[0][:2] == (500, 10_000) and seen[-1][:2] == (10_000, 10_000)
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    final = ada.client.get(f"/lists/imports/{import_id}.json").json()
    assert (final["status"], final["total"], final["matched"]) == ("done", 10_000, 2)
    with engine.connect() as conn:
        assert len(library.imported_entries(conn=conn, user_id=ada.id)) == 10_000


def test_the_background_worker_runs_an_import(
    make_member: Any, engine: Engine, known: dict[str, str]
) -> None:
    ada: Member = make_member("ada")
    response = _upload(ada, "ids.txt", b"1706.03762\n")
    assert response.status_code == 303
    worker = ada.client.app.state.library_worker  # type: ignore[attr-defined]
    worker.shutdown()  # waits for the queued import
    status = ada.client.get(response.headers["location"] + ".json").json()
    assert status["status"] == "done" and status["matched"] == 1


def test_hostile_uploads_fail_clearly(make_member: Any, engine: Engine) -> None:
    ada: Member = make_member("ada")
    worker = _manual(ada, engine)
    cases = {
        "binary.bib": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 10, "not a text file"),
        "broken.bib": (b"@article{x, title={never closed\n", "No references"),
        "huge.bib": (b"@article{x, title={" + b"a" * 150_000 + b"}}", "No references"),
        "bad.json": (b'[{"title": 1', "not valid JSON"),
        "words.txt": (b"hello world\n", "No references"),
    }
    for name, (payload, _) in cases.items():
        assert _upload(ada, name, payload).status_code == 303
        worker.run()
    with engine.connect() as conn:
        imports = {i["filename"]: i for i in library.user_imports(conn=conn, user_id=ada.id)}
    for name, (_, message) in cases.items():
        row = imports[name]
        assert row["status"] == "failed" and message in row["error"], (name, row["error"])
        page = ada.client.get(f"/lists/imports/{row['id']}")
        assert page.status_code == 200 and message in page.text
    # Empty or missing file: refused at once.
    assert _upload(ada, "empty.bib", b"  \n").status_code == 422
    token = ada.csrf("/lists/import")
    assert ada.client.post("/lists/import", data={"csrf_token": token}).status_code == 422


def test_upload_limits_csrf_and_access(
    make_member: Any, settings: Any, engine: Engine, client: TestClient
) -> None:
    ada: Member = make_member("ada")
    bob: Member = make_member("bob")
    worker = _manual(ada, engine)
    # No CSRF token, or a foreign origin: refused.
    files = {"file": ("x.bib", b"1706.03762", "text/plain")}
    assert ada.client.post("/lists/import", files=files).status_code == 403
    token = ada.csrf("/lists/import")
    foreign = {"Origin": "https://evil.example"}
    response = ada.client.post(
        "/lists/import", data={"csrf_token": token}, files=files, headers=foreign
    )
    assert response.status_code == 403
    # Anonymous visitors are sent to log in.
    assert client.get("/lists/import").status_code == 303
    # Too large: 413 with a message, before the body is read.
    small = settings.model_copy(update={"import_max_kb": 1})
    with TestClient(create_app(small, engine), follow_redirects=False) as web:
        web.cookies = ada.client.cookies
        response = web.post(
            "/lists/import",
            data={"csrf_token": token},
            files={"file": ("big.bib", b"x" * 4096, "text/plain")},
        )
        assert response.status_code == 413 and "too large" in response.text
    # Someone else's import is not found.
    assert _upload(ada, "ids.txt", b"1706.03762").status_code == 303
    import_id = worker.queued[0]
    assert bob.client.get(f"/lists/imports/{import_id}").status_code == 404
    assert bob.client.get(f"/lists/imports/{import_id}.json").status_code == 404
    assert ada.client.get("/lists/imports/99999999999").status_code == 400
    assert ada.client.get("/lists/imports/abc").status_code == 400
    # At most two imports waiting at once.
    assert _upload(ada, "2.txt", b"1706.03762").status_code == 303
    assert _upload(ada, "3.txt", b"1706.03762").status_code == 429


def test_rate_limit_on_imports(make_member: Any, settings: Any, engine: Engine) -> None:
    limited = settings.model_copy(update={"rate_limit_import": "1/hour"})
    ada: Member = make_member("ada")
    with TestClient(create_app(limited, engine), follow_redirects=False) as web:
        web.app.state.library_worker = Manual(engine)  # type: ignore[attr-defined]
        web.cookies = ada.client.cookies
        token = ada.csrf("/lists/import")
        codes = [
            web.post(
                "/lists/import",
                data={"csrf_token": token},
                files={"file": ("ids.txt", b"1706.03762", "text/plain")},
            ).status_code
            for _ in range(2)
        ]
    assert codes == [303, 429]


def test_start_import_directly(engine: Engine, make_member: Any, known: dict[str, str]) -> None:
    ada: Member = make_member("ada")
    import_id = start_import(engine, user_id=ada.id, filename="x.txt", payload=b"1706.03762")
    run_import(engine, import_id)
    run_import(engine, import_id)  # a second run changes nothing
    with engine.connect() as conn:
        row = library.get_import(conn=conn, import_id=import_id)
        assert row is not None and row["status"] == "done" and row["matched"] == 1
        assert library.import_payload(conn=conn, import_id=import_id) is None
        assert len(library.imported_entries(conn=conn, user_id=ada.id)) == 1


def test_an_import_whose_server_restarted_is_resumed_once(
    make_member: Any, engine: Engine, known: dict[str, str]
) -> None:
    from sqlalchemy import update

    from dailypapers.storage.schema import library_imports

    ada: Member = make_member("ada")
    # Queued on a server that stopped before running it.
    import_id = start_import(engine, user_id=ada.id, filename="x.txt", payload=b"1706.03762")
    worker = _manual(ada, engine)
    assert "Waiting to start" in ada.client.get(f"/lists/imports/{import_id}").text
    assert worker.queued == []  # fresh: its own worker may still come
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(update(library_imports).values(updated_at=old))
    ada.client.get(f"/lists/imports/{import_id}")
    ada.client.get(f"/lists/imports/{import_id}")
    assert worker.queued == [import_id, import_id]
    worker.run()  # the second run finds it claimed and does nothing
    with engine.connect() as conn:
        assert len(library.imported_entries(conn=conn, user_id=ada.id)) == 1
        assert len(lists.user_lists(conn=conn, user_id=ada.id)) == 1
    assert ada.client.get(f"/lists/imports/{import_id}.json").json()["status"] == "done"


class Crash(BaseException):
    """The process dying between two batches (not an error the import could record)."""


def test_an_import_stopped_midway_goes_on_from_its_last_batch(
    make_member: Any, engine: Engine, known: dict[str, str]
) -> None:
    """A server that dies while importing leaves the import running with its batches so far;
    once it has not moved for a while, the progress page hands it to another worker, which
    goes on after the last committed batch: every reference stored once, one list."""
    from sqlalchemy import update

    from dailypapers.storage.schema import library_imports

    ada: Member = make_member("ada")
    lines = [f"10.9999/example.{n}" for n in range(1_199)] + ["1706.03762"]
    import_id = start_import(
        engine, user_id=ada.id, filename="ids.txt", payload="\n".join(lines).encode()
    )

    def die_after_two_batches(done: int, total: int) -> None:
        if done == 1_000:
            raise Crash

    with pytest.raises(Crash):
        run_import(engine, import_id, progress=die_after_two_batches)
    with engine.connect() as conn:
        row = library.get_import(conn=conn, import_id=import_id)
        assert row is not None and (row["status"], row["processed"]) == ("running", 1_000)
        assert library.import_payload(conn=conn, import_id=import_id) is not None
    worker = _manual(ada, engine)
    ada.client.get(f"/lists/imports/{import_id}")
    assert worker.queued == []  # it moved a moment ago: its own worker may still be at it
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(update(library_imports).values(updated_at=old))
    ada.client.get(f"/lists/imports/{import_id}")
    ada.client.get(f"/lists/imports/{import_id}")
    assert worker.queued == [import_id, import_id]
    worker.run()  # the second run finds it taken over (and then done) and does nothing
    final = ada.client.get(f"/lists/imports/{import_id}.json").json()
    assert (final["status"], final["total"], final["matched"]) == ("done", 1_200, 1)
    with engine.connect() as conn:
        entries = library.imported_entries(conn=conn, user_id=ada.id)
        assert len(entries) == 1_200
        assert len(lists.user_lists(conn=conn, user_id=ada.id)) == 1
        assert library.import_payload(conn=conn, import_id=import_id) is None
