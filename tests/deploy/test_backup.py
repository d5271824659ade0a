"""deploy/backup.sh and deploy/restore.sh: a site backed up while it writes, restored into a new
data directory and database, has its papers, users, votes, secret key and index."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from dailypapers.community import accounts
from dailypapers.index.build import run_index
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.settings import Settings
from dailypapers.storage import community
from dailypapers.storage.engine import make_engine
from dailypapers.storage.schema import papers, users, votes
from tests.conftest import pg_database
from tests.core.helpers import raw

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_names = itertools.count()


def _pg_tools() -> dict[str, str]:
    """pg_dump/pg_restore of the embedded server's version (a dump needs a matching tool)."""
    from tests.pgserver import _bin_dir

    tools = {"PG_DUMP": _bin_dir() / "pg_dump", "PG_RESTORE": _bin_dir() / "pg_restore"}
    if not all(path.exists() for path in tools.values()):
        pytest.skip("pg_dump/pg_restore of the embedded PostgreSQL are not installed")
    return {name: str(path) for name, path in tools.items()}


def _env(data_dir: Path, database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")}
    env.update(
        DAILYPAPERS_DATA_DIR=str(data_dir),
        DAILYPAPERS_DATABASE_URL=database_url,
        PYTHON=str(BIN / "python"),
        DAILYPAPERS_BIN=str(BIN / "dailypapers"),
        PATH=f"{BIN}:{os.environ['PATH']}",
        **extra,
    )
    return env


def _counts(engine: Engine) -> tuple[int, int, set[tuple[int, str]]]:
    with engine.connect() as conn:
        n_papers = conn.execute(select(func.count()).select_from(papers)).scalar_one()
        n_users = conn.execute(select(func.count()).select_from(users)).scalar_one()
        voted = {(r.user_id, r.paper_id) for r in conn.execute(select(votes))}
    return n_papers, n_users, voted


def _fresh_database(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if settings.database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'dailypapers.sqlite3'}"
    stack = ExitStack()
    request.addfinalizer(stack.close)
    return stack.enter_context(pg_database(request.getfixturevalue("pg_server"), "dp_restore"))


def test_backup_while_writing_then_restore(
    settings: Settings, engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Back up a live site (a writer keeps voting meanwhile), restore it elsewhere, compare."""
    postgres = settings.database_url.startswith("postgresql")
    tools = _pg_tools() if postgres else {}
    ids = [f"2606.0000{n}" for n in (1, 2, 3)]
    run_ingest(
        engine=engine,
        source="t",
        params={"fixture": "backup"},
        records=lambda _: [raw(i, day="2026-06-08") for i in ids],
        explicit_days=True,
    )
    with engine.begin() as conn:
        ada = accounts.create_user(conn, email="ada@example.org", password="pw-123456789")
        bob = accounts.create_user(conn, email="bob@example.org", password="pw-123456789")
        noisy = accounts.create_user(conn, email="noisy@example.org", password="pw-123456789")
        for user, paper in [(ada, ids[0]), (ada, ids[1]), (bob, ids[0])]:
            community.add_vote(conn=conn, user_id=user["id"], paper_id=paper)
    run_index(engine=engine, root=settings.index_dir, embedder=None)
    before = _counts(engine)
    stable = {v for v in before[2] if v[0] != noisy["id"]}
    secret = (settings.data_dir / "secret_key").read_text()

    stop = threading.Event()

    def keep_writing() -> None:  # the site stays busy while the backup runs
        while not stop.is_set():
            with engine.begin() as conn:
                if not community.add_vote(conn=conn, user_id=noisy["id"], paper_id=ids[2]):
                    community.remove_vote(conn=conn, user_id=noisy["id"], paper_id=ids[2])

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        backup = subprocess.run(
            ["sh", str(REPO / "deploy" / "backup.sh"), str(tmp_path / "backups")],
            env=_env(settings.data_dir, settings.database_url, tools),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop.set()
        writer.join()
    assert backup.returncode == 0, backup.stderr
    folder = Path(backup.stdout.strip().splitlines()[-1])
    manifest = (folder / "MANIFEST").read_text()
    assert f"database={'postgresql' if postgres else 'sqlite'}" in manifest
    assert (folder / ("database.dump" if postgres else "database.sqlite3")).stat().st_size > 0

    target_dir = tmp_path / "restored"
    target_url = _fresh_database(settings, tmp_path, request)
    restore = subprocess.run(
        ["sh", str(REPO / "deploy" / "restore.sh"), str(folder)],
        env=_env(target_dir, target_url, tools),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restore.returncode == 0, restore.stderr
    restored = make_engine(target_url)
    try:
        n_papers, n_users, voted = _counts(restored)
    finally:
        restored.dispose()
    assert (n_papers, n_users) == (3, 3)
    assert stable <= voted and len(voted - stable) <= 1  # the noisy vote: either state
    assert (target_dir / "secret_key").read_text() == secret
    assert (target_dir / "index" / "CURRENT").exists()
    with tarfile.open(folder / "files.tar.gz") as files:  # no live database or lock files
        names = files.getnames()
    assert "./secret_key" in names
    assert not [n for n in names if n.endswith((".lock", ".sqlite3", "-wal", "-shm"))]

    # A second restore over the restored site is refused without --force (SQLite).
    if not postgres:
        again = subprocess.run(
            ["sh", str(REPO / "deploy" / "restore.sh"), str(folder)],
            env=_env(target_dir, target_url, tools),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode != 0 and "--force" in again.stderr


def test_scripts_are_posix_sh() -> None:
    """The deploy scripts parse with sh -n (and with shellcheck when it is installed)."""
    scripts = sorted((REPO / "deploy").glob("*.sh"))
    assert {p.name for p in scripts} >= {"backup.sh", "restore.sh", "entrypoint.sh"}
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        check = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
