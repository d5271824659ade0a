"""``dailypapers jobs``: a site's scheduled work in one process, for a container or a service.

Once a day at ``jobs_at`` (UTC) the runner reads today's arXiv listings (``ingest rss``, with
``jobs_ingest``), rebuilds the search index (``index``) and sends the daily digest (weekdays)
and the weekly one (Mondays). Each step logs its report (logger ``dailypapers.jobs``, with
``job`` and ``outcome`` fields in JSON logs); a failed step is logged and the next one runs.

Run it on as many nodes as you like: one of them holds the ``jobs`` lease in the database
(renewed every third of ``jobs_lease_seconds``; when that runner dies, another takes over
once it expires) and does the work; the others stand by. The holder of the ``index`` lease
(this command or any ``serve``) also keeps the search index fresh: it embeds new papers and
rebuilds and publishes the index as they accumulate (jobs/upkeep.py). The day's work is
also claimed with a row in ``job_locks`` (``jobs:<day>``), and a whole run holds the ``jobs``
stage lock, as ``ingest`` and ``index`` hold theirs. ``--once`` runs the
work now and exits (for a systemd timer or cron); digests never go twice to anyone (delivery
rows), and a step another process is running is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import click
from sqlalchemy import Engine

from dailypapers.cli.main import Context, one_line_errors, pass_context
from dailypapers.jobs.runner import Runner
from dailypapers.logs import configure_logging
from dailypapers.settings import Settings
from dailypapers.storage import subscriptions as repo
from dailypapers.storage.locks import AlreadyRunning, stage_lock

log = logging.getLogger("dailypapers.jobs")
POLL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step of a run did: ``ok``, ``failed`` or ``skipped``, and its report line."""

    job: str
    outcome: str
    summary: str


def _ingest(engine: Engine, settings: Settings) -> str:
    from dailypapers.ingest.feed import ingest_todays_listing

    report = ingest_todays_listing(engine, settings)
    return report.summary() if report is not None else "no feed categories configured"


def _index(engine: Engine, settings: Settings) -> str:
    from dailypapers.index.build import run_index
    from dailypapers.index.embedder import default_embedder

    embedder = default_embedder(settings.embedding_engine)
    report = run_index(
        engine=engine,
        root=settings.index_dir,
        embedder=embedder if settings.semantic_search else None,
        batch_size=settings.embed_batch_size,
        model=embedder.key,
    )
    return report.summary()


def _digest(engine: Engine, settings: Settings, period: str, day: dt.date) -> str:
    from dailypapers.email.send import run

    report = run(engine, settings, period=period, date=day)
    if report.failed:
        raise RuntimeError(report.summary())
    return report.summary()


def _step(job: str, work: Callable[[], str]) -> StepResult:
    try:
        summary = work()
    except AlreadyRunning as exc:
        result = StepResult(job, "skipped", str(exc))
        log.warning("%s skipped: %s", job, exc, extra={"job": job, "outcome": "skipped"})
        return result
    except Exception as exc:  # one failed step must not stop the others
        log.exception("%s failed", job, extra={"job": job, "outcome": "failed"})
        return StepResult(job, "failed", (str(exc).splitlines() or [repr(exc)])[0][:300])
    log.info("%s: %s", job, summary, extra={"job": job, "outcome": "ok"})
    return StepResult(job, "ok", summary)


def run_day(engine: Engine, settings: Settings, *, day: dt.date, ingest: bool) -> list[StepResult]:
    """Ingest (optional), index, then the digests due on ``day``; each step's result."""
    with stage_lock(engine, "jobs", wait=False):
        results = []
        if ingest and settings.feed_categories:
            results.append(_step("ingest", lambda: _ingest(engine, settings)))
        results.append(_step("index", lambda: _index(engine, settings)))
        periods = (["daily"] if day.weekday() < 5 else []) + (
            ["weekly"] if day.weekday() == 0 else []
        )
        for period in periods:
            results.append(
                _step(f"digest {period}", lambda p=period: _digest(engine, settings, p, day))  # type: ignore[misc]
            )
    return results


def due(settings: Settings, now: dt.datetime) -> bool:
    """Whether today's run is due at ``now`` (UTC)."""
    hour, minute = (int(part) for part in settings.jobs_at.split(":"))
    return now >= dt.datetime.combine(now.date(), dt.time(hour, minute), dt.UTC)


def run_if_due(
    engine: Engine, settings: Settings, *, now: dt.datetime, ingest: bool
) -> list[StepResult] | None:
    """Run today's work when due and not claimed by another runner; None otherwise."""
    if not due(settings, now):
        return None
    key = f"jobs:{now.date().isoformat()}"
    with engine.begin() as conn:
        owner = f"{socket.gethostname()}:{os.getpid()}"[:64]
        if not repo.take_lock(conn=conn, key=key, owner=owner):
            return None
    log.info("running the jobs of %s", now.date(), extra={"job": "jobs", "outcome": "started"})
    try:
        return run_day(engine, settings, day=now.date(), ingest=ingest)
    finally:
        with engine.begin() as conn:
            repo.finish_lock(conn=conn, key=key)


def run_forever(engine: Engine, settings: Settings, *, stop: threading.Event, ingest: bool) -> None:
    """Hold the ``jobs`` and ``index`` leases when free (jobs/runner.py) and, while held, do
    index upkeep and check every 30 s whether the day's work is due, until ``stop`` is set."""

    def daily() -> list[StepResult] | None:
        try:
            return run_if_due(engine, settings, now=dt.datetime.now(dt.UTC), ingest=ingest)
        except AlreadyRunning as exc:
            log.warning("jobs skipped: %s", exc, extra={"job": "jobs", "outcome": "skipped"})
        except Exception:  # keep the runner alive through a database hiccup
            log.exception("jobs run failed", extra={"job": "jobs", "outcome": "failed"})
        return None

    Runner(engine, settings, daily=daily).run(stop=stop, seconds=POLL_SECONDS)


@click.command()
@click.option(
    "--once", is_flag=True, help="Run the work now and exit (for a systemd timer or cron)."
)
@click.option(
    "--ingest/--no-ingest",
    default=None,
    help="Read today's arXiv listings first (default: DAILYPAPERS_JOBS_INGEST).",
)
@pass_context
@one_line_errors
def jobs(ctx: Context, once: bool, ingest: bool | None) -> None:
    """Run the scheduled work: ingest rss, index, digests (daily at DAILYPAPERS_JOBS_AT, UTC).

    Without --once it keeps running (a container's or a service's job runner); run one per
    site. Exit status of --once: 1 when a step failed.
    """
    settings = ctx.settings
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    with_ingest = settings.jobs_ingest if ingest is None else ingest
    if once:
        results = run_day(
            ctx.engine, settings, day=dt.datetime.now(dt.UTC).date(), ingest=with_ingest
        )
        for result in results:
            click.echo(f"{result.job}: {result.outcome}: {result.summary}")
        if any(r.outcome == "failed" for r in results):
            raise SystemExit(1)
        return
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping (signal %d)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"job runner: the day's work runs at {settings.jobs_at} UTC")
    run_forever(ctx.engine, settings, stop=stop, ingest=with_ingest)
