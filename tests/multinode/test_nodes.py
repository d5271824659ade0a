"""Two web nodes on one PostgreSQL: builds published once, followed by every node; new papers
found on every node after one poll, through the live delta; and the same delta on SQLite."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, update

from dailypapers.index import delta as delta_module
from dailypapers.index.build import embed_stale, run_index
from dailypapers.storage import generations
from dailypapers.storage.schema import papers
from tests.multinode.conftest import Node, ingest
from tests.search.conftest import Memoised


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("builds are published for other nodes on PostgreSQL only")


def test_a_new_node_serves_search_without_running_index(
    engine: Engine, make_node: Any, embedder: Memoised, rows: list[dict[str, Any]]
) -> None:
    _postgres_only(engine)
    a, b = make_node("a"), make_node("b")
    ingest(engine, rows, "corpus")
    run_index(engine=engine, root=a.settings.index_dir, embedder=embedder)
    # Node B has an empty data directory: not ready, and it says why.
    before = b.client.get("/readyz").json()
    assert before["checks"]["index"].startswith("missing")
    assert b.client.get("/api/papers/search", params={"q": "language"}).status_code == 503
    b.follower.poll()
    assert b.client.get("/readyz").json()["checks"]["index"] == "ok"
    health = b.client.get("/health").json()["index"]
    assert health["state"] == "ok" and health["papers"] == len(rows)
    assert (
        health["serving"]
        == health["published"]
        == a.client.get("/health").json()["index"]["serving"]
    )
    paper = rows[3]
    for mode in ("keyword", "semantic", "hybrid"):
        assert b.search(paper["title"], mode)[0] == paper["id"], mode
    assert b.related(paper["id"]) == a.related(paper["id"]) != []
    # The files are B's own copy, checked against the published sizes and hashes.
    served = b.settings.index_dir / health["serving"]
    assert served.is_dir() and (served / "vectors.npy").stat().st_size > 0


def test_nodes_follow_a_newer_build_and_old_generations_are_pruned(
    engine: Engine, make_node: Any, rows: list[dict[str, Any]]
) -> None:
    _postgres_only(engine)
    a, b = make_node("a"), make_node("b")
    ingest(engine, rows[:30], "first")
    run_index(engine=engine, root=a.settings.index_dir, embedder=None)
    b.follower.poll()
    first = b.client.get("/health").json()["index"]["serving"]
    ingest(engine, rows[30:], "second")
    for _ in range(2):
        run_index(engine=engine, root=a.settings.index_dir, embedder=None)
    assert b.follower.poll().published != first
    index = b.client.get("/health").json()["index"]
    assert index["serving"] == index["published"] and index["papers"] == len(rows)
    assert b.follower.poll().delta_papers == 0  # everything is in the base
    with engine.connect() as conn:
        assert generations.count(conn=conn) == 2


def test_new_papers_are_found_on_every_node_after_one_poll(
    engine: Engine,
    make_node: Any,
    embedder: Memoised,
    rows: list[dict[str, Any]],
    spare_rows: list[dict[str, Any]],
) -> None:
    """The live delta: no `index` run, found by title, semantically and in related papers."""
    nodes: list[Node] = [make_node("a")]
    if engine.dialect.name == "postgresql":
        nodes.append(make_node("b"))
    ingest(engine, rows, "corpus")
    run_index(engine=engine, root=nodes[0].settings.index_dir, embedder=embedder)
    for node in nodes:
        node.follower.poll()
    new = spare_rows[0]
    assert all(new["id"] not in node.search(new["title"], "keyword") for node in nodes)
    ingest(engine, [new], "new")
    # The ingesting side (the job runner) embeds what is new, once for every node.
    assert embed_stale(engine=engine, embedder=embedder)[0] == 1
    for node in nodes:
        assert node.follower.poll().delta_papers >= 1
    for node in nodes:
        for mode in ("keyword", "hybrid", "semantic"):
            assert node.search(new["title"], mode)[0] == new["id"], mode
        assert new["id"] in node.search(new["abstract"][:300], "semantic", limit=3)
        neighbour = node.related(new["id"])[0]
        assert new["id"] in node.related(neighbour, limit=10)
        health = node.client.get("/health").json()["index"]
        assert health["delta_papers"] >= 1 and health["papers"] == len(rows)


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many changes each of this test's delta refreshes read, in order."""
    counts: list[int] = []
    changes_since = delta_module.repo.changes_since
    # Only this test's polls (they run on its thread): another app's follower thread in this
    # process, polling on its own clock, calls the same function and is not counted.
    ours = threading.get_ident()

    def counted(**kw: Any) -> Any:
        found = changes_since(**kw)
        if threading.get_ident() == ours:
            counts.append(len(found))
        return found

    monkeypatch.setattr(delta_module.repo, "changes_since", counted)
    return counts


@pytest.fixture
def node(engine: Engine, make_node: Any, embedder: Memoised, rows: list[dict[str, Any]]) -> Node:
    """Node "a" serving a build of the corpus, ingested just before it (every paper in the
    overlap before the watermark, as after a bulk ingest)."""
    node: Node = make_node("a")
    ingest(engine, rows, "corpus")
    run_index(engine=engine, root=node.settings.index_dir, embedder=embedder)
    return node


