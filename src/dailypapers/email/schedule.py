"""The optional schedule inside ``serve``: at ``digest_schedule_at`` (UTC), read today's arXiv
listings (if ``digest_schedule_ingest``), then send the daily digest (weekdays) and the weekly
one (Mondays).

Every worker process runs the same small loop; the first to insert the day's lock row
(``job_locks``) does the work, the others see the row and skip. The lock is kept after a
crash (the day is not retried automatically); ``dailypapers digest send`` finishes the run,
and the delivery rows make sure nobody gets a digest twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine

from dailypapers.email.delivery import SendReport
from dailypapers.email.send import run
from dailypapers.settings import Settings
from dailypapers.storage import subscriptions as repo

log = logging.getLogger("dailypapers.schedule")
POLL_SECONDS = 30.0


def due_time(settings: Settings, day: dt.date) -> dt.datetime | None:
    """When the schedule runs on ``day`` (None when the schedule is off)."""
    if not settings.digest_schedule_at:
        return None
    hour, minute = (int(part) for part in settings.digest_schedule_at.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)


def _ingest(engine: Engine, settings: Settings) -> None:
    from dailypapers.ingest.feed import ingest_todays_listing

    report = ingest_todays_listing(engine, settings)
    if report is not None:
        log.info("scheduled ingest: %s", report.summary())


def run_due(
    engine: Engine, settings: Settings, *, now: dt.datetime | None = None, owner: str = ""
) -> list[SendReport] | None:
    """Run today's scheduled work if it is due and no other worker took it; None otherwise."""
    now = now or dt.datetime.now(dt.UTC)
    due = due_time(settings, now.date())
    if due is None or now < due:
        return None
    key = f"schedule:{now.date().isoformat()}"
    with engine.begin() as conn:
        if not repo.take_lock(conn=conn, key=key, owner=owner or _owner()):
            return None
    if settings.digest_schedule_ingest:
        try:
            _ingest(engine, settings)
        except Exception:  # the digests still go out with what is listed
            log.exception("scheduled ingest failed")
    reports = []
    periods = ["daily"] if now.weekday() < 5 else []
    periods += ["weekly"] if now.weekday() == 0 else []
    for period in periods:
        report = run(engine, settings, period=period, date=now.date(), now=now)
        log.warning("scheduled digest: %s", report.summary())
        reports.append(report)
    with engine.begin() as conn:
        repo.finish_lock(conn=conn, key=key)
    return reports


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def _loop(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(POLL_SECONDS):
        try:
            run_due(engine, settings)
        except Exception:  # keep the schedule alive through a database hiccup
            log.exception("scheduled digest run failed")


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start the schedule thread with the web app when ``digest_schedule_at`` is set."""
    settings: Settings = app.state.settings
    stop = threading.Event()
    if settings.digest_schedule_at:
        thread = threading.Thread(
            target=_loop, args=(app.state.engine, settings, stop), daemon=True, name="digests"
        )
        thread.start()
    try:
        yield
    finally:
        stop.set()
