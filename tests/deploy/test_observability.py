"""Request ids, JSON access logs and Prometheus metrics (web/observability.py, web/probes.py)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers import logs
from dailypapers.logs import (
    PIPE_BUF,
    JsonFormatter,
    TextFormatter,
    access_writer,
    configure_logging,
    request_id,
)
from dailypapers.settings import Settings
from dailypapers.web import observability
from dailypapers.web.app import create_app
from dailypapers.web.observability import RouteNames


def test_request_id_is_generated_and_echoed(client: TestClient) -> None:
    """A request without an id gets a fresh one; a plain id sent by the proxy is echoed back."""
    fresh = client.get("/livez")
    assert fresh.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    assert client.get("/livez").headers["x-request-id"] != fresh.headers["x-request-id"]
    given = client.get("/papers", headers={"X-Request-ID": "edge-42.abc"})
    assert given.headers["x-request-id"] == "edge-42.abc"
    # Not plain (spaces, too long): replaced, never echoed into logs or headers.
    odd = client.get("/livez", headers={"X-Request-ID": "a b" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])


def test_access_log_is_one_json_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs method, path, route template, status, duration and request id."""
    caplog.set_level(logging.INFO, logger="dailypapers.access")
    client.get("/papers/2401.99999", headers={"X-Request-ID": "req-1"})
    records = [r for r in caplog.records if r.name == "dailypapers.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["method"] == "GET"
    assert line["path"] == "/papers/2401.99999"
    assert line["route"] == "/papers/{arxiv_id:path}"
    assert line["status"] == 404
    assert line["duration_ms"] >= 0
    assert line["request_id"] == "req-1"
    assert line["level"] == "INFO" and line["logger"] == "dailypapers.access"


def test_log_lines_inside_a_request_carry_its_id() -> None:
    """Any logger writing while a request is answered gets the request id (text and JSON)."""
    token = request_id.set("trace-7")
    try:
        record = logging.getLogger("dailypapers.test").makeRecord(
            "dailypapers.test", logging.WARNING, __file__, 1, "inside", (), None
        )
        assert json.loads(JsonFormatter().format(record))["request_id"] == "trace-7"
        assert TextFormatter().format(record).endswith("inside [trace-7]")
    finally:
        request_id.reset(token)


def test_configure_logging_json_writes_json_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """``log_format=json`` gives one parseable JSON object per line at ``log_level``."""
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging(level="WARNING", fmt="json")
        logging.getLogger("dailypapers.test").info("hidden")
        logging.getLogger("dailypapers.test").warning("shown %d", 1)
        configure_logging(level="WARNING", fmt="json")  # idempotent: still one line per record
        logging.getLogger("dailypapers.test").warning("again")
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_dailypapers_handler", False):
                root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["shown 1", "again"]
    assert lines[0]["level"] == "WARNING"


def _restore_logging(saved: list[logging.Handler], level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dailypapers_handler", False):
            root.removeHandler(handler)
            handler.close()
    root.handlers[:] = saved
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_access_line_without_a_record_is_the_logged_line(fmt: str) -> None:
    """The access line written without a LogRecord (the default set-up) is exactly the line
    logging would write for the record the observer logs when other handlers listen."""
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    fields = {"method": "GET", "path": "/a?b=1", "route": "/a", "status": 200}
    fields |= {"duration_ms": 1.25, "client": "10.0.0.1"}
    message = "GET /a?b=1 200 1.2ms"
    record = logging.getLogger("dailypapers.access").makeRecord(
        "dailypapers.access",
        logging.INFO,
        __file__,
        0,
        "%s",
        (message,),
        None,
        extra={**fields, "request_id": "r-9"},
    )
    for created in (record.created, 1_700_000_000.0009, 1_700_000_000.9999, 1_700_000_001.5):
        record.created = created
        record.msecs = (created - int(created)) * 1000
        assert formatter.access_line(created, message, "r-9", fields) == formatter.format(record)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_access_lines_are_written_in_batches_in_order(
    client: TestClient, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """With only the site's handler (as ``serve`` sets it up) access lines skip the LogRecord,
    wait in a batch, and come out before any later line, in order, one per request."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        root.handlers[:] = []  # pytest's capture handlers would make the site log records
        configure_logging(level="INFO", fmt=fmt)
        assert access_writer() is not None
        for number in range(3):
            client.get("/livez", headers={"X-Request-ID": f"batch-{number}"})
        logging.getLogger("dailypapers.test").warning("after the requests")
    finally:
        _restore_logging(saved, level)
    lines = capsys.readouterr().err.splitlines()
    ids = [n for n in ("batch-0", "batch-1", "batch-2") for ln in lines if n in ln]
    assert ids == ["batch-0", "batch-1", "batch-2"]
    assert "after the requests" in lines[-1]
    if fmt == "json":
        first = json.loads(next(ln for ln in lines if "batch-0" in ln))
        assert first["logger"] == "dailypapers.access" and first["route"] == "/livez"
        assert first["status"] == 200 and first["message"].startswith("GET /livez 200 ")
    else:
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO dailypapers.access: "
            r"GET /livez 200 \d+\.\dms \[batch-0\]",
            next(ln for ln in lines if "batch-0" in ln),
        )


def test_a_batch_is_never_larger_than_an_atomic_pipe_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers share one standard error: each write holds whole lines, at most PIPE_BUF bytes,
    so lines of two processes never interleave in a pipe."""
    writes: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            writes.append(text)

        def flush(self) -> None:
            pass

    monkeypatch.setattr("sys.stderr", Sink())
    handler = logs._StderrHandler()
    handler.setFormatter(TextFormatter())
    try:
        for number in range(300):
            handler.queue_line(f"line {number} " + "x" * (number % 150))
        handler.queue_line("y" * (PIPE_BUF + 10))  # a line longer than a batch: alone
        handler.flush()
    finally:
        handler.close()
    assert all(w.endswith("\n") for w in writes)
    assert all(len(w.encode()) <= PIPE_BUF for w in writes[:-1])
    assert len(writes[-1]) == PIPE_BUF + 11
    written = "".join(writes).splitlines()
    assert written[:300] == [f"line {n} " + "x" * (n % 150) for n in range(300)]
    assert len(writes) < 20


def test_metrics_are_off_by_default(client: TestClient) -> None:
    """Without ``metrics_token``, /metrics does not exist."""
    assert client.get("/metrics").status_code == 404


@pytest.fixture
def metered(settings: Settings, engine: Engine) -> TestClient:
    """A client for an app with metrics unlocked by a token."""
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret-token"}), engine)
    return TestClient(app)


def test_metrics_need_the_token(metered: TestClient) -> None:
    """With a token set, /metrics answers 401 without it or with a wrong one."""
    assert metered.get("/metrics").status_code == 401
    wrong = metered.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    ok = metered.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_counters_move_after_requests(metered: TestClient) -> None:
    """Requests count by route template and status; searches are timed by mode."""
    auth = {"Authorization": "Bearer s3cret-token"}
    with metered:
        before = metered.get("/metrics", headers=auth).text
        for arxiv_id in ("2401.00001", "2401.00002"):
            metered.get(f"/papers/{arxiv_id}")
        metered.get("/api/papers/search", params={"q": "attention", "mode": "keyword"})
        metered.get("/nowhere/at/all")
        for _ in range(2):  # the second may come from the response cache: same label
            metered.get("/api/daily_papers")
        after = metered.get("/metrics", headers=auth).text
    route = "/papers/{arxiv_id:path}"
    name = "dailypapers_http_requests_total"
    moved = _sample(after, name, method="GET", route=route, status="404") - _sample(
        before, name, method="GET", route=route, status="404"
    )
    assert moved == 2
    assert _sample(after, "dailypapers_http_request_duration_seconds_count", route=route) >= 2
    search_count = _sample(after, "dailypapers_search_duration_seconds_count", mode="keyword")
    search_route = _sample(
        after, name, method="GET", route="/api/papers/search", status="200"
    ) + _sample(after, name, method="GET", route="/api/papers/search", status="503")
    assert search_route == 1
    # A missing index answers 503 (not timed as a search); a built one is timed.
    assert search_count in (0, 1)
    assert _sample(after, "dailypapers_database_up") == 1
    assert "dailypapers_index_up" in after
    daily = {"method": "GET", "route": "/api/daily_papers", "status": "200"}
    assert _sample(after, name, **daily) - _sample(before, name, **daily) == 2
    # Unknown paths share one label, so junk URLs cannot grow the series.
    assert 'route="unmatched"' in after
    assert "/nowhere" not in after


def test_route_names_without_the_router(settings: Settings, engine: Engine) -> None:
    """A request answered before routing (a cached page) is named as the router would."""
    app = create_app(settings, engine)
    names = RouteNames(app.router.routes)

    def scope(method: str, path: str) -> dict[str, object]:
        return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}

    assert names(scope("GET", "/")) == "/"
    assert names(scope("GET", "/papers/2401.00001")) == "/papers/{arxiv_id:path}"
    assert names(scope("GET", "/api/papers/2401.00001/similar")).endswith("/similar")
    assert names(scope("GET", "/static/style.css")) == "/static"
    assert names(scope("GET", "/no/such/page")) == "unmatched"
    assert names(scope("GET", "/")) == "/"  # memoised


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/feeds/personal/tok-123.atom",
        "/feeds/personal/",
        "/feeds/personalx/tok",
        "/feeds/daily.rss",
        "/lists/SECRETtoken",
        "/lists/SECRETtoken.json",
        "/lists/import",
        "/lists/imports/7",
        "/api/lists/SECRETtoken/items",
        "/api/lists/imports",
        "/api/listsx/abc",
        "/Lists/abc",
        "/papers/2501.00001",
    ],
)
@pytest.mark.parametrize("query", ["", "token=abc&next=/x", "q=lists&API_KEY=1", "sig"])
def test_the_logged_path_is_the_redacting_expressions_own(path: str, query: str) -> None:
    """Paths that cannot hold a secret skip the expression: the result is the same for all."""
    plain = observability._SECRET_PATH.sub(r"\1[redacted]", path)
    plain_query = observability._SECRET_PARAM.sub(r"\1\2=[redacted]", query)
    expected = plain + f"?{plain_query}" if plain_query else plain
    assert observability.loggable(path, query) == expected


def test_tokens_in_links_are_not_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed tokens of mailed links (reset, unsubscribe) are redacted from the access log."""
    caplog.set_level(logging.INFO, logger="dailypapers.access")
    client.get("/reset/confirm?token=SECRET-abc&next=/x&api_key=SECRET-2")
    record = next(r for r in caplog.records if r.name == "dailypapers.access")
    line = JsonFormatter().format(record)
    assert "SECRET" not in line
    assert json.loads(line)["path"] == "/reset/confirm?token=[redacted]&next=/x&api_key=[redacted]"
