"""Issue 11's "go looking for the next ones": findings of a second review, each replayed
through the interface where it was found (HTTP, the CLI, migrations).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import IntegrityError

from dailypapers.community import accounts
from dailypapers.email import subscribers
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage import accounts as account_store
from dailypapers.storage import community as community_store
from dailypapers.storage import migrate
from dailypapers.storage import subscriptions as sub_store
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import comments, users
from dailypapers.web.app import create_app
from tests.community.conftest import (  # noqa: F401 - fixtures used by the tests below
    PASSWORD,
    Member,
    api_token,
    client,
    csrf_from,
    login,
    make_member,
    papers,
    settings,
    smtp,
)
from tests.core.helpers import raw
from tests.core.test_cli import run as run_cli

Make = Any
HOSTILE_MARKDOWN = "[" * 10_000  # about half a second to render, for one comment


def _no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(body: str) -> str:
        raise AssertionError("a page rendered a stored comment's Markdown")

    monkeypatch.setattr("dailypapers.queries.comments.render", refuse)


def test_comments_are_rendered_once_when_written_not_on_every_view(
    make_member: Make,  # noqa: F811 - the fixture imported above
    papers: list[str],  # noqa: F811
    client: TestClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A comment of hostile Markdown cost half a second of CPU on every view of its paper (page
    and API) per visitor; pages now show the HTML stored when it was written or edited."""
    ada: Member = make_member("ada")
    paper = papers[0]
    answer = ada.client.post(
        f"/papers/{paper}/comments", data={"csrf_token": ada.csrf(), "body": HOSTILE_MARKDOWN}
    )
    assert answer.status_code == 303
    posted = ada.client.post(
        f"/papers/{paper}/comments",
        data={"csrf_token": ada.csrf(), "body": "see [this](javascript:alert(1)) *now*"},
    )
    assert posted.status_code == 303
    comment_id = int(posted.headers["location"].rsplit("-", 1)[1])
    _no_rendering(monkeypatch)
    assert client.get(f"/papers/{paper}").status_code == 200
    listed = client.get(f"/api/papers/{paper}/comments").json()
    assert listed[0]["html"].count("[") == 10_000
    assert "<em>now</em>" in listed[1]["html"] and "href=" not in listed[1]["html"]
    monkeypatch.undo()
    edited = ada.client.post(
        f"/comments/{comment_id}/edit",
        data={"csrf_token": ada.csrf(f"/comments/{comment_id}/edit"), "body": "**edited**"},
    )
    assert edited.status_code == 303
    _no_rendering(monkeypatch)
    listed = client.get(f"/api/papers/{paper}/comments").json()
    assert listed[1]["html"].strip() == "<p><strong>edited</strong></p>"


def test_migration_renders_comments_stored_before_it(tmp_path: Path) -> None:
    """Comments written before the HTML was stored get it from the migration."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0005")
    # Rows as that schema holds them, written with SQL (today's code writes today's columns).
    now = dt.datetime.now(dt.UTC).isoformat()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO papers (id, version, title, abstract, authors, categories,"
            " primary_category, published_at, updated_at, content_hash, created_at, modified_at)"
            " VALUES ('2606.00001', 1, 'T', 'A', '[\"Ada\"]', '[\"cs.LG\"]', 'cs.LG',"
            " ?, ?, 'h', ?, ?)",
            (now, now, now, now),
        )
        conn.exec_driver_sql(
            "INSERT INTO users (username, display_name, created_at) VALUES ('ada', 'Ada', ?)",
            (now,),
        )
        user_id = conn.exec_driver_sql("SELECT id FROM users").scalar_one()
        conn.exec_driver_sql(
            "INSERT INTO comments (paper_id, user_id, body, created_at, hidden)"
            " VALUES ('2606.00001', ?, '*old*', ?, 0)",
            (user_id, now),
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(comments.c.html)).scalar_one().strip() == "<p><em>old</em></p>"
    engine.dispose()


def _signup(browser: TestClient, username: str, email: str) -> Any:
    token = csrf_from(browser, "/signup")
    return browser.post(
        "/signup",
        data={"csrf_token": token, "username": username, "email": email, "password": PASSWORD},
    )


class FirstCallSeesNothing:
    """A repository lookup whose first call finds nothing (a check made before a racing
    writer committed) and whose later calls are real."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        return None if self.calls == 1 else self.real(**kwargs)


