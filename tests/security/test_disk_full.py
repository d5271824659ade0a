"""Issue 11, item 7: when storage is full, writes answer a clear 503 (page or JSON, with
Retry-After), ``/health`` says so, and nothing already stored is damaged."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text

from dailypapers.community import accounts
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import comments
from dailypapers.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_from, login
from tests.core.helpers import raw

PAPER = "2606.00001"
LONG = "A comment long enough to need new pages. " * 240  # about 10 KB


def seed(engine: Engine) -> str:
    """A paper and a member with an API token; returns the token."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "disk-full"},
        records=lambda _: [raw(PAPER, day=today)],
        explicit_days=True,
    )
    with engine.begin() as conn:
        user = accounts.create_user(
            conn, email="ada@example.org", password=PASSWORD, username="ada"
        )
        return accounts.create_api_token(conn, user_id=user["id"], name="test")


def stored_comments(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(comments)).scalar_one())


def assert_intact(engine: Engine, expected_comments: int) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    assert stored_comments(engine) == expected_comments


def assert_full_answers(client: TestClient, token: str) -> None:
    """A write through the API and one through a page form both get a clear 503."""
    api = client.post(
        f"/api/papers/{PAPER}/comments",
        json={"body": LONG},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 503, api.text
    assert "storage is full" in api.json()["error"] and api.headers["retry-after"]
    form = client.post(
        f"/papers/{PAPER}/comments",
        data={"csrf_token": client.headers.get("x-test-csrf", ""), "body": LONG},
    )
    assert form.status_code == 503, form.text
    assert "storage is full" in form.text and "Nothing you sent was saved" in form.text
    assert form.headers["retry-after"] and "text/html" in form.headers["content-type"]
    health = client.get("/health").json()
    assert health["status"] == "degraded" and health["storage"]["state"] == "full"
    assert "full" in health["storage"]["last_full_error"]["error"]


def logged_in(settings: Settings, engine: Engine) -> TestClient:
    client = TestClient(create_app(settings, engine), follow_redirects=False)
    client.__enter__()
    login(client, "ada@example.org")
    client.headers["x-test-csrf"] = csrf_from(client, f"/papers/{PAPER}")
    return client


def test_a_full_database_answers_503_and_keeps_its_data(settings: Settings, engine: Engine) -> None:
    """SQLite's max_page_count makes the database full without a full disk (always runs)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("max_page_count is SQLite's; the tmpfs test below fills a real disk")
    settings = settings.model_copy(update={"rate_limit_comment": "off"})
    token = seed(engine)
    client = logged_in(settings, engine)
    try:
        first = client.post(
            f"/api/papers/{PAPER}/comments",
            json={"body": "Stored before the disk filled up."},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert first.status_code == 201, first.text

        def cap(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

        engine.dispose()
        event.listen(engine, "connect", cap)
        try:
            assert_full_answers(client, token)
        finally:
            event.remove(engine, "connect", cap)
            engine.dispose()
        assert_intact(engine, 1)
        again = client.post(
            f"/api/papers/{PAPER}/comments",
            json={"body": LONG},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert again.status_code == 201, again.text
        assert_intact(engine, 2)
    finally:
        client.__exit__(None, None, None)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs (needs root and permission to mount; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system has no space left (unbuffered, so nothing is
    left to fail on close)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 64 << 10, 4 << 10, 512):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(descriptor)


def test_a_full_disk_answers_503_and_keeps_its_data(
    small_disk: Path, sqlite_template: Path
) -> None:
    """A real file system with no space left (SQLite on a filled tmpfs)."""
    database = small_disk / "dailypapers.sqlite3"
    shutil.copy(sqlite_template, database)
    settings = Settings(
        data_dir=small_disk / "data",
        database_url=f"sqlite:///{database}",
        arxiv_request_interval=0,
        rate_limit_comment="off",
    )
    engine = make_engine(settings.database_url)
    try:
        token = seed(engine)
        client = logged_in(settings, engine)
        try:
            first = client.post(
                f"/api/papers/{PAPER}/comments",
                json={"body": "Stored before the disk filled up."},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert first.status_code == 201, first.text
            filler = small_disk / "filler"
            fill(filler)
            # SQLite reuses free pages and WAL space first: write until the disk refuses.
            saved = 1
            for _ in range(200):
                answer = client.post(
                    f"/api/papers/{PAPER}/comments",
                    json={"body": LONG},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status_code in (201, 503), answer.text
                if answer.status_code == 503:
                    break
                saved += 1
            assert answer.status_code == 503
            assert_full_answers(client, token)
            assert client.get("/health").json()["storage"]["free_bytes"] < 1 << 20

            filler.unlink()
            engine.dispose()
            assert_intact(engine, saved)
            again = client.post(
                f"/api/papers/{PAPER}/comments",
                json={"body": "Written once space came back."},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert again.status_code == 201, again.text
            assert_intact(engine, saved + 1)
        finally:
            client.__exit__(None, None, None)
    finally:
        engine.dispose()


def test_a_database_that_does_not_answer_gets_503_not_500(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """The generic case: any database that cannot do its work now (here: unreachable)."""
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path}"  # a folder: SQLite cannot open it
    else:
        url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    down = make_engine(url)
    try:
        with TestClient(create_app(settings, down)) as client:
            for path in ("/", "/papers/2606.00001", "/search?q=graphs"):
                answer = client.get(path)
                assert answer.status_code == 503, (path, answer.text)
                assert "database is not answering" in answer.text
                assert answer.headers["retry-after"]
            api = client.get("/api/daily_papers")
            assert api.status_code == 503 and "not answering" in api.json()["error"]
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "error"
    finally:
        down.dispose()
