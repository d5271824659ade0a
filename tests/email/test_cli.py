"""``digest`` and ``subscriber`` commands, and a send run killed mid-way then re-run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from dailypapers.cli import cli
from dailypapers.settings import Settings
from dailypapers.storage.schema import digest_deliveries
from tests.email.conftest import DAY, Collector

runner = CliRunner()


@pytest.fixture
def mail_env(cli_env: dict[str, str], mail_settings: Settings, monkeypatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {
        **cli_env,
        "DAILYPAPERS_SMTP_HOST": mail_settings.smtp_host,
        "DAILYPAPERS_SMTP_PORT": str(mail_settings.smtp_port),
        "DAILYPAPERS_SMTP_SECURITY": "none",
        "DAILYPAPERS_BASE_URL": mail_settings.base_url,
        "DAILYPAPERS_SECRET_KEY": mail_settings.secret_key,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def invoke(*args: str, ok: bool = True) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    output = result.output + (result.stderr if result.stderr_bytes else "")
    assert (result.exit_code == 0) is ok, output
    return output


def test_subscriber_and_digest_commands(
    mail_env: dict[str, str], site: Engine, mailbox: Collector
) -> None:
    assert "a@example.com: active, daily" in invoke(
        "subscriber", "add", "a@example.com", "--confirmed"
    )
    assert "pending, weekly" in invoke("subscriber", "add", "b@example.com", "--period", "weekly")
    assert "line breaks" in invoke(
        "subscriber", "add", "x@example.com\r\nBcc: y@example.com", ok=False
    )
    listing = invoke("subscriber", "list")
    assert "a@example.com\tactive\tdaily\t10" in listing and "b@example.com\tpending" in listing
    assert "Paper 2606.00001" in invoke("digest", "preview", "a@example.com", "--date", DAY)
    assert "<!DOCTYPE html>" in invoke(
        "digest", "preview", "a@example.com", "--date", DAY, "--html"
    )
    assert "no subscriber" in invoke("digest", "preview", "c@example.com", ok=False)
    dry = invoke("digest", "send", "--period", "daily", "--date", DAY, "--dry-run")
    assert "dry run: daily:2026-06-08: 1 due, 0 sent" in dry and mailbox.messages == []
    sent = invoke("digest", "send", "--period", "daily", "--date", DAY)
    assert "1 sent" in sent and len(mailbox.messages) == 1
    assert "0 due" in invoke("digest", "send", "--period", "daily", "--date", DAY)
    assert "Saturdays" in invoke("digest", "send", "--date", "2026-06-13")


@pytest.mark.slow
def test_killed_run_then_rerun_sends_exactly_one_each(
    mail_env: dict[str, str], site: Engine, mailbox: Collector
) -> None:
    addresses = [f"reader{n}@example.com" for n in range(12)]
    for n, address in enumerate(addresses):
        args = ["subscriber", "add", address, "--confirmed"]
        invoke(*args) if n % 3 else invoke(*args, "--period", "daily")
    command = [sys.executable, "-m", "dailypapers", "digest", "send", "--date", DAY]
    env = {**os.environ, **mail_env}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_at_fifth(count: int) -> None:
        if count == 5:  # the SMTP server has the message; the sender never hears back
            proc.kill()
            proc.wait()

    mailbox.on_message = kill_at_fifth
    proc.wait(timeout=120)
    assert proc.returncode == -9 and len(mailbox.messages) == 5
    mailbox.on_message = None
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "7 sent" in again.stdout and "1 stuck" not in again.stdout  # too recent to call stuck
    received = Counter(str(m["To"]) for m in mailbox.messages)
    assert received == Counter(addresses)  # every subscriber exactly once
    with site.connect() as conn:
        statuses = Counter(conn.execute(select(digest_deliveries.c.status)).scalars())
    assert statuses == Counter({"sent": 11, "sending": 1})