def test_racing_signups_never_make_case_variant_usernames_or_a_telling_answer(
    client: TestClient,  # noqa: F811
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL two sign-ups at once both pass the (case-insensitive) checks before either
    inserts: ``alice`` and ``Alice`` both became accounts, and a registered email racing a new
    username was answered "That username is taken". The race is replayed by making the checks
    see nothing, as the second sign-up's did."""
    assert _signup(client, "alice", "alice@example.org").status_code == 200
    monkeypatch.setattr(account_store, "user_by_username", lambda **_: None)
    taken = _signup(client, "ALICE", "other@example.org")
    assert taken.status_code == 422 and "username is taken" in taken.text
    monkeypatch.setattr(
        account_store, "user_by_email", FirstCallSeesNothing(account_store.user_by_email)
    )
    registered = _signup(client, "brandnew", "alice@example.org")
    assert registered.status_code == 200 and "Check your inbox" in registered.text
    monkeypatch.undo()
    with engine.connect() as conn:
        names = conn.execute(select(users.c.username)).scalars().all()
    assert sorted(names) == ["alice"]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        account_store.create_user(
            conn=conn, username="Alice", email="third@example.org", password_hash="x"
        )


def test_migration_renames_case_variant_usernames_made_by_a_race(tmp_path: Path) -> None:
    """Duplicates made before the index existed do not stop the upgrade: the later one is
    renamed ``<name>-<id>``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0006")
    with engine.begin() as conn:
        for name in ("alice", "Alice"):
            account_store.create_user(
                conn=conn, username=name, email=f"{name}@example.org", password_hash=None
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        names = conn.execute(select(users.c.username).order_by(users.c.id)).scalars().all()
    assert names == ["alice", "Alice-2"]
    engine.dispose()


class CountingSplit:
    """``SPLIT`` that counts how many pieces of a preference list were looked at."""

    def __init__(self) -> None:
        self.seen = 0

    def split(self, value: str) -> Iterator[str]:
        """The pieces of ``value``, counted as they are taken."""
        for part in re.split(r"[,\n;]+", value):
            self.seen += 1
            yield part


def test_digest_preferences_with_thousands_of_items_are_refused_at_once(
    client: TestClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An anonymous subscribe form with 12,000 distinct keywords (48 KB) cost 11 s of
    quadratic de-duplication, on the event loop: the whole site stood still meanwhile, and the
    1 MB a body may have would have been hours. The list is now refused at its first item
    past the limit."""
    counting = CountingSplit()
    monkeypatch.setattr(subscribers, "SPLIT", counting)
    keywords = ",".join(f"k{n}" for n in range(12_000))
    answer = client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_from(client, "/subscribe"),
            "email": "reader@example.org",
            "keywords": keywords,
        },
    )
    assert answer.status_code == 400
    assert f"at most {subscribers.MAX_FOLLOWS} keywords" in answer.text
    # The (empty) categories list, then the keywords up to the first one too many.
    assert counting.seen <= 1 + subscribers.MAX_FOLLOWS + 1


class LoopWatch:
    """Records every SQL statement an engine runs on a thread with a running event loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.on_loop = engine, list[str]()

    def record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """The ``before_cursor_execute`` hook."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.on_loop.append(statement)

    def __enter__(self) -> LoopWatch:
        event.listen(self.engine, "before_cursor_execute", self.record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self.record)


def test_error_pages_wait_for_the_database_off_the_event_loop(
    engine: Engine,
    make_member: Make,  # noqa: F811
) -> None:
    """Error pages (404, 400, 405, refusals, 503) were ``async def`` handlers that render a page
    with the visitor's session, read from the database on the event loop: with the pool
    exhausted or the database down, each one stalled every request of the worker."""
    ada: Member = make_member("ada")
    with LoopWatch(engine) as watch:
        assert ada.client.get("/no/such/page").status_code == 404
        assert ada.client.get("/papers?date=not-a-date").status_code == 400
        assert ada.client.get("/comments/999/edit").status_code == 404
        assert ada.client.put("/settings").status_code == 405
    assert watch.on_loop == []


