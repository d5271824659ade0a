"""The demo a newcomer sees: labelled generated activity, trending and previews "as of" the
sample's last day, offline submissions, links that follow the served address, and the
confirmation link shown on the page when mail only goes to the outbox folder (issue 14)."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from dailypapers.cli import cli
from dailypapers.cli.serve import served_base_url
from dailypapers.community import actions
from dailypapers.demo import load_sample
from dailypapers.demo_activity import DEMO_USERS, UNLISTED, demo_upvotes
from dailypapers.email import subscribers, tokens
from dailypapers.email.preview import next_digest
from dailypapers.mailer import Mailer, new_message
from dailypapers.settings import Settings
from dailypapers.storage import accounts
from dailypapers.storage.schema import comments, daily_entries, papers, users, votes
from dailypapers.web.app import create_app

SAMPLE_SIZE = 3187
LAST_DAY = dt.date(2026, 6, 30)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def scalar(engine: Engine, query):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


@pytest.fixture
def demo_settings(settings: Settings) -> Settings:
    """The demo's settings (keyword search only: the sample's vectors are not needed here)."""
    return settings.model_copy(update={"semantic_search": False, "demo_as_of": LAST_DAY})


@pytest.fixture
def demo_site(engine: Engine, demo_settings: Settings) -> Engine:
    report = load_sample(engine, demo_settings)
    assert report.ingest.rejected == 0 and report.as_of == LAST_DAY
    return engine


@pytest.fixture
def demo_client(demo_site: Engine, demo_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings, demo_site)) as client:
        yield client


def test_demo_activity_is_generated_labelled_and_loaded_once(
    demo_site: Engine, demo_settings: Settings
) -> None:
    listed = scalar(demo_site, select(func.count()).select_from(daily_entries))
    assert listed == SAMPLE_SIZE - UNLISTED  # a few papers left for Submit
    assert scalar(demo_site, select(func.count()).select_from(papers)) == SAMPLE_SIZE
    voted = scalar(demo_site, select(func.count()).where(papers.c.upvotes > 0))
    top = scalar(demo_site, select(func.max(papers.c.upvotes)))
    assert voted > SAMPLE_SIZE // 2 and top >= 50  # spread like real votes, not all 0
    names = scalar(demo_site, select(func.count()).where(users.c.display_name.like("%(demo%")))
    assert names == len(DEMO_USERS)
    with demo_site.connect() as conn:
        bodies = conn.execute(select(comments.c.body)).scalars().all()
    assert bodies and all(body.startswith("*Demo comment") for body in bodies)
    before = scalar(demo_site, select(func.sum(papers.c.upvotes)))
    again = load_sample(demo_site, demo_settings)
    assert again.activity == "demo activity already there" and again.ingest.new == 0
    assert scalar(demo_site, select(func.sum(papers.c.upvotes))) == before
    assert scalar(demo_site, select(func.count()).select_from(votes)) > 0


def test_generated_upvotes_are_stable_and_heavy_tailed() -> None:
    counts = [demo_upvotes(f"2606.{n:05d}") for n in range(2000)]
    assert counts == [demo_upvotes(f"2606.{n:05d}") for n in range(2000)]
    assert sorted(counts)[len(counts) // 2] <= 3 and max(counts) >= 100


def test_trending_ranks_by_votes_as_of_the_sample_and_says_it_is_a_demo(
    demo_client: TestClient,
) -> None:
    page = demo_client.get("/trending")  # one day: every paper the same age
    assert page.status_code == 200
    assert "Demo site" in page.text and "generated demo data" in page.text
    shown = [int(n) for n in re.findall(r'<span class="count">(\d+)</span>', page.text)]
    assert len(shown) >= 10 and shown[:10] == sorted(shown[:10], reverse=True)
    assert shown[0] > 0
    home = demo_client.get("/")
    # The digest box is near the top of the home page, not after the list.
    assert home.text.index('class="subscribe-box"') < home.text.index('class="cards"')


def test_digest_preview_is_not_empty_as_of_the_sample(
    demo_client: TestClient, demo_site: Engine, demo_settings: Settings
) -> None:
    row, _ = subscribers.request(
        demo_site,
        email="reader@example.org",
        prefs=subscribers.preferences(categories="cs.LG"),
        settings=demo_settings,
    )
    assert next_digest(demo_site, row).empty  # today: the sample is months old
    token = tokens.link_token(demo_settings, "preferences", row)
    preview = demo_client.get(f"/subscription/preview?token={token}")
    assert preview.status_code == 200 and "Nothing to send" not in preview.text


def test_an_unlisted_sample_paper_can_be_submitted_offline(
    demo_site: Engine, demo_settings: Settings
) -> None:
    with demo_site.begin() as conn:
        user_id = accounts.create_user(
            conn=conn,
            username="newcomer",
            email="n@example.org",
            password_hash=None,
            verified=True,
        )
        user = accounts.user_by_id(conn=conn, user_id=user_id)
        listed = select(daily_entries.c.paper_id)
        unlisted = (
            conn.execute(select(papers.c.id).where(papers.c.id.not_in(listed))).scalars().all()
        )
    assert len(unlisted) == UNLISTED

    def offline(paper_id: str) -> list[object]:
        raise AssertionError(f"the demo fetched {paper_id} from arXiv")

    done = actions.submit(
        demo_site,
        user,
        unlisted[0],
        fetch=offline,  # type: ignore[arg-type]
        window_days=demo_settings.submit_window_days,
        today=demo_settings.now().date(),
    )
    assert done.day == LAST_DAY and not done.fetched


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match
    return match.group(1)


def test_check_your_inbox_shows_the_outbox_link_in_the_demo_only(
    demo_client: TestClient, demo_settings: Settings, demo_site: Engine
) -> None:
    form = {"username": "newbie", "email": "newbie@example.org", "password": "long enough pw"}
    answer = demo_client.post("/signup", data={**form, "csrf_token": _csrf(demo_client, "/signup")})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert re.search(r'href="http://[^"]+/verify\?token=', answer.text)
    # The same address again: its owner is mailed, the page shows no link (nor a reset link).
    again = demo_client.post(
        "/signup",
        data={**form, "username": "newbie2", "csrf_token": _csrf(demo_client, "/signup")},
    )
    assert "Check your inbox" in again.text and "token=" not in again.text
    # A site with SMTP configured never shows the link, demo or not.
    with_smtp = demo_settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 9})
    with TestClient(create_app(with_smtp, demo_site)) as client:
        data = {**form, "username": "other", "email": "other@example.org"}
        answer = client.post("/signup", data={**data, "csrf_token": _csrf(client, "/signup")})
        assert "Check your inbox" in answer.text and "token=" not in answer.text


def test_a_plain_site_never_shows_the_outbox_link(client: TestClient) -> None:
    form = {"username": "newbie", "email": "newbie@example.org", "password": "long enough pw"}
    answer = client.post("/signup", data={**form, "csrf_token": _csrf(client, "/signup")})
    assert "Check your inbox" in answer.text and "token=" not in answer.text


def test_the_home_page_box_subscribes_in_one_step(demo_client: TestClient) -> None:
    home = demo_client.get("/")
    assert 'name="categories"' in home.text and "csrf_token" not in home.text.split("cards")[0]
    data = {"email": "box@example.org", "period": "weekly", "categories": ["cs.CL", "cs.LG"]}
    answer = demo_client.post("/subscribe", data=data, headers={"origin": "http://testserver"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert "/subscribe/confirm?token=" in answer.text  # the demo shows the outbox's link
    # Without a token, only a same-site Origin is accepted.
    for headers in ({}, {"origin": "https://evil.example"}):
        refused = demo_client.post("/subscribe", data=data, headers=headers)
        assert refused.status_code == 403


def test_outbox_files_keep_links_whole(settings: Settings) -> None:
    link = "http://127.0.0.1:8080/verify?token=" + "a" * 150
    message = new_message(settings, to="x@example.org", subject="Confirm", text=f"Open {link}\n")
    Mailer(settings).send(message)
    (saved,) = Path(settings.outbox_dir).glob("*.eml")
    assert link.encode() in saved.read_bytes()


def test_links_follow_the_served_address(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert served_base_url("127.0.0.1", 8080) == "http://127.0.0.1:8080"
    assert served_base_url("0.0.0.0", 80) == f"http://{socket.gethostname()}:80"
    assert served_base_url("::1", 8000) == "http://[::1]:8000"
    seen: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.append(Settings().base_url))
    for configured, expected in (
        (None, "http://127.0.0.1:8080"),
        ("https://papers.example.org", "https://papers.example.org"),
    ):
        monkeypatch.setenv("DAILYPAPERS_BASE_URL", "x")  # restored after the test
        if configured is None:
            monkeypatch.delenv("DAILYPAPERS_BASE_URL")
        else:
            monkeypatch.setenv("DAILYPAPERS_BASE_URL", configured)
        result = CliRunner().invoke(cli, ["serve", "--port", "8080"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert seen[-1] == expected


def test_demo_as_of_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not production"):
        Settings(
            data_dir=tmp_path,
            environment="production",
            secret_key="s" * 40,
            demo_as_of=LAST_DAY,
        )
