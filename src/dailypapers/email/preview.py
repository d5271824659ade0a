"""The next digest of one subscriber, for the browser preview and ``digest preview``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from dailypapers.email.digests import Digest, Edition
from dailypapers.email.send import VOTES_CONSIDERED
from dailypapers.storage import subscriptions as repo


def next_digest(engine: Engine, subscription: Any, *, date: dt.date | None = None) -> Digest:
    """What ``subscription`` would get if its digest were sent now (or as of ``date``)."""
    date = date or dt.datetime.now(dt.UTC).date()
    with engine.connect() as conn:
        edition = Edition(conn, period=subscription["period"], date=date)
        user_id = subscription["user_id"]
        voted = (
            repo.voted_papers(conn=conn, user_ids=[int(user_id)], limit=VOTES_CONSIDERED).get(
                int(user_id), []
            )
            if user_id is not None and subscription["similar"]
            else []
        )
        return edition.build(
            subscription,
            voted=voted,
            titles=repo.paper_titles(conn=conn, ids=voted),
            vectors=repo.embedding_vectors(conn=conn, ids=voted),
        )