def test_form_handlers_wait_for_the_database_off_the_event_loop(
    client: TestClient,  # noqa: F811
    engine: Engine,
    make_member: Make,  # noqa: F811
) -> None:
    """The digest forms were ``async def`` handlers that then used the database (rate-limit
    write, subscription rows) on the event loop: while SQLite's write lock was held (an
    ingest), every request of the worker waited, /health included. Every statement of these
    forms now runs in the thread pool."""
    on_loop: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        on_loop.append(statement)

    ada: Member = make_member("ada")
    event.listen(engine, "before_cursor_execute", record)
    try:
        token = csrf_from(client, "/subscribe")
        subscribed = client.post(
            "/subscribe", data={"csrf_token": token, "email": "reader@example.org"}
        )
        assert subscribed.status_code == 200
        saved = ada.client.post(
            "/settings/email",
            data={"csrf_token": ada.csrf("/settings/email"), "keywords": "graphs"},
        )
        assert saved.status_code == 303
        assert ada.client.post("/unsubscribe", data={"token": "forged"}).status_code == 400
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert on_loop == []


def test_per_client_limits_count_an_ipv6_network_not_each_address(
    settings: Settings,  # noqa: F811
    engine: Engine,
) -> None:
    """Per-client limits (sign-up, log-in, reset, subscribe) were keyed on the full address: a
    host with an IPv6 /64 (any VPS) rotated addresses and was never limited. An IPv6 client is
    now counted by its /64; IPv4 (also mapped into IPv6) stays per address."""
    limited = settings.model_copy(update={"rate_limit_signup": "2/hour"})
    app = create_app(limited, engine)

    def signup_from(host: str, n: int) -> int:
        with TestClient(app, follow_redirects=False, client=(host, 50000)) as browser:
            return int(_signup(browser, f"user{n}", f"user{n}@example.org").status_code)

    answers = [signup_from(f"2001:db8:1:2::{n:x}", n) for n in range(1, 4)]
    assert answers == [200, 200, 429]
    assert signup_from("2001:db8:1:3::1", 4) == 200  # another /64
    assert [signup_from(h, n) for n, h in enumerate(["::ffff:192.0.2.7", "192.0.2.7"], 5)] == [
        200,
        200,
    ]
    assert signup_from("192.0.2.7", 7) == 429


def test_a_user_holds_a_bounded_number_of_api_tokens(
    make_member: Make,  # noqa: F811
    engine: Engine,
    cli_env: dict[str, str],
) -> None:
    """Creating API tokens from the settings page had no limit: one account could add rows
    without end (each also a line of its settings page). Past MAX_TOKENS the form answers 422
    and the CLI a one-line error, until a token is revoked."""
    ada: Member = make_member("ada")
    with engine.begin() as conn:
        for _ in range(accounts.MAX_TOKENS - 1):
            accounts.create_api_token(conn, user_id=ada.id, name="bulk")
    last = ada.client.post("/settings/tokens", data={"csrf_token": ada.csrf(), "name": "last"})
    assert last.status_code == 200 and "dp_" in last.text
    refused = ada.client.post("/settings/tokens", data={"csrf_token": ada.csrf(), "name": "x"})
    assert refused.status_code == 422 and "Revoke one" in refused.text
    assert "Revoke one" in run_cli("token", "create", ada.email, ok=False)
    with engine.connect() as conn:
        assert account_store.count_tokens(conn=conn, user_id=ada.id) == accounts.MAX_TOKENS


