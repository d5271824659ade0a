"""Fixtures for follows and For you: the community fixtures (members, API tokens, a real SMTP
server), rate limits off, and a small corpus of recent papers on three topics with vectors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import Engine

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage import embeddings
from dailypapers.storage.schema import EMBEDDING_DIM
from tests.community.conftest import (  # noqa: F401
    api_token,
    client,
    community_settings,
    make_member,
    smtp,
)
from tests.core.helpers import raw
from tests.smtp import Inbox

MODEL = "test-model"
# Three topics, each a direction in the vector space: graphs (axis 0), speech (1), language (2).
TOPICS = {
    "graph": (0, ["cs.LG"], "graph neural networks on molecules"),
    "speech": (1, ["eess.AS", "cs.SD"], "speech recognition with noisy audio"),
    "language": (2, ["cs.CL"], "language models and translation"),
}


@pytest.fixture
def settings(settings: Settings, smtp: Inbox) -> Settings:  # noqa: F811
    """The community tests' settings (mail to the loopback server, rate limits off), with
    the follow and For you limits off too."""
    return community_settings(settings, smtp, "rate_limit_follow", "rate_limit_for_you")


def vector(axis: int, jitter: int) -> np.ndarray:
    """A unit vector near ``axis`` (``jitter`` moves it a little, deterministically)."""
    v = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    v[axis] = 1.0
    v[10 + jitter] = 0.3
    return v / np.linalg.norm(v)


@pytest.fixture
def corpus(engine: Engine) -> dict[str, list[str]]:
    """Four recent papers per topic (listed over the last days), plus one old paper per topic
    (listed 200 days ago: outside every window, a paper to upvote); ids by topic, old last."""
    today = dt.datetime.now(dt.UTC).date()
    ids: dict[str, list[str]] = {}
    records = []
    vectors = []
    n = 0
    for topic, (axis, cats, words) in TOPICS.items():
        ids[topic] = []
        for k in range(5):
            n += 1
            old = k == 4
            day = today - dt.timedelta(days=200 if old else k)
            paper_id = f"2606.{n:05d}"
            records.append(
                raw(
                    paper_id,
                    title=f"{words.capitalize()} part {k}",
                    abstract=f"We study {words}. Variant {k}.",
                    authors=["Grace Hopper" if (topic, k) == ("speech", 2) else f"Author {n}"],
                    categories=cats,
                    day=day.isoformat(),
                    published=f"{day}T0{k}:00:00Z",
                )
            )
            ids[topic].append(paper_id)
            vectors.append((paper_id, vector(axis, n)))
    run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "foryou"},
        records=lambda _: records,
        explicit_days=True,
    )
    with engine.begin() as conn:
        embeddings.store(
            conn=conn,
            model=MODEL,
            items=[(pid, "h") for pid, _ in vectors],
            vectors=np.stack([v for _, v in vectors]),
        )
    return ids
