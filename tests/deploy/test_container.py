"""The container and service files: Dockerfile, compose.yaml, the entrypoint, systemd units and
proxy examples. No container engine runs here: the image is checked as text, the entrypoint
is run as a script against the installed package (docs/operations.md says what is not run)."""

from __future__ import annotations

import configparser
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from dailypapers.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENTRYPOINT = REPO / "deploy" / "entrypoint.sh"
# Variables the entrypoint reads (the others are settings).
ENTRYPOINT_VARS = {"DAILYPAPERS_HOST", "DAILYPAPERS_PORT", "DAILYPAPERS_WORKERS", "DAILYPAPERS_BIN"}


def _final_stage(dockerfile: str) -> list[str]:
    lines = [ln.strip() for ln in dockerfile.replace("\\\n", " ").splitlines()]
    instructions = [ln for ln in lines if ln and not ln.startswith("#")]
    last_from = max(i for i, ln in enumerate(instructions) if ln.upper().startswith("FROM "))
    return instructions[last_from:]


def test_dockerfile_is_small_non_root_and_checked() -> None:
    """slim base, a non-root USER, one /data volume, a HEALTHCHECK on /livez, no secrets."""
    text = (REPO / "Dockerfile").read_text()
    final = _final_stage(text)
    assert final[0] == "FROM python:3.11-slim"
    users = [ln.split(None, 1)[1] for ln in final if ln.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(ln.startswith("VOLUME") and '"/data"' in ln for ln in final)
    health = next(ln for ln in final if ln.startswith("HEALTHCHECK"))
    assert "/livez" in health
    assert any(ln.startswith("ENTRYPOINT") and "entrypoint.sh" in ln for ln in final)
    assert "DAILYPAPERS_DATA_DIR=/data" in text
    # Nothing secret baked in: no key, password or token given a value in ENV or ARG.
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith(("ENV", "ARG")):
            assert not re.search(r"(SECRET|PASSWORD|TOKEN)[A-Z_]*=\S", line), line
    # Every file the image copies from the build context exists and is let in by .dockerignore.
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*")] == "*"  # allow-list: .venv, data/, .env never go in
    for line in (ln for ln in text.splitlines() if ln.startswith("COPY") and "--from" not in ln):
        for source in line.split()[1:-1]:
            assert (REPO / source).exists(), source
            top = source.rstrip("/").split("/")[0]
            assert any(
                rule.lstrip("!").rstrip("/") == top for rule in ignore if rule.startswith("!")
            )


def test_compose_file_has_postgres_web_and_one_job_runner() -> None:
    """compose.yaml parses; pgvector PostgreSQL, web and jobs on one image; env is documented."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "web", "jobs"}
    assert services["db"]["image"] == "pgvector/pgvector:pg17"
    assert services["db"]["healthcheck"]["test"]
    assert services["web"]["command"] == ["web"] and services["jobs"]["command"] == ["jobs"]
    assert services["web"]["image"] == services["jobs"]["image"]
    assert "replicas" not in json.dumps(services["jobs"])  # one runner
    fields = {f"DAILYPAPERS_{name.upper()}" for name in Settings.model_fields}
    for role in ("web", "jobs"):
        service = services[role]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert "data:/data" in service["volumes"]
        env = service["environment"]
        assert env["DAILYPAPERS_DATABASE_URL"].startswith("postgresql+psycopg://")
        unknown = {k for k in env if k.startswith("DAILYPAPERS_")} - fields - ENTRYPOINT_VARS
        assert not unknown, f"not settings: {unknown}"
        # Secrets come from .env, never written in the file.
        for key, value in env.items():
            if re.search(r"SECRET|PASSWORD|TOKEN", key):
                assert str(value).startswith("${"), key
    assert "${POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]
    example = (REPO / "deploy" / "compose.env.example").read_text()
    assert "POSTGRES_PASSWORD=" in example


def test_systemd_units_run_the_commands_that_exist() -> None:
    """The units parse, point at serve and jobs --once, and the timers are persistent."""
    units = {}
    for path in sorted((REPO / "deploy" / "systemd").iterdir()):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text())
        units[path.name] = parser
    web = units["dailypapers-web.service"]["Service"]
    assert web["ExecStart"].split()[1:3] == ["serve", "--host"]
    assert "db upgrade" in web["ExecStartPre"]
    assert web["User"] == "dailypapers"
    jobs = units["dailypapers-jobs.service"]["Service"]
    assert jobs["Type"] == "oneshot" and jobs["ExecStart"].endswith("jobs --once")
    for timer in ("dailypapers-jobs.timer", "dailypapers-backup.timer"):
        assert units[timer]["Timer"]["Persistent"] == "true"
        assert units[timer]["Timer"]["OnCalendar"]


def test_proxy_examples_pass_the_forwarded_headers() -> None:
    """nginx and Caddy terminate TLS and forward the client address and scheme."""
    nginx = (REPO / "deploy" / "nginx.conf").read_text()
    for needle in ("listen 443 ssl", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
        assert needle in nginx
    caddy = (REPO / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8000" in caddy and "X-Request-ID" in caddy


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")}
    env.update(
        DAILYPAPERS_DATA_DIR=str(tmp_path / "data"),
        DAILYPAPERS_BIN=str(BIN / "dailypapers"),
        DAILYPAPERS_SEMANTIC_SEARCH="false",
        PATH=f"{BIN}:{os.environ['PATH']}",
        **extra,
    )
    return env


def test_entrypoint_migrates_then_runs_the_role(tmp_path: Path) -> None:
    """``migrate`` creates the database; ``jobs --once`` migrates then runs; others pass through."""
    migrated = _entrypoint(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "data" / "dailypapers.sqlite3").exists()
    version = _entrypoint(tmp_path, "dailypapers", "--version")
    assert version.returncode == 0 and "dailypapers" in version.stdout
    jobs = _entrypoint(tmp_path, "jobs", "--once", "--no-ingest")
    assert jobs.returncode == 0, jobs.stderr
    assert "migrating the database" in jobs.stderr
    assert "index: ok" in jobs.stdout
    other = _entrypoint(tmp_path, "echo", "any", "command")
    assert other.returncode == 0 and other.stdout == "any command\n"
    failing = _entrypoint(tmp_path, "jobs", "--no-such-option")
    assert failing.returncode != 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_entrypoint_web_serves_probes_and_json_access_logs(tmp_path: Path) -> None:
    """``web``: migrate, serve; /livez answers, the access log is JSON with the request id."""
    port = _free_port()
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "web"],
        env=_env(
            tmp_path,
            DAILYPAPERS_HOST="127.0.0.1",
            DAILYPAPERS_PORT=str(port),
            DAILYPAPERS_WORKERS="1",
            DAILYPAPERS_LOG_FORMAT="json",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        while True:  # wait for readiness to listen, as long as the process lives
            assert process.poll() is None, process.communicate()[1][-2000:]
            try:
                request = urllib.request.Request(f"{url}/livez", headers={"X-Request-ID": "t-1"})
                with urllib.request.urlopen(request, timeout=5) as live:
                    assert live.status == 200 and live.headers["X-Request-ID"] == "t-1"
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"{url}/readyz", timeout=5)
        assert not_ready.value.code == 503  # no index built yet
        assert json.loads(not_ready.value.read())["missing"] == ["index"]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    lines = [json.loads(ln) for ln in stderr.splitlines() if ln.startswith("{")]
    access = [ln for ln in lines if ln["logger"] == "dailypapers.access"]
    first = next(ln for ln in access if ln.get("request_id") == "t-1")
    assert first["path"] == "/livez" and first["status"] == 200 and first["method"] == "GET"
    assert "duration_ms" in first
    assert any(ln["path"] == "/readyz" and ln["status"] == 503 for ln in access)


def test_a_web_worker_starts_small_and_freezes_what_it_built(tmp_path: Path) -> None:
    """The worker entry point (what uvicorn imports in each worker) moves its start-up heap
    out of the collector's generations, so full collections walk only what requests make,
    and leaves out what only other commands use (migrations, the arXiv client's httpx with
    rich and pygments: 15 MiB of a worker), and the model (index/embed_service.py)."""
    code = (
        "import gc, sys, dailypapers.web.asgi; "
        "print(sorted({'alembic', 'mako', 'httpx', 'rich', 'pygments', 'onnxruntime'} "
        "& set(sys.modules)), gc.get_freeze_count())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split()[0] == "[]", done.stdout
    assert int(done.stdout.split()[-1]) > 10_000
