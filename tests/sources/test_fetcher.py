"""Fetcher: request spacing, retries with Retry-After or backoff, clear errors."""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
from collections.abc import Iterator

import pytest

from dailypapers.records import SourceError
from dailypapers.settings import Settings
from dailypapers.sources.http import MAX_SINGLE_WAIT, Fetcher, error_reason, parse_retry_after

from .conftest import FakeTime
from .recorded_http import RecordedServer, Reply


@pytest.fixture
def server() -> Iterator[RecordedServer]:
    with RecordedServer() as srv:
        yield srv


@pytest.fixture
def eager(fake_time: FakeTime) -> Iterator[Fetcher]:
    """No request spacing, so only retry waits show up in ``fake_time.sleeps``."""
    with Fetcher(
        user_agent="ua-test",
        interval=0,
        max_retries=3,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as client:
        yield client


def test_requests_are_spaced_by_the_interval(
    server: RecordedServer, fetcher: Fetcher, fake_time: FakeTime
) -> None:
    server.add_text("/page", "hello")
    assert [fetcher.get(f"{server.url}/page") for _ in range(3)] == ["hello"] * 3
    assert fake_time.sleeps == [3.0, 3.0]
    fake_time.now += 1.0  # one second of work since the last request
    fetcher.get(f"{server.url}/page")
    assert fake_time.sleeps == [3.0, 3.0, 2.0]
    fake_time.now += 10.0  # long enough: no wait at all
    fetcher.get(f"{server.url}/page")
    assert fake_time.sleeps == [3.0, 3.0, 2.0]


def test_sends_user_agent_and_params(server: RecordedServer, eager: Fetcher) -> None:
    server.add_text("/q?a=1&b=x+y", "ok")
    assert eager.get(f"{server.url}/q", {"b": "x y", "a": 1}) == "ok"
    (request,) = server.requests
    assert request.params == {"a": "1", "b": "x y"}
    assert request.headers["User-Agent"] == "ua-test"


def test_retry_after_seconds_is_honoured(
    server: RecordedServer, eager: Fetcher, fake_time: FakeTime
) -> None:
    server.add("/busy", Reply(503, b"busy", {"Retry-After": "7"}), Reply(200, b"done"))
    assert eager.get(f"{server.url}/busy") == "done"
    assert fake_time.sleeps == [7.0]
    assert len(server.requests) == 2


def test_retry_after_http_date_on_429(
    server: RecordedServer, eager: Fetcher, fake_time: FakeTime
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    retry_at = email.utils.format_datetime(when, usegmt=True)
    server.add("/slow", Reply(429, b"slow down", {"Retry-After": retry_at}), Reply(200, b"ok"))
    assert eager.get(f"{server.url}/slow") == "ok"
    (wait,) = fake_time.sleeps
    assert 50.0 < wait <= 60.0


def test_huge_retry_after_is_capped(
    server: RecordedServer, eager: Fetcher, fake_time: FakeTime
) -> None:
    server.add("/x", Reply(503, b"", {"Retry-After": "86400"}), Reply(200, b"ok"))
    eager.get(f"{server.url}/x")
    assert fake_time.sleeps == [MAX_SINGLE_WAIT]


def test_exponential_backoff_without_retry_after(
    server: RecordedServer, eager: Fetcher, fake_time: FakeTime
) -> None:
    server.add("/flaky", Reply(500), Reply(502), Reply(504), Reply(200, b"finally"))
    assert eager.get(f"{server.url}/flaky") == "finally"
    assert fake_time.sleeps == [1.0, 2.0, 4.0]


def test_retries_exhausted_raise(
    server: RecordedServer, eager: Fetcher, fake_time: FakeTime
) -> None:
    server.add("/down", Reply(503, b"<h1>Service Unavailable</h1>"))
    with pytest.raises(SourceError, match=r"after 4 attempts: HTTP 503"):
        eager.get(f"{server.url}/down")
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert len(server.requests) == 4


def test_network_errors_are_retried_then_raise(fake_time: FakeTime) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Fetcher(
            user_agent="t", interval=0, max_retries=2, sleep=fake_time.sleep, clock=fake_time.clock
        ) as client,
        pytest.raises(SourceError, match=r"after 3 attempts: ConnectError"),
    ):
        client.get(f"http://127.0.0.1:{port}/")
    assert fake_time.sleeps == [1.0, 2.0]


def test_client_errors_are_not_retried(
    server: RecordedServer, eager: Fetcher, fake_time: FakeTime
) -> None:
    server.add("/gone", Reply(404, b"<html><body><h1>Not Found</h1></body></html>"))
    with pytest.raises(SourceError) as info:
        eager.get(f"{server.url}/gone")
    assert str(info.value).startswith("HTTP 404 from http://127.0.0.1:")
    assert str(info.value).endswith(": Not Found")
    assert fake_time.sleeps == []
    assert len(server.requests) == 1


def test_from_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        arxiv_request_interval=0.5,
        arxiv_max_retries=2,
        arxiv_timeout=4.0,
        user_agent="me/1.0",
    )
    with Fetcher.from_settings(settings) as client:
        assert (client.interval, client.max_retries) == (0.5, 2)
        assert client._client.timeout.read == 4.0
        assert client._client.headers["User-Agent"] == "me/1.0"
    assert client._client.is_closed


def test_parse_retry_after() -> None:
    now = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_error_reason_prefers_arxiv_error_summary() -> None:
    atom = (
        "<feed><title>arXiv Search Results</title><entry><summary>bad id</summary></entry></feed>"
    )
    assert error_reason(atom) == "bad id"
    assert error_reason("<html><title>Oops</title><h1>Too &amp; many</h1></html>") == "Too & many"
    assert error_reason("plain\n text") == "plain text"
    assert error_reason("") == "no reason given"
