"""Issue 11, items 4 and 5: a damaged search index never takes the site down, ``index`` never
switches to a build it cannot open, killed builds leave nothing behind, and ``--no-embed``
keeps the stored vectors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dailypapers.cli.main import cli
from dailypapers.index import snapshot as snapshot_module
from dailypapers.index.build import build, run_index
from dailypapers.index.embedder import default_embedder
from dailypapers.index.snapshot import Snapshot, SnapshotStore
from dailypapers.queries.search import Searcher
from dailypapers.settings import Settings
from tests.search.conftest import Memoised, ingest_rows, sample_records

PAPERS = 20


@pytest.fixture(scope="module")
def embedder() -> Memoised:
    """The real model, its vectors remembered for this module."""
    return Memoised(default_embedder())


@pytest.fixture
def indexed(engine: Engine, settings: Settings, embedder: Memoised) -> list[dict[str, object]]:
    """Twenty real papers, embedded and indexed; returns their sample rows."""
    rows = sample_records(PAPERS)
    ingest_rows(engine, rows)
    run_index(engine=engine, root=settings.index_dir, embedder=embedder)
    return rows


def current_build(root: Path) -> Path:
    return root / (root / "CURRENT").read_text().strip()


def truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def garble_keeping_size(path: Path) -> None:
    """Overwrite an array's data (not its header) with large numbers, keeping its size."""
    with path.open("r+b") as handle:
        major, _ = np.lib.format.read_magic(handle)
        if major == 1:
            np.lib.format.read_array_header_1_0(handle)
        else:
            np.lib.format.read_array_header_2_0(handle)
        start = handle.tell()
        handle.write(b"\x7f" * (path.stat().st_size - start))


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


# Damage to the only build's files, or a CURRENT that names no build that exists.
DAMAGES: list[tuple[str, Callable[[Path, Path], None]]] = [
    ("vectors.npy missing", lambda root, b: (b / "vectors.npy").unlink()),
    ("bm25.indices.npy missing", lambda root, b: (b / "bm25.indices.npy").unlink()),
    ("bm25.data.npy truncated", lambda root, b: truncate(b / "bm25.data.npy")),
    ("vectors.npy truncated while mapped", lambda root, b: truncate(b / "vectors.npy")),
    ("bm25.indices.npy garbled", lambda root, b: garble_keeping_size(b / "bm25.indices.npy")),
    ("keyword.json garbled", lambda root, b: write(b / "keyword.json", b"\x00{garbage")),
    ("snapshot.json garbled", lambda root, b: write(b / "snapshot.json", b"not json")),
    ("doc_ids.npy emptied", lambda root, b: write(b / "doc_ids.npy", b"")),
    ("CURRENT names a deleted build", lambda root, b: shutil.rmtree(b)),
]
# A damaged CURRENT while a good build exists: searches use that build, /health complains.
POINTER_DAMAGES: list[tuple[str, Callable[[Path, Path], None]]] = [
    ("CURRENT empty", lambda root, b: write(root / "CURRENT", b"")),
    ("CURRENT names no build", lambda root, b: write(root / "CURRENT", b"build-gone")),
    ("CURRENT points outside", lambda root, b: write(root / "CURRENT", b"../../etc")),
    ("CURRENT garbled", lambda root, b: write(root / "CURRENT", b"\xff\xfe\x00")),
    ("CURRENT deleted", lambda root, b: (root / "CURRENT").unlink()),
]


def fresh_build(root: Path, pristine: Path, number: int) -> Path:
    """A healthy copy of the pristine build under a new name, the only one, made current."""
    for old in root.glob("build-*"):
        shutil.rmtree(old)
    build_dir = root / f"build-20200101T{number:012d}"
    shutil.copytree(pristine, build_dir)
    (root / "CURRENT").write_text(build_dir.name)
    return build_dir


def assert_degraded(client: TestClient, damage: str) -> None:
    health = client.get("/health")
    assert health.status_code == 200, damage
    body = health.json()
    assert body["status"] == "degraded" and body["database"] == "ok", damage
    assert body["index"]["state"] == "broken" and body["index"]["problem"], damage


def test_a_damaged_index_never_takes_pages_down(
    client: TestClient, settings: Settings, indexed: list[dict[str, object]]
) -> None:
    root = settings.index_dir
    pristine = root.parent / "pristine"
    shutil.copytree(current_build(root), pristine)
    query = str(indexed[0]["title"])
    for number, (damage, apply) in enumerate(DAMAGES + POINTER_DAMAGES):
        build_dir = fresh_build(root, pristine, number)
        before = client.get("/api/papers/search", params={"q": query})  # maps its files
        assert before.status_code == 200 and before.json(), damage
        apply(root, build_dir)
        falls_back = (damage, apply) in POINTER_DAMAGES

        paper = indexed[number + 1]  # a paper page not served before (pages are cached)
        page = client.get(f"/papers/{paper['id']}")
        assert page.status_code == 200, damage
        assert str(paper["title"])[:30] in page.text
        assert ("Related papers" in page.text) == falls_back, damage

        html = client.get("/search", params={"q": query})
        api = client.get("/api/papers/search", params={"q": query})
        related = client.get(f"/api/papers/{paper['id']}/similar")
        assert related.status_code == 200 and bool(related.json()) == falls_back, damage
        if falls_back:
            assert html.status_code == 200, damage
            assert api.json()[0]["paper"]["id"] == indexed[0]["id"], damage
        else:
            assert html.status_code == 503 and html.headers["retry-after"], damage
            assert "search index is damaged" in html.text
            assert api.status_code == 503 and api.headers["retry-after"], damage
            assert "damaged" in api.json()["error"]
        assert_degraded(client, damage)


