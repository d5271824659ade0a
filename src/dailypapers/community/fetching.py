"""Fetching a submitted paper the site does not have yet from arXiv, inside the request.

Bounded twice, so a slow or unreachable arXiv cannot hold the server's request threads:
each fetch is one attempt with a total deadline (``submit_fetch_timeout``), and at most
``submit_fetch_slots`` fetches wait on arXiv at once; a submission beyond them is answered
503 ("busy, try again") at once instead of queueing behind them.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from dailypapers.community.errors import ActionError
from dailypapers.records import RawPaper, SourceError
from dailypapers.settings import Settings
from dailypapers.sources import arxiv_api
from dailypapers.sources.http import DeadlinePassed, Fetcher

GRACE = 1.0  # seconds past the deadline before the request stops waiting for the worker


class ArxivFetches:
    """One-paper arXiv fetches for submissions, limited in time and in number at once."""

    def __init__(self, *, api_url: str, user_agent: str, deadline: float, slots: int) -> None:
        self.api_url = api_url
        self.user_agent = user_agent
        self.deadline = deadline
        self._slots = threading.BoundedSemaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="arxiv-submit")

    @classmethod
    def from_settings(cls, settings: Settings) -> ArxivFetches:
        """The fetches configured by ``arxiv_api_url`` and the ``submit_fetch_*`` settings."""
        return cls(
            api_url=settings.arxiv_api_url,
            user_agent=settings.user_agent,
            deadline=settings.submit_fetch_timeout,
            slots=settings.submit_fetch_slots,
        )

    def fetch(self, paper_id: str) -> list[RawPaper]:
        """arXiv's records for ``paper_id``; ActionError 503 when busy, 504 past the deadline.

        The slot is held until the fetch itself ends, not until the request stops waiting,
        so slow fetches can never pile up beyond the configured number.
        """
        if not self._slots.acquire(blocking=False):
            raise ActionError(
                "The site is busy fetching other papers from arXiv. Try again in a minute.",
                503,
                retry_after=60,
            )
        try:
            future = self._pool.submit(self._fetch_one, paper_id)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._release)
        try:
            return future.result(timeout=self.deadline + GRACE)
        except (FutureTimeout, DeadlinePassed):
            raise ActionError(
                f"arXiv did not answer within {self.deadline:g} seconds. "
                "Try again in a few minutes.",
                504,
                retry_after=180,
            ) from None
        except SourceError as exc:
            raise ActionError(f"Could not fetch {paper_id} from arXiv: {exc}", 502) from None

    def _release(self, _done: Future[list[RawPaper]]) -> None:
        self._slots.release()

    def _fetch_one(self, paper_id: str) -> list[RawPaper]:
        with Fetcher(
            user_agent=self.user_agent,
            interval=0,
            max_retries=0,
            timeout=self.deadline,
            deadline=self.deadline,
        ) as fetcher:
            return list(arxiv_api.fetch_api(fetcher, base_url=self.api_url, id_list=[paper_id]))
