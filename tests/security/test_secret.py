"""Issue 11, item 11: no install signs links with a known secret. Without a configured key a
random one is made on first start and kept in the data directory (mode 600, the same on every
start); a placeholder such as ``change-me`` is refused with a clear message; a link signed
with ``change-me`` is refused by the site."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from pydantic import ValidationError
from sqlalchemy import Engine

from dailypapers.cli import cli
from dailypapers.email import subscribers, tokens
from dailypapers.settings import Settings
from dailypapers.web.app import create_app


def test_a_missing_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Settings(data_dir=data)
    key_file = data / "secret_key"
    assert key_file.exists() and len(first.secret_key) >= 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again = Settings(data_dir=data)  # a restart, or another worker of the same install
    assert again.secret_key == first.secret_key
    assert Settings(data_dir=tmp_path / "other").secret_key != first.secret_key


def test_an_unwritable_data_dir_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ValidationError, match="DAILYPAPERS_SECRET_KEY"):
        Settings(data_dir=blocker / "data")


@pytest.mark.parametrize("value", ["change-me", "CHANGE_ME", "changeme", "secret", "  "])
def test_placeholder_secrets_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(data_dir=tmp_path, secret_key=value)


def test_the_cli_refuses_to_start_with_a_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILYPAPERS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAILYPAPERS_SECRET_KEY", "change-me")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code != 0
    message = result.output + (result.stderr if result.stderr_bytes else "")
    assert "DAILYPAPERS_SECRET_KEY" in message and "placeholder" in message


def test_links_signed_with_change_me_are_refused(settings: Settings, engine: Engine) -> None:
    assert settings.secret_key and settings.secret_key != "change-me"
    row = subscribers.add(
        engine,
        email="victim@example.org",
        confirmed=True,
        prefs=subscribers.preferences(),
        settings=settings,
    )
    forged = URLSafeSerializer("change-me", salt="dailypapers.digest.unsubscribe").dumps(
        {"s": int(row["id"]), "e": "victim@example.org"}
    )
    genuine = tokens.link_token(settings, "unsubscribe", row)
    with TestClient(create_app(settings, engine)) as client:
        refused = client.post("/unsubscribe", data={"token": forged})
        assert "You are unsubscribed" not in refused.text
        assert "not valid" in refused.text
        accepted = client.post("/unsubscribe", data={"token": genuine})
        assert "You are unsubscribed" in accepted.text