def test_cli_search_explains_a_damaged_index(
    cli_env: dict[str, str], settings: Settings, indexed: list[dict[str, object]]
) -> None:
    (current_build(settings.index_dir) / "bm25.terms.npy").write_text("{")
    result = CliRunner().invoke(cli, ["search", "language", "--mode", "keyword"])
    assert result.exit_code == 1
    assert "damaged" in result.output and "bm25.terms.npy" in result.output


def test_search_falls_back_to_the_previous_good_build(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    embedder: Memoised,
    indexed: list[dict[str, object]],
) -> None:
    root = settings.index_dir
    older = current_build(root)
    time.sleep(0.001)  # build names are timestamps
    build(engine=engine, root=root, model=embedder.key)
    newest = current_build(root)
    assert newest != older
    truncate(newest / "bm25.indices.npy")

    found = client.get("/api/papers/search", params={"q": str(indexed[3]["title"])})
    assert found.status_code == 200 and found.json()[0]["paper"]["id"] == indexed[3]["id"]
    assert "Related papers" in client.get(f"/papers/{indexed[4]['id']}").text
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    index = health["index"]
    assert index["state"] == "broken" and "bm25.indices.npy" in index["problem"]
    assert index["build"] == newest.name and index["serving"] == older.name


def test_health_reports_a_good_index_with_its_build_and_age(
    client: TestClient, settings: Settings, indexed: list[dict[str, object]]
) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok"
    index = health["index"]
    assert index["state"] == "ok" and index["build"] == current_build(settings.index_dir).name
    assert index["papers"] == PAPERS and 0 <= index["age_seconds"] < 3600


def test_index_refuses_to_switch_to_a_build_it_cannot_open(
    cli_env: dict[str, str],
    settings: Settings,
    indexed: list[dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = settings.index_dir
    good = current_build(root)
    write_files = snapshot_module._write

    def write_then_damage(tmp: Path, *args: object, **kwargs: object) -> None:
        write_files(tmp, *args, **kwargs)  # type: ignore[arg-type]
        truncate(tmp / "published.npy")  # as a disk would after the manifest was written

    monkeypatch.setattr(snapshot_module, "_write", write_then_damage)
    result = CliRunner().invoke(cli, ["index", "--no-embed", "--no-progress"])
    assert result.exit_code == 1
    assert "could not be opened" in result.output and "published.npy" in result.output
    assert current_build(root) == good
    assert sorted(p.name for p in root.iterdir() if p.name != "CURRENT") == [good.name]
    monkeypatch.undo()
    assert Searcher(SnapshotStore(root), None).store.status().state == "ok"


KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
from dailypapers.index import snapshot
from dailypapers.index.keyword import KeywordIndex

def die(self, directory):
    (directory / "bm25.data.npy").write_bytes(b"half")
    os.kill(os.getpid(), signal.SIGKILL)

KeywordIndex.save = die
snapshot.build_snapshot(Path(sys.argv[1]), [], {}, model=None, revision=0)
"""


def test_killed_builds_leave_no_temporary_folders(
    cli_env: dict[str, str], settings: Settings, indexed: list[dict[str, object]]
) -> None:
    root = settings.index_dir
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(root)], check=False)
    assert killed.returncode == -9
    leftovers = [p.name for p in root.glob(".tmp-*")]
    assert len(leftovers) == 1
    old_style = root / ".tmp-20200101T000000000000"  # no owner recorded: judged by age
    old_style.mkdir()
    hours_ago = time.time() - snapshot_module.STALE_TMP_SECONDS - 60
    os.utime(old_style, (hours_ago, hours_ago))
    running = root / f".tmp-20990101T000000000000-{os.getpid()}@{socket.gethostname()}"
    running.mkdir()  # a build that is still running: left alone

    result = CliRunner().invoke(cli, ["index", "--no-embed", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in root.glob(".tmp-*")] == [running.name]


def test_index_no_embed_keeps_the_stored_vectors(
    cli_env: dict[str, str],
    engine: Engine,
    settings: Settings,
    embedder: Memoised,
    indexed: list[dict[str, object]],
) -> None:
    extra = {**sample_records(PAPERS + 1)[-1]}
    extra["id"] = "2606.99999"
    ingest_rows(engine, [extra], key="extra")
    result = CliRunner().invoke(cli, ["index", "--no-embed", "--no-progress"])
    assert result.exit_code == 0 and "embedded 0 papers" in result.output

    built = Snapshot(current_build(settings.index_dir))
    assert built.vectors is not None and built.model == embedder.key
    with_vector = np.flatnonzero(np.any(np.asarray(built.vectors) != 0, axis=1))
    assert len(with_vector) == PAPERS  # every stored vector kept; the new paper has none
    assert built.positions(["2606.99999"])[0] not in with_vector

    searcher = Searcher(SnapshotStore(settings.index_dir), embedder)
    with engine.connect() as conn:
        assert searcher.similar(conn=conn, arxiv_id=str(indexed[0]["id"]), limit=3)
        semantic = searcher.search(conn=conn, q="language models", mode="semantic")
    assert semantic.hits and semantic.unavailable is None
