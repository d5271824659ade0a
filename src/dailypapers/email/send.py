"""The digest send run: build every due digest, then deliver each one exactly once.

For each subscriber the run (1) claims the delivery row ``(subscription, period_key)`` with
status ``sending`` and commits, (2) hands the message to SMTP (transient failures retried
with backoff), (3) marks the row ``sent`` (or ``failed``). A re-run, or a second run at the
same time, skips every claimed row, so nobody gets two digests for one period. A row left in
``sending`` means the run stopped between (1) and (3): the message may or may not have been
accepted. Those rows are not re-sent (at most once); ``--resend-stuck`` releases them after an
operator has checked the SMTP server's log for their Message-ID.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from dailypapers.email.delivery import Sender, SendReport
from dailypapers.email.digests import Edition, group_key, period_key
from dailypapers.email.render import Rendered, render
from dailypapers.mailer import Mailer
from dailypapers.settings import Settings
from dailypapers.storage import subscriptions as repo
from dailypapers.storage.engine import write_transaction

VOTES_CONSIDERED = 20
STUCK_AFTER = dt.timedelta(minutes=10)


def prepare(
    engine: Engine,
    settings: Settings,
    *,
    period: str,
    date: dt.date,
    now: dt.datetime | None = None,
) -> tuple[SendReport, list[tuple[RowMapping, Rendered | None]]]:
    """Build and render the digests due for ``period`` as of ``date`` (None: empty)."""
    with engine.connect() as conn:
        edition = Edition(conn, period=period, date=date, now=now)
        report = SendReport(edition.key)
        subs = repo.due(conn=conn, period=period, period_key=edition.key)
        voters = [int(s["user_id"]) for s in subs if s["user_id"] is not None and s["similar"]]
        voted = repo.voted_papers(conn=conn, user_ids=voters, limit=VOTES_CONSIDERED)
        all_voted = sorted({pid for ids in voted.values() for pid in ids})
        vectors = repo.embedding_vectors(conn=conn, ids=all_voted) if edition.candidates else {}
        titles = repo.paper_titles(conn=conn, ids=all_voted) if edition.candidates else {}
        shared: dict[tuple[Any, ...], Rendered | None] = {}
        skeletons: dict[str, bytes] = {}
        jobs: list[tuple[RowMapping, Rendered | None]] = []
        for sub in subs:
            mine = voted.get(int(sub["user_id"] or 0), [])
            key = group_key(sub, bool(mine))
            if key is not None and key in shared:
                jobs.append((sub, shared[key]))
                continue
            digest = edition.build(sub, voted=mine, titles=titles, vectors=vectors)
            rendered = None if digest.empty else render(settings, digest, skeletons)
            if key is not None:
                shared[key] = rendered
            jobs.append((sub, rendered))
        report.due, report.groups = len(subs), len(shared)
    return report, jobs


def run(
    engine: Engine,
    settings: Settings,
    *,
    period: str,
    date: dt.date,
    dry_run: bool = False,
    resend_stuck: bool = False,
    now: dt.datetime | None = None,
) -> SendReport:
    """Send the ``period`` digest as of ``date`` to every active subscriber, once each."""
    if period == "daily" and date.weekday() >= 5:
        return SendReport(period_key(period, date), note="no daily digest on Saturdays and Sundays")
    released = _release_stuck(engine, period, date) if resend_stuck and not dry_run else 0
    report, jobs = prepare(engine, settings, period=period, date=date, now=now)
    report.released = released
    with engine.connect() as conn:
        cutoff = dt.datetime.now(dt.UTC) - STUCK_AFTER
        report.stuck = sum(
            1 for r in repo.stuck(conn=conn, period_key=report.key) if r["claimed_at"] < cutoff
        )
    report.empty = sum(1 for _, rendered in jobs if rendered is None)
    if dry_run:
        return report
    with Mailer(settings).session() as mail:
        sender = Sender(engine, settings, mail, report)
        try:
            for sub, rendered in jobs:
                if rendered is not None:
                    sender.deliver(sub, rendered)
        finally:
            sender.close()
    return report


def _release_stuck(engine: Engine, period: str, date: dt.date) -> int:
    key = period_key(period, date)
    cutoff = dt.datetime.now(dt.UTC) - STUCK_AFTER
    with write_transaction(engine) as conn:  # reads, then writes
        ids = [
            int(r["subscription_id"])
            for r in repo.stuck(conn=conn, period_key=key)
            if r["claimed_at"] < cutoff
        ]
        return repo.release(conn=conn, subscription_ids=ids, period_key=key) if ids else 0
