"""The job runner: one per site at a time, elected through leases in the database.

Any number of processes run a ``Runner`` (every ``serve`` without ``--no-jobs``, and
``dailypapers jobs``); a heartbeat takes or renews each role's lease every third of
``jobs_lease_seconds``, and ``work`` does only what this process holds:

- ``index``: index upkeep (jobs/upkeep.py): embed new papers, rebuild and publish the index.
- ``jobs`` (``dailypapers jobs`` only): the day's ingest, index and digests when due.

A runner that crashes stops renewing; another takes its roles over when the lease expires.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from dailypapers.index.embedder import Embedder, default_embedder
from dailypapers.jobs import upkeep
from dailypapers.jobs.lease import Clock, Lease, utc_now
from dailypapers.settings import Settings

log = logging.getLogger("dailypapers.jobs")
DailyWork = Callable[[], Any]


class Runner:
    """Leases and work of one process."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        daily: DailyWork | None = None,
        clock: Clock = utc_now,
        holder: str | None = None,
        embedder: Embedder | None = None,
        isolate_builds: bool = False,
    ) -> None:
        self.engine = engine
        # Rebuilds in a child process at low priority (jobs/rebuild.py): what `serve` does.
        self.isolate_builds = isolate_builds
        self.settings = settings
        self.daily = daily
        self.clock = clock
        seconds = settings.jobs_lease_seconds
        self.index = Lease(engine, "index", seconds=seconds, holder=holder, clock=clock)
        self.jobs = (
            Lease(engine, "jobs", seconds=seconds, holder=self.index.holder, clock=clock)
            if daily is not None
            else None
        )
        self._embedder = embedder

    @property
    def leases(self) -> list[Lease]:
        """The leases this runner competes for."""
        return [self.index, *([self.jobs] if self.jobs is not None else [])]

    def heartbeat(self) -> None:
        """Take or renew every lease (a database hiccup counts as not holding them)."""
        for lease in self.leases:
            try:
                lease.hold()
            except Exception:  # not sure we hold it: do not work as if we did
                log.exception("lease %s: renewal failed", lease.name)
                lease.held = False

    def embedder(self) -> Embedder | None:
        """The embedder for new papers (None with semantic search off); loaded on first use."""
        if not self.settings.semantic_search:
            return None
        if self._embedder is None:
            self._embedder = default_embedder(self.settings.embedding_engine)
        return self._embedder

    def work(self) -> dict[str, Any]:
        """Do the work of the leases held now; what each role did."""
        done: dict[str, Any] = {}
        if self.index.held:
            done["index"] = upkeep.tick(
                engine=self.engine,
                settings=self.settings,
                embedder=self.embedder(),
                now=self.clock(),
                in_child=self.isolate_builds,
            )
        if self.jobs is not None and self.jobs.held and self.daily is not None:
            done["jobs"] = self.daily()
        return done

    def release(self) -> None:
        """Give up every lease held (on a clean stop: another runner takes over at once)."""
        for lease in self.leases:
            if lease.held:
                try:
                    lease.release()
                except Exception:  # it expires by itself
                    log.exception("lease %s: release failed", lease.name)

    def run(self, *, stop: threading.Event, seconds: float) -> None:
        """Heartbeat (own thread) and work every ``seconds`` until ``stop``; then release."""
        beat = threading.Thread(target=self._beat, args=(stop,), daemon=True, name="jobs-heartbeat")
        self.heartbeat()
        beat.start()
        try:
            while not stop.wait(0):
                try:
                    self.work()
                except Exception:  # keep the runner alive through a failed round
                    log.exception("job runner: round failed", extra={"job": "jobs"})
                stop.wait(seconds)
        finally:
            beat.join(timeout=10)
            self.release()

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.jobs_lease_seconds / 3):
            self.heartbeat()

    def start(self, *, seconds: float) -> tuple[threading.Thread, threading.Event]:
        """``run`` in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run, kwargs={"stop": stop, "seconds": seconds}, daemon=True, name="jobs"
        )
        thread.start()
        return thread, stop
