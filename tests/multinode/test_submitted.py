"""A paper a user submits on one node (fetched from arXiv) is found on the other node after
one poll, without `index`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from dailypapers.index.build import run_index
from dailypapers.storage.papers import get_paper
from tests.community.conftest import login, make_member  # noqa: F401 - the fixture
from tests.multinode.conftest import ingest


def test_a_submitted_paper_is_found_on_every_node(
    engine: Engine,
    make_node: Any,
    make_member: Any,  # noqa: F811 - the fixture imported above
    arxiv_server: Any,
    rows: list[dict[str, Any]],
) -> None:
    overrides = {"arxiv_api_url": f"{arxiv_server.url}/api/query", "submit_window_days": 100_000}
    a = make_node("a", semantic_search=False, **overrides)
    b = make_node("b", semantic_search=False, **overrides)
    ingest(engine, rows, "corpus")
    run_index(engine=engine, root=a.settings.index_dir, embedder=None)
    a.follower.poll()
    b.follower.poll()
    ada = make_member("ada")
    login(a.client, ada.email)
    token = a.client.get("/submit").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = a.client.post(
        "/submit", data={"csrf_token": token, "ref": "1605.08386"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    with engine.connect() as conn:
        paper = get_paper(conn=conn, arxiv_id="1605.08386")
    assert paper is not None
    nodes = [a, b] if engine.dialect.name == "postgresql" else [a]
    for node in nodes:
        node.follower.poll()
        assert node.search(paper["title"], "keyword")[0] == "1605.08386"
