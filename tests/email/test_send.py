"""The send run against a real SMTP server: content, headers, exactly once, failures."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import Engine, select

from dailypapers.email import subscribers
from dailypapers.email.send import run
from dailypapers.settings import Settings
from dailypapers.storage.schema import digest_deliveries, subscriptions
from tests.email.conftest import DAY, Collector, load, papers_on

MONDAY = dt.date.fromisoformat(DAY)


def subscribe(engine: Engine, email: str, **prefs: object) -> int:
    row = subscribers.add(
        engine, email=email, confirmed=True, prefs=subscribers.preferences(**prefs)
    )
    return int(row["id"])


def test_digest_content_and_headers(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    subscribe(site, "ann@example.com", trending_count=3, keywords="diffusion", authors="Hopper")
    report = run(site, mail_settings, period="daily", date=MONDAY)
    assert report.sent == 1 and report.failed == 0, report.summary()
    (message,) = mailbox.to("ann@example.com")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://papers.example.org/unsubscribe?token=")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "TRENDING PAPERS" in text and "PICKED FOR YOU" in text
    assert 'mentions "diffusion"' in text and "by Hopper" in text
    assert "https://papers.example.org/papers/2606.00090" in text
    assert "<script" not in html and 'style="' in html
    assert "Diffusion models for everything" in html and "Why: mentions" in html
    assert unsubscribe[1:-1] in text and "/subscription?token=" in html


def test_each_subscriber_gets_one_digest_per_period(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    for n in range(5):
        subscribe(site, f"s{n}@example.com", trending_count=2 + n % 2)
    subscribe(site, "weekly@example.com", period="weekly")
    first = run(site, mail_settings, period="daily", date=MONDAY)
    again = run(site, mail_settings, period="daily", date=MONDAY)
    assert (first.sent, first.groups) == (5, 2)
    assert again.sent == 0 and again.due == 0
    assert len(mailbox.messages) == 5
    weekly = run(site, mail_settings, period="weekly", date=MONDAY + dt.timedelta(days=2))
    assert weekly.sent == 1 and weekly.key == "weekly:2026-W24"
    assert run(site, mail_settings, period="weekly", date=MONDAY).sent == 0  # same ISO week


def test_weekends_stale_lists_and_empty_digests_send_nothing(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    subscribe(site, "a@example.com")
    subscribe(site, "nothing@example.com", trending_count=0, keywords="quantum gravity")
    saturday = run(site, mail_settings, period="daily", date=MONDAY + dt.timedelta(days=5))
    assert "Saturdays" in saturday.summary()
    later = run(site, mail_settings, period="daily", date=MONDAY + dt.timedelta(days=8))
    assert later.empty == 2 and later.sent == 0  # the latest list is a week old
    today = run(site, mail_settings, period="daily", date=MONDAY)
    assert today.sent == 1 and today.empty == 1
    assert [m["To"] for m in mailbox.messages] == ["a@example.com"]
    tuesday = run(site, mail_settings, period="daily", date=MONDAY + dt.timedelta(days=1))
    assert tuesday.empty == 2  # Monday's list went out on Monday: no repeat
    dry = run(site, mail_settings, period="daily", date=MONDAY + dt.timedelta(days=1), dry_run=True)
    assert dry.due == 2 and dry.sent == 0 and len(mailbox.messages) == 1


def test_failures_do_not_stop_the_run_and_bounces_suspend(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    mailbox.refuse["bad@example.com"] = "550 5.1.1 No such user"
    settings = mail_settings.model_copy(update={"digest_max_bounces": 2})
    for address in ("a@example.com", "bad@example.com", "z@example.com"):
        subscribe(site, address)
    report = run(site, settings, period="daily", date=MONDAY)
    assert (report.sent, report.failed, report.suspended) == (2, 1, 0)
    assert "550" in report.errors[0]
    load(site, papers_on("2026-06-09", 2, 40))  # Tuesday's list
    report = run(site, settings, period="daily", date=MONDAY + dt.timedelta(days=1))
    assert (report.sent, report.failed, report.suspended) == (2, 1, 1)
    with site.connect() as conn:
        status = conn.execute(
            select(subscriptions.c.status).where(subscriptions.c.email == "bad@example.com")
        ).scalar_one()
        failed = (
            conn.execute(
                select(digest_deliveries.c.error).where(digest_deliveries.c.status == "failed")
            )
            .scalars()
            .all()
        )
    assert status == "suspended" and len(failed) == 2 and "No such user" in failed[0]
    assert run(site, settings, period="daily", date=MONDAY + dt.timedelta(days=2)).due == 2


def test_transient_failures_are_retried(
    site: Engine, mail_settings: Settings, mailbox: Collector, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("dailypapers.mailer.time.sleep", lambda _: None)
    mailbox.refuse["busy@example.com"] = "451 4.3.0 Try again later"
    subscribe(site, "busy@example.com")
    report = run(site, mail_settings, period="daily", date=MONDAY)
    assert report.failed == 1 and report.sent == 0
    del mailbox.refuse["busy@example.com"]
    report = run(site, mail_settings, period="daily", date=MONDAY)  # the claim was released
    assert report.sent == 1 and len(mailbox.to("busy@example.com")) == 1


def test_similar_to_upvoted_picks_say_why(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    from dailypapers.community.accounts import create_user
    from dailypapers.storage.schema import embeddings, votes

    load(site, papers_on("2026-06-01", 1, 70, title="Sparse attention"))
    now = dt.datetime.now(dt.UTC)

    def vector(*head: float) -> np.ndarray:
        v = np.zeros(384, dtype=np.float32)
        v[: len(head)] = head
        return v

    with site.begin() as conn:
        user = create_user(conn, email="fan@example.com", password="long enough password")
        conn.execute(
            votes.insert().values(user_id=user["id"], paper_id="2606.00070", created_at=now)
        )
        for pid, vec in [
            ("2606.00070", vector(1)),
            ("2606.00002", vector(0.9, 0.1)),
            ("2606.00003", vector(0, 1)),
        ]:
            conn.execute(
                embeddings.insert().values(
                    paper_id=pid, model="m", text_hash="h", vector=vec, created_at=now
                )
            )
    subscribers.for_user(site, user=user, prefs=subscribers.preferences(trending_count=0))
    assert run(site, mail_settings, period="daily", date=MONDAY).sent == 1
    text = mailbox.to("fan@example.com")[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert 'Why: similar to "Sparse attention", which you upvoted' in text
    assert "2606.00002" in text and "2606.00003" not in text


def test_titles_are_escaped_in_html(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    load(site, papers_on(DAY, 1, 80, title="<script>alert(1)</script> & <b>bold</b>", upvotes=99))
    subscribe(site, "x@example.com", trending_count=1)
    run(site, mail_settings, period="daily", date=MONDAY)
    html = mailbox.messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in html and "<script" not in html


def test_without_smtp_digests_go_to_the_outbox(site: Engine, settings: Settings) -> None:
    subscribe(site, "dev@example.com")
    assert run(site, settings, period="daily", date=MONDAY).sent == 1
    (saved,) = settings.outbox_dir.glob("*.eml")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in saved.read_bytes()


def test_stuck_deliveries_are_reported_and_resent_only_on_request(
    site: Engine, mail_settings: Settings, mailbox: Collector
) -> None:
    sid = subscribe(site, "stuck@example.com")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with site.begin() as conn:
        conn.execute(
            digest_deliveries.insert().values(
                subscription_id=sid,
                period_key="daily:2026-06-08",
                status="sending",
                message_id="<x@localhost>",
                claimed_at=long_ago,
            )
        )
    report = run(site, mail_settings, period="daily", date=MONDAY)
    assert (report.sent, report.stuck) == (0, 1) and "1 stuck" in report.summary()
    report = run(site, mail_settings, period="daily", date=MONDAY, resend_stuck=True)
    assert (report.released, report.sent) == (1, 1)
    assert len(mailbox.to("stuck@example.com")) == 1
