"""Every CLI command, through click's runner in-process and once through the console script."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from dailypapers.cli import cli
from dailypapers.settings import Settings
from dailypapers.storage.migrate import head_revision
from dailypapers.storage.schema import daily_entries, papers
from tests.conftest import fixture_path

runner = CliRunner()


def run(*args: str, ok: bool = True) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    output = result.output + (result.stderr if result.stderr_bytes else "")
    if ok:
        assert result.exit_code == 0, output
    else:
        assert result.exit_code != 0, output
    return output


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", all_commands(cli), ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    output = run(*command, "--help")
    assert "Usage:" in output


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_db_upgrade_is_idempotent(cli_env: dict[str, str]) -> None:
    assert "up to date" in run("db", "upgrade")
    assert f"database: {head_revision()}" in run("db", "current")


def test_revisions_read_from_the_files_are_alembics() -> None:
    """/readyz reads the head and the known revisions from the migration files (no Alembic
    in web workers): the same as Alembic's own reading of them."""
    from alembic.script import ScriptDirectory

    from dailypapers.storage import migrate

    scripts = ScriptDirectory.from_config(migrate._config())
    assert migrate.head_revision() == scripts.get_current_head()
    assert migrate.known_revisions() == {rev.revision for rev in scripts.walk_revisions()}


def test_current_revision_of_an_empty_and_a_migrated_database(tmp_path: Path) -> None:
    from dailypapers.storage.engine import make_engine
    from dailypapers.storage.migrate import current_revision, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_db_upgrade_creates_a_fresh_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILYPAPERS_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DAILYPAPERS_DATABASE_URL", raising=False)
    assert f"upgraded from empty to {head_revision()}" in run("db", "upgrade")
    assert (tmp_path / "fresh" / "dailypapers.sqlite3").exists()


def test_demo_loads_the_sample_once(cli_env: dict[str, str], engine: Engine) -> None:
    first = run("demo", "--no-serve")
    # A few papers of the last day stay off the list, so Submit works offline (test_demo.py).
    assert "3187 new" in first and "3179 put on a day's list" in first
    assert "demo activity: 5 demo accounts" in first
    second = run("demo", "--no-serve")
    assert "0 new, 0 updated, 3187 unchanged" in second
    assert count(engine, papers) == 3187 and count(engine, daily_entries) == 3179


def test_export_then_ingest_jsonl_round_trips(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("demo", "--no-serve")
    out = tmp_path / "export.jsonl.gz"
    run("export", "--output", str(out))
    with gzip.open(out, "rt") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 3187
    monkeypatch.setenv("DAILYPAPERS_DATABASE_URL", f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    assert "3187 new" in run("ingest", "jsonl", str(out))
    out2 = tmp_path / "export2.jsonl"
    run("export", "-o", str(out2))
    assert out2.read_text().splitlines() == lines


def test_export_to_stdout(cli_env: dict[str, str]) -> None:
    run("demo", "--no-serve")
    result = runner.invoke(cli, ["export"])
    first = json.loads(result.stdout.splitlines()[0])
    assert set(first) >= {"id", "title", "abstract", "authors", "day", "upvotes"}


def test_ingest_jsonl_bad_files(cli_env: dict[str, str], engine: Engine, tmp_path: Path) -> None:
    missing = run("ingest", "jsonl", str(tmp_path / "nope.jsonl"), ok=False)
    assert "Error:" in missing and "nope.jsonl" in missing and "Traceback" not in missing
    run("demo", "--no-serve")
    garbage = tmp_path / "garbage.jsonl"
    good = json.dumps(
        {
            "id": "2607.00001",
            "title": "T",
            "abstract": "A",
            "authors": ["X"],
            "categories": ["cs.LG"],
            "published": "2026-07-01",
            "day": "2026-07-01",
        }
    )
    garbage.write_text("{not json\n[1,2]\n" + good + "\n" + '{"id": "2607.00002"}\n')
    output = run("ingest", "jsonl", str(garbage))
    assert "1 new" in output and "3 rejected" in output
    assert "line 1: invalid JSON" in output and "line 4: missing title" in output
    truncated = tmp_path / "truncated.jsonl.gz"
    data = gzip.compress(((good + "\n") * 200).encode())
    truncated.write_bytes(data[: len(data) // 2])
    error = run("ingest", "jsonl", str(truncated), ok=False)
    assert "truncated or corrupt" in error
    assert count(engine, papers) == 3188  # nothing stored was lost


def test_ingest_snapshot_sample(cli_env: dict[str, str], engine: Engine) -> None:
    path = fixture_path("arxiv-kaggle-snapshot-sample", "arxiv-metadata-oai-snapshot.sample.jsonl")
    output = run("ingest", "snapshot", str(path), "--no-progress")
    assert "200 new" in output
    again = run("ingest", "snapshot", str(path), "--no-progress")
    assert "200 unchanged" in again


def test_ingest_hf_daily_keeps_upvotes_and_submitter(
    cli_env: dict[str, str], engine: Engine
) -> None:
    path = fixture_path("hf-daily-papers", "daily_papers_2024-10-25_excerpt.json")
    output = run("ingest", "hf-daily", str(path))
    assert "2 new" in output and "2 put on a day's list" in output
    with engine.connect() as conn:
        row = conn.execute(select(papers.c.upvotes).where(papers.c.id == "2410.17243")).scalar_one()
        entry = conn.execute(
            select(daily_entries.c.day, daily_entries.c.submitter_name).where(
                daily_entries.c.paper_id == "2410.17243"
            )
        ).one()
    assert row == 64
    assert entry.day.isoformat() == "2024-10-25" and entry.submitter_name


def test_usage_errors_are_one_line(cli_env: dict[str, str]) -> None:
    assert "give --category" in run("ingest", "arxiv-api", ok=False)
    assert "either a saved JSON file or --date" in run("ingest", "hf-daily", ok=False)
    assert "Invalid value" in run("ingest", "oai", "--from", "2026-99-01", ok=False)


def test_invalid_settings_are_one_line(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILYPAPERS_PAGE_SIZE", "0")
    output = run("db", "upgrade", ok=False)
    assert "invalid setting page_size" in output and "Traceback" not in output


def test_production_refuses_placeholder_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAILYPAPERS_ENVIRONMENT", "production")
    monkeypatch.setenv("DAILYPAPERS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAILYPAPERS_SECRET_KEY", "change-me")
    assert "SECRET_KEY" in run("db", "upgrade", ok=False)
    with pytest.raises(ValueError):
        Settings(environment="production", data_dir=tmp_path, secret_key="too-short-a-key")


def test_ingest_runs_lists_reports(cli_env: dict[str, str]) -> None:
    run("demo", "--no-serve")
    assert "demo" in run("ingest", "runs") and "new=3187" in run("ingest", "runs")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_console_script_serves_the_site(cli_env: dict[str, str]) -> None:
    exe = shutil.which("dailypapers", path=str(Path(sys.executable).parent))
    assert exe, "console script not installed"
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # Wait for readiness, not for a time budget: a loaded machine starts slowly. The loop
        # ends when the server answers or the process exits (the 10-minute guard only stops a
        # hung server from hanging the suite).
        deadline = time.monotonic() + 600
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start (exit code {proc.poll()})")
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json()["database"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        assert proc.stdout is not None
        proc.stdout.close()
