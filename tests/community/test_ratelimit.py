"""Rate limits: the ``N/unit`` format, fixed windows shared through the database, and old
counters pruned so the table does not grow with every client ever seen."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from dailypapers.community.ratelimit import RateLimited, check, parse_rate
from dailypapers.storage.schema import rate_limits

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5/hour", (5, 3600)), (" 10 / minutes ", (10, 60)), ("1/day", (1, 86400)), ("off", None)],
)
def test_parse_rate(value: str, expected: tuple[int, int] | None) -> None:
    assert parse_rate(value) == expected


@pytest.mark.parametrize("value", ["5", "0/hour", "-1/hour", "5/week", "five/hour", "5/hour; x"])
def test_parse_rate_rejects_nonsense(value: str) -> None:
    with pytest.raises(ValueError, match="invalid rate limit"):
        parse_rate(value)


def test_window_budget_and_reset(engine: Engine) -> None:
    for second in range(3):
        check(engine, key="login:1.2.3.4", rate="3/minute", now=T0 + dt.timedelta(seconds=second))
    with pytest.raises(RateLimited) as refused:
        check(engine, key="login:1.2.3.4", rate="3/minute", now=T0 + dt.timedelta(seconds=20))
    assert refused.value.retry_after == 40
    check(engine, key="login:5.6.7.8", rate="3/minute", now=T0 + dt.timedelta(seconds=20))
    check(engine, key="login:1.2.3.4", rate="3/minute", now=T0 + dt.timedelta(seconds=61))


def test_counters_older_than_a_day_are_pruned(engine: Engine) -> None:
    for number in range(5):
        check(engine, key=f"signup:10.0.0.{number}", rate="5/hour", now=T0)
    check(engine, key="signup:10.0.0.9", rate="5/hour", now=T0 + dt.timedelta(hours=23))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rate_limits)).scalar_one() == 6
    # A day later a new client arrives: only the counter still inside a day stays.
    check(engine, key="signup:10.0.1.1", rate="5/hour", now=T0 + dt.timedelta(hours=24, seconds=1))
    with engine.connect() as conn:
        keys = set(conn.execute(select(rate_limits.c.key)).scalars())
    assert keys == {"signup:10.0.0.9", "signup:10.0.1.1"}