def test_digest_settings_sent_twice_at_once_update_instead_of_failing(
    make_member: Make,  # noqa: F811
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A double-click on the digest settings form: on PostgreSQL both requests saw no
    subscription and both inserted one; the second died on the unique email (a 500). Replayed
    by letting the second request's checks see nothing, as they did in the race."""
    ada: Member = make_member("ada")
    first = ada.client.post(
        "/settings/email", data={"csrf_token": ada.csrf("/settings/email"), "keywords": "graphs"}
    )
    assert first.status_code == 303
    monkeypatch.setattr(sub_store, "by_user", FirstCallSeesNothing(sub_store.by_user))
    monkeypatch.setattr(sub_store, "by_email", FirstCallSeesNothing(sub_store.by_email))
    second = ada.client.post(
        "/settings/email", data={"csrf_token": ada.csrf("/settings/email"), "keywords": "trees"}
    )
    assert second.status_code == 303
    monkeypatch.undo()
    with engine.connect() as conn:
        row = sub_store.by_user(conn=conn, user_id=ada.id)
    assert row is not None and row["keywords"] == ["trees"]


class GatedSlots:
    """Stands in for the hashing semaphore: counts the callers that reached it, and the ones
    inside, each held until ``release`` is set."""

    def __init__(self, real: threading.BoundedSemaphore) -> None:
        self.real, self.arrived, self.inside, self.most = real, 0, 0, 0
        self.changed = threading.Condition()
        self.release = threading.Event()

    def __enter__(self) -> None:
        with self.changed:
            self.arrived += 1
            self.changed.notify_all()
        self.real.acquire()
        with self.changed:
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.changed.notify_all()
        self.release.wait()

    def __exit__(self, *exc: object) -> None:
        with self.changed:
            self.inside -= 1
        self.real.release()


def test_concurrent_log_ins_hash_a_bounded_number_of_passwords_at_once(
    client: TestClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each argon2 hash holds 64 MiB while it runs: 40 log-in attempts at once from 40 addresses
    raised a worker from 0.6 to 1.4 GiB on a 2-core machine (up to 2.5 GiB with the whole
    thread pool). At most HASH_SLOTS hashes run at once; the other attempts wait."""
    attempts = 3 * accounts.HASH_SLOTS
    gate = GatedSlots(accounts.HASHING)
    monkeypatch.setattr(accounts, "HASHING", gate)
    token = csrf_from(client, "/login")
    answers: list[int] = []

    def attempt(n: int) -> None:
        data = {"csrf_token": token, "email": f"nobody{n}@example.org", "password": "x" * 12}
        answers.append(client.post("/login", data=data).status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    try:
        with gate.changed:  # every attempt has reached the hashing step
            assert gate.changed.wait_for(
                lambda: gate.arrived == attempts and gate.inside == accounts.HASH_SLOTS,
                timeout=60,  # only a failure waits this long
            )
    finally:
        gate.release.set()
        for thread in threads:
            thread.join()
    assert answers == [401] * attempts
    assert gate.most == accounts.HASH_SLOTS


def test_guessing_the_current_password_in_settings_is_rate_limited(
    settings: Settings,  # noqa: F811
    engine: Engine,
) -> None:
    """The change-password form checked the current password with no limit: whoever held a
    session cookie (a shared computer, a stolen cookie) could try passwords without end and
    learn the real one. Its guesses now share the account's log-in limit."""
    limited = settings.model_copy(update={"rate_limit_login": "3/hour"})
    with engine.begin() as conn:
        accounts.create_user(conn, email="ada@example.org", password=PASSWORD, username="ada")
    with TestClient(create_app(limited, engine), follow_redirects=False) as browser:
        login(browser, "ada@example.org")

        def guess(current: str) -> int:
            data = {"csrf_token": csrf_from(browser, "/settings"), "current": current}
            data["password"] = "a new long password"
            return int(browser.post("/settings/password", data=data).status_code)

        assert [guess(f"guess {n}") for n in range(2)] == [422, 422]
        assert guess(PASSWORD) == 429  # the fourth try of the hour, right or not


def test_strangers_guessing_passwords_cannot_lock_the_owner_out(
    settings: Settings,  # noqa: F811
    engine: Engine,
) -> None:
    """The per-account log-in limit counted every attempt from anywhere: ten wrong passwords a
    minute from anyone kept an account's owner (an admin) locked out for good. A browser that
    logged in to the account before is not held back by the account's limit (only by its own
    address's); a browser new to the account still is."""
    limited = settings.model_copy(update={"rate_limit_login": "3/hour"})
    with engine.begin() as conn:
        accounts.create_user(conn, email="ada@example.org", password=PASSWORD, username="ada")
    app = create_app(limited, engine)

    def attempt(browser: TestClient, password: str) -> int:
        data = {"csrf_token": csrf_from(browser, "/login"), "email": "ada@example.org"}
        data |= {"password": password, "next": "/"}
        return int(browser.post("/login", data=data).status_code)

    with (
        TestClient(app, follow_redirects=False, client=("192.0.2.1", 1)) as owner,
        TestClient(app, follow_redirects=False, client=("198.51.100.1", 1)) as stranger,
        TestClient(app, follow_redirects=False, client=("203.0.113.1", 1)) as new_device,
    ):
        assert attempt(owner, PASSWORD) == 303
        assert [attempt(stranger, "wrong password") for _ in range(3)] == [401, 401, 429]
        owner.cookies.delete("dp_session")
        assert attempt(owner, PASSWORD) == 303  # the account's limit is spent, not for it
        assert attempt(new_device, PASSWORD) == 429


def test_a_reply_written_while_its_parent_is_deleted_is_kept(engine: Engine) -> None:
    """On PostgreSQL a comment deleted while a reply to it was being written counted no replies
    (the reply was not committed yet), so it was deleted outright and the database's cascade
    then removed the reply, whose author had been told it was stored. The reply now holds its
    parent until it commits, and the deletion counts it (the parent is blanked instead)."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: the two transactions cannot overlap")
    run_ingest(engine=engine, source="t", params={}, records=lambda _: [raw("2606.00001")])
    with engine.begin() as conn:
        ada = accounts.create_user(conn, email="ada@example.org", password=PASSWORD)
        parent = community_store.add_comment(
            conn=conn, paper_id="2606.00001", user_id=ada["id"], body="p", html="p", parent_id=None
        )
    with engine.connect() as replying:
        with replying.begin():
            assert community_store.get_comment(conn=replying, comment_id=parent, lock=True)
            reply = community_store.add_comment(
                conn=replying,
                paper_id="2606.00001",
                user_id=ada["id"],
                body="r",
                html="r",
                parent_id=parent,
            )

            def delete() -> None:
                with engine.begin() as conn:
                    community_store.delete_comment(conn=conn, comment_id=parent)

            deleting = threading.Thread(target=delete)
            deleting.start()
            with engine.connect() as watch:  # the deletion waits for the reply's transaction
                waiting = text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                while not watch.execute(waiting).scalar_one():
                    watch.rollback()
        deleting.join()
    with engine.connect() as conn:
        kept = community_store.get_comment(conn=conn, comment_id=reply)
        blanked = community_store.get_comment(conn=conn, comment_id=parent)
    assert kept is not None and blanked is not None and blanked["deleted_at"] is not None


def test_display_names_cannot_reverse_the_username_shown_after_them(
    make_member: Make,  # noqa: F811
    papers: list[str],  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """A display name ending in U+202E (right-to-left override) made the "@username" printed
    after it on every comment read backwards (user "ssob" showed as "boss"), and terminal
    escapes went into the "Hello ..." of account mail. Display names keep neither."""
    ssob: Member = make_member("ssob")
    saved = ssob.client.post(
        "/settings/profile",
        data={"csrf_token": ssob.csrf(), "display_name": "Boss \u202e\x1b[2J \u2066x\u2069"},
    )
    assert saved.status_code == 303
    posted = ssob.client.post(
        f"/papers/{papers[0]}/comments", data={"csrf_token": ssob.csrf(), "body": "hello"}
    )
    assert posted.status_code == 303
    author = client.get(f"/api/papers/{papers[0]}/comments").json()[0]["author"]
    assert author == {"user": "ssob", "fullname": "Boss x"}
    page = client.get(f"/papers/{papers[0]}").text
    assert "\u202e" not in page and "\x1b" not in page


def test_trailing_slash_redirects_never_name_the_request_host(
    client: TestClient,  # noqa: F811
) -> None:
    """``GET /trending/`` with a forged ``Host: evil.example`` was redirected to
    ``http://evil.example/trending``: the trailing-slash redirect took the host from the
    request. Redirects to the site are now paths."""
    for path, target in (("/trending/", "/trending"), ("/users/ada/", "/users/ada")):
        answer = client.get(path, headers={"host": "evil.example"})
        assert answer.status_code in (307, 308) and answer.headers["location"] == target
    # A path a browser would read as a host keeps the configured site in front of it.
    answer = client.get("//evil.example/trending/", headers={"host": "evil.example"})
    assert not answer.headers.get("location", "/").startswith(("//", "http://evil"))
