"""Fixtures for the email tests: a real SMTP server (aiosmtpd) on loopback, mail settings,
a site with papers, and subscribers."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.ingest.pipeline import run_ingest
from dailypapers.records import RawPaper
from dailypapers.settings import Settings
from dailypapers.web.app import create_app
from tests.core.helpers import raw

DAY = "2026-06-08"  # a Monday


class Collector:
    """An aiosmtpd handler keeping every accepted message; can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}
        self.on_message: Callable[[int], None] | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            count = len(self.messages)
        if self.on_message is not None:
            self.on_message(count)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed to ``address``."""
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        """Messages to ``address`` once ``count`` arrived (mail asked for on a page is sent
        after the answer, by the site's mail queue)."""
        deadline = time.monotonic() + timeout
        while len(found := self.to(address)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} messages for {address}")
            time.sleep(0.02)
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    """A loopback SMTP server collecting messages."""
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[Collector, int]) -> Collector:
    """The messages the loopback SMTP server accepted."""
    return smtp[0]


@pytest.fixture
def mail_settings(settings: Settings, smtp: tuple[Collector, int]) -> Settings:
    """Settings sending through the loopback SMTP server."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "smtp_security": "none",
            "base_url": "https://papers.example.org",
            "secret_key": "test-secret-key-for-email-tests-0123456789",
            "rate_limit_subscribe": "off",
        }
    )


@pytest.fixture
def mail_client(mail_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The app with mail going to the loopback server."""
    with TestClient(create_app(mail_settings, engine), base_url="https://testserver") as client:
        yield client


def papers_on(day: str, count: int, start: int = 1, **fields: Any) -> list[RawPaper]:
    """``count`` papers listed on ``day``."""
    month = day[2:4] + day[5:7]
    return [
        raw(f"{month}.{n:05d}", day=day, published=f"{day}T10:{n % 60:02d}:00Z", **fields)
        for n in range(start, start + count)
    ]


def load(engine: Engine, records: list[RawPaper]) -> None:
    """Ingest records with their days."""
    run_ingest(
        engine=engine,
        source="t",
        params={"n": len(records), "first": records[0].arxiv_id},
        records=lambda _: records,
        explicit_days=True,
    )


@pytest.fixture
def site(engine: Engine) -> Engine:
    """Papers listed on Monday 2026-06-08, one about diffusion by Grace Hopper in cs.CV."""
    load(
        engine,
        [
            *papers_on(DAY, 5, 1, upvotes=3),
            raw(
                "2606.00090",
                day=DAY,
                published=f"{DAY}T09:00:00Z",
                title="Diffusion models for everything",
                authors=["Grace Hopper"],
                categories=["cs.CV"],
            ),
        ],
    )
    return engine
