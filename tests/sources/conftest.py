"""Fixtures for the sources tests: recorded arXiv responses on a real loopback server.

``arxiv_server`` (defined in tests/conftest.py) serves every recording in
``../shared/data/arxiv-api-fixtures`` (arXiv API envelopes and OAI-PMH nock
recordings, matched on path and query); tests add their own routes with
``arxiv_server.add_text(...)``.  ``fake_time`` and ``fetcher`` make a
``Fetcher`` whose waits are recorded, never slept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dailypapers.sources.http import Fetcher

FIXTURES = Path(__file__).resolve().parent / "fixtures"


class FakeTime:
    """A monotonic clock that only moves when someone sleeps; sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    """Injected clock and sleep for ``Fetcher``."""
    return FakeTime()


@pytest.fixture
def fetcher(fake_time: FakeTime) -> Iterator[Fetcher]:
    """A Fetcher with arXiv's 3 s spacing whose waits go to ``fake_time``."""
    with Fetcher(
        user_agent="dailypapers-tests/0", sleep=fake_time.sleep, clock=fake_time.clock
    ) as client:
        yield client
