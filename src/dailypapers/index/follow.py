"""What every web process does every ``index_follow_seconds``: switch to the newest published
build (PostgreSQL; index/publish.py) and refresh the live delta (index/delta.py).

``Follower.poll`` is one round (tests call it directly); ``Follower.run`` repeats it in a
background thread until stopped. A failed round is logged and reported by ``status``; the
process keeps serving what it has.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from dailypapers.index import publish
from dailypapers.index.delta import LiveDelta
from dailypapers.index.snapshot import IndexUnavailable, SnapshotStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FollowStatus:
    """What ``/health`` says about following: the delta's size and the last round."""

    delta_papers: int = 0
    last_poll: str | None = None
    # The newest build published in the database (PostgreSQL), whether served yet or not.
    published: str | None = None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The non-empty fields."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


class Follower:
    """Keeps one process's search current: the newest build, and the papers since it."""

    def __init__(
        self, *, engine: Engine, root: Path, store: SnapshotStore, live: LiveDelta
    ) -> None:
        self.engine = engine
        self.root = root
        self.store = store
        self.live = live
        self.state = FollowStatus()
        self.polls = 0
        self._lock = threading.Lock()

    def poll(self) -> FollowStatus:
        """One round: follow the newest published build, then refresh the delta."""
        with self._lock:
            problem = None
            try:
                self.state.published = publish.follow(engine=self.engine, root=self.root).published
            except Exception as exc:  # keep serving the build we have; retry next round
                log.warning("search index: could not follow the published build: %s", exc)
                problem = f"follow: {str(exc)[:200]}"
            try:
                snapshot = self.store.current()
            except IndexUnavailable:
                snapshot = None
            try:
                self.state.delta_papers = self.live.refresh(engine=self.engine, snapshot=snapshot)
            except Exception as exc:  # a database hiccup: the old delta stays
                log.warning("search delta: refresh failed: %s", exc)
                problem = f"delta: {str(exc)[:200]}"
            self.state.problem = problem
            self.state.last_poll = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self.polls += 1
            return self.state

    def run(self, *, stop: threading.Event, seconds: float) -> None:
        """Poll now and then every ``seconds`` until ``stop`` is set."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception:  # never let the thread die
                log.exception("search follower: round failed")
            stop.wait(max(0.0, seconds - (time.monotonic() - started)))

    def start(self, *, seconds: float) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run,
            kwargs={"stop": stop, "seconds": seconds},
            daemon=True,
            name="index-follower",
        )
        thread.start()
        return thread, stop