def test_a_refresh_does_not_read_again_what_an_earlier_one_read(
    engine: Engine,
    node: Node,
    spare_rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    read: list[int],
) -> None:
    # A bulk ingest just before the build: its papers sit in the overlap before the watermark.
    # With a short overlap, the first refresh reads them, the next ones no longer do.
    monkeypatch.setattr(delta_module, "OVERLAP", dt.timedelta(milliseconds=1))
    node.follower.poll()
    node.follower.poll()
    node.follower.poll()
    assert read[0] >= 1 and read[1:] == [0, 0], read
    # What changes afterwards is read, once.
    new = spare_rows[0]
    ingest(engine, [new], "new")
    assert node.follower.poll().delta_papers == 1
    assert node.search(new["title"], "keyword")[0] == new["id"]
    node.follower.poll()
    assert read[-2:] == [1, 0], read


def test_a_bulk_ingest_is_read_again_by_one_sweep_not_by_every_poll(
    engine: Engine,
    node: Node,
    rows: list[dict[str, Any]],
    spare_rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    read: list[int],
) -> None:
    """With the real two-minute overlap: a poll reads again only NEAR before the previous one
    began, and a sweep once per overlap reads the whole overlap, so a write that committed
    long after its stamp still shows (at the sweep)."""
    shift = [dt.timedelta(0)]
    real_now = delta_module.now
    monkeypatch.setattr(delta_module, "now", lambda: real_now() + shift[0])
    second = dt.timedelta(seconds=1)
    for at in (0 * second, delta_module.NEAR + 5 * second, 2 * delta_module.NEAR + 10 * second):
        shift[0] = at
        node.follower.poll()
    # The first poll reads the overlap before the watermark, the next one what was stamped
    # NEAR before the first began (the ingest, again); after that, nothing.
    assert read[0] >= len(rows) and read[1] >= len(rows) and read[2] == 0, read
    # A paper whose write stamped it a minute before it committed: older than NEAR.
    late = spare_rows[0]
    ingest(engine, [late], "late")
    with engine.begin() as conn:
        conn.execute(
            update(papers)
            .where(papers.c.id == late["id"])
            .values(modified_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    shift[0] = 2 * delta_module.NEAR + 20 * second
    assert node.follower.poll().delta_papers == 0 and read[3] == 0, read
    shift[0] = delta_module.OVERLAP + second  # an overlap after the first sweep: a sweep
    assert node.follower.poll().delta_papers == 1
    assert read[4] >= len(rows) + 1, read
    assert node.search(late["title"], "keyword")[0] == late["id"]
    shift[0] = delta_module.OVERLAP + 11 * second
    node.follower.poll()
    assert read[5] == 0, read


def test_a_delta_paper_scores_as_it_would_in_a_rebuilt_base(
    engine: Engine, node: Node, embedder: Memoised, spare_rows: list[dict[str, Any]]
) -> None:
    """Same BM25 weights (the base's statistics) and the same vectors: a query's scores of
    the delta paper equal those after `index`, up to the base statistics it changes."""
    ingest(engine, spare_rows[:1], "new")
    embed_stale(engine=engine, embedder=embedder)
    node.follower.poll()
    query = spare_rows[0]["title"]
    live = node.client.get("/api/papers/search", params={"q": query, "mode": "semantic"})
    run_index(engine=engine, root=node.settings.index_dir, embedder=embedder)
    node.follower.poll()
    rebuilt = node.client.get("/api/papers/search", params={"q": query, "mode": "semantic"})
    assert [i["paper"]["id"] for i in live.json()] == [i["paper"]["id"] for i in rebuilt.json()]
    assert live.json()[0]["score"] == pytest.approx(rebuilt.json()[0]["score"], abs=1e-5)
    assert node.follower.poll().delta_papers == 0


def test_a_changed_paper_shows_once_with_its_new_text(
    engine: Engine, make_node: Any, rows: list[dict[str, Any]]
) -> None:
    node = make_node("a", semantic_search=False)
    ingest(engine, rows, "corpus")
    run_index(engine=engine, root=node.settings.index_dir, embedder=None)
    changed = dict(rows[5], title="Zyxwvut quasiparticle lattice renormalisation")
    ingest(engine, [changed], "changed")
    node.follower.poll()
    assert node.search("zyxwvut", "keyword") == [changed["id"]]
    assert node.search(rows[5]["title"], "keyword").count(changed["id"]) <= 1


def test_the_follower_thread_polls_by_itself(
    engine: Engine, make_node: Any, rows: list[dict[str, Any]], spare_rows: list[dict[str, Any]]
) -> None:
    """With ``index_follow_seconds`` set, the app's own thread follows (no explicit poll)."""
    ingest(engine, rows, "corpus")
    builder = make_node("builder", semantic_search=False)
    run_index(engine=engine, root=builder.settings.index_dir, embedder=None)
    ingest(engine, spare_rows[:1], "new")
    node = make_node("b", semantic_search=False, index_follow_seconds=0.05)
    if engine.dialect.name != "postgresql":  # nothing is published: the local build is the base
        run_index(engine=engine, root=node.settings.index_dir, embedder=None)
        ingest(engine, spare_rows[1:2], "newer")
    new = spare_rows[0] if engine.dialect.name == "postgresql" else spare_rows[1]
    polls = node.follower.polls
    while node.follower.polls < polls + 2:  # two rounds after the paper was stored
        time.sleep(0.01)
    assert node.search(new["title"], "keyword")[0] == new["id"]


def test_metrics_count_the_papers_in_the_live_delta(
    engine: Engine, make_node: Any, rows: list[dict[str, Any]], spare_rows: list[dict[str, Any]]
) -> None:
    node = make_node("a", semantic_search=False, metrics_token="t" * 32)
    ingest(engine, rows, "corpus")
    run_index(engine=engine, root=node.settings.index_dir, embedder=None)
    ingest(engine, spare_rows[:2], "new")
    node.follower.poll()
    text = node.client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32}).text
    assert "dailypapers_index_delta_papers 2" in text
