"""Issue 13: the real Hugging Face clients against a live server of ours.

``huggingface_hub``'s ``HfApi(endpoint=...)`` (every papers method and option), its ``hf
papers`` CLI run as a subprocess with ``HF_ENDPOINT``, and ``pyhfapi`` (a client generated
from HF's OpenAPI spec) with strict response validation. One live server per backend.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import get_session
from huggingface_hub.utils._pagination import paginate
from pyhfapi import HuggingFace

from tests.openformats.hf_site import (
    HF_EXCERPT,
    MATH_ABSTRACT,
    MATH_ID,
    SUBMITTED,
    UNLISTED,
    HfSite,
    serve,
)

BACKENDS = [
    b for b in os.environ.get("DAILYPAPERS_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]
HF_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HF_BIN = Path(sys.executable).parent / "hf"


@pytest.fixture(scope="module", params=BACKENDS)
def hf_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HfSite]:
    """The site on a live server, one per backend for the module."""
    backend: str = request.param
    with serve(request, tmp_path_factory.mktemp(f"hf-{backend}"), backend) as site:
        yield site


@pytest.fixture
def api(hf_site: HfSite) -> HfApi:
    """``HfApi`` pointed at the live server, without a token."""
    return HfApi(endpoint=hf_site.url, token=False)


def _ids(papers: Any) -> list[str]:
    return [paper.id for paper in papers]


def test_list_daily_papers_with_every_option(api: HfApi, hf_site: HfSite) -> None:
    latest = list(api.list_daily_papers())
    assert sorted(_ids(latest)) == sorted([*hf_site.hf_ids, SUBMITTED[0]])
    by_date = list(api.list_daily_papers(date="2024-10-24"))
    assert sorted(_ids(by_date)) == [MATH_ID, "2410.20002"]
    week = _ids(api.list_daily_papers(week="2024-W43"))
    assert MATH_ID in week and "2410.20003" not in week and len(week) == 7
    assert "2410.20003" in _ids(api.list_daily_papers(week="2024-W42"))
    month = _ids(api.list_daily_papers(month="2024-09"))
    assert month == ["2409.20004"]
    paged = [_ids(api.list_daily_papers(week="2024-W43", limit=3, p=p)) for p in range(3)]
    assert [len(page) for page in paged] == [3, 3, 1]
    assert sorted(i for page in paged for i in page) == sorted(week)
    trending = _ids(api.list_daily_papers(week="2024-W43", sort="trending", limit=2))
    assert len(trending) == 2
    # The HF import keeps the real upvote counts: the two HF papers lead the week's trending.
    assert set(trending) == set(hf_site.hf_ids)
    with pytest.raises(HfHubHTTPError) as refused:
        list(api.list_daily_papers(date="2024-02-30"))
    assert refused.value.response.status_code == 422


def test_submitter_without_a_period_lists_all_their_submissions(api: HfApi) -> None:
    assert _ids(api.list_daily_papers(submitter="ada")) == SUBMITTED  # newest first
    assert _ids(api.list_daily_papers(submitter="ada", limit=2, p=1)) == SUBMITTED[2:]
    assert _ids(api.list_daily_papers(submitter="ada", date="2024-10-23")) == [SUBMITTED[1]]
    papers = list(api.list_daily_papers(submitter="ada"))
    assert {p.submitted_by.username for p in papers} == {"ada"}
    # Papers nobody submitted are the documented system submitter's.
    system = list(api.list_daily_papers(submitter="arxiv", date="2024-10-24"))
    assert sorted(_ids(system)) == [MATH_ID, "2410.20002"]
    assert {p.submitted_by.username for p in system} == {"arxiv"}
    assert list(api.list_daily_papers(submitter="nobody-at-all")) == []


def test_listing_time_and_submitter_of_hf_imports(api: HfApi, hf_site: HfSite) -> None:
    raw = json.loads(HF_EXCERPT.read_text())
    by_id = {p.id: p for p in api.list_daily_papers(date="2024-10-25")}
    for entry in raw:
        paper = by_id[entry["paper"]["id"]]
        # HF's own listing time and the submitter's full name, not the time of the import.
        assert paper.submitted_at == _parse(entry["publishedAt"])
        assert paper.submitted_by.fullname == entry["submittedBy"]["fullname"]
        assert paper.submitted_by.username == entry["submittedBy"]["name"]
        assert paper.upvotes == entry["paper"]["upvotes"]
    # Featured with no submitter: listed at the day's arXiv announcement (midnight New York).
    featured = next(p for p in api.list_daily_papers(date="2024-10-24") if p.id == MATH_ID)
    assert featured.submitted_at == dt.datetime(2024, 10, 24, 4, 0, tzinfo=dt.UTC)


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_paper_info(api: HfApi) -> None:
    info = api.paper_info(MATH_ID)
    assert info.id == MATH_ID
    assert info.title == "Stable laws with $\\alpha$ bounds"
    assert info.summary == MATH_ABSTRACT
    assert [a.name for a in info.authors or []] == ["Ada Lovelace", "Alan Turing"]
    assert all(a.hidden is False for a in info.authors or [])
    assert info.published_at == dt.datetime(2024, 10, 23, 17, 0, tzinfo=dt.UTC)
    assert info.upvotes == 0 and info.discussion_id == MATH_ID
    assert info.comments == 1
    assert info.submitted_by is not None and info.submitted_by.username == "arxiv"
    assert api.paper_info(f"{MATH_ID}v3").id == MATH_ID
    unlisted = api.paper_info(UNLISTED)
    assert unlisted.submitted_at is None and unlisted.submitted_by is None
    with pytest.raises(HfHubHTTPError) as missing:
        api.paper_info("2410.99999")
    assert missing.value.response.status_code == 404


def test_search_with_list_papers(api: HfApi, hf_site: HfSite) -> None:
    found = _ids(api.list_papers(query="graph transformers"))
    assert found[0] == "2410.20002"
    assert len(_ids(api.list_papers(query="paper", limit=2))) == 2
    assert len(list(api.list_papers(query="paper", limit=120))) >= 5  # HF allows up to 120
    for typed in (UNLISTED, f"https://arxiv.org/abs/{UNLISTED}v1", f"arXiv:{UNLISTED}"):
        assert _ids(api.list_papers(query=typed))[0] == UNLISTED
    with pytest.raises(HfHubHTTPError):
        list(api.list_papers(query="paper", limit=121))


def test_read_paper_as_markdown(api: HfApi, hf_site: HfSite) -> None:
    text = api.read_paper(MATH_ID)
    assert text.startswith("# Stable laws with $\\alpha$ bounds\n")
    assert MATH_ABSTRACT in text  # math kept as $...$
    for part in (
        "Ada Lovelace, Alan Turing",
        "**Published:** 2024-10-23",
        "**On the daily list:** 2024-10-24, featured automatically",
        f"https://arxiv.org/abs/{MATH_ID}",
        f"{hf_site.url}/papers/{MATH_ID}",
        "**Comments:** 1",
        "**Upvotes:** 0",
        "**arXiv comment:** 12 pages",
    ):
        assert part in text, part
    with pytest.raises(HfHubHTTPError) as missing:
        api.read_paper("2410.99999")
    assert missing.value.response.status_code == 404
    # The same Markdown for a client that asks for it on the paper's page.
    page = httpx.get(f"{hf_site.url}/papers/{MATH_ID}", headers={"Accept": "text/markdown"})
    assert page.status_code == 200 and page.text == text
    assert page.headers["content-type"].startswith("text/markdown")
    html = httpx.get(f"{hf_site.url}/papers/{MATH_ID}", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    for reply in (page, html):  # shared caches keep the two answers apart
        assert "accept" in [v.strip().lower() for v in reply.headers["vary"].split(",")]


def test_list_papers_endpoint_pages_with_a_cursor(hf_site: HfSite) -> None:
    """``GET /api/papers`` followed through its ``Link`` headers by huggingface_hub's own
    paginator."""
    url = f"{hf_site.url}/api/papers"
    everything = [p["id"] for p in paginate(url, params={"limit": 3}, headers={})]
    assert len(everything) == len(set(everything)) == 10
    assert everything == sorted(everything, reverse=True) and UNLISTED in everything
    first = get_session().get(url, params={"limit": 3})
    assert len(first.json()) == 3 and 'rel="next"' in first.headers["link"]
    after = httpx.get(url, params={"cursor": UNLISTED, "limit": 100}).json()
    assert [p["id"] for p in after] == everything[everything.index(UNLISTED) + 1 :]
    bad = httpx.get(url, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and "cursor" in bad.json()["error"]


def test_every_timestamp_is_in_hfs_format(hf_site: HfSite) -> None:
    items = httpx.get(f"{hf_site.url}/api/daily_papers", params={"week": "2024-W43"}).json()
    stamps = [i["publishedAt"] for i in items]
    stamps += [i["paper"][k] for i in items for k in ("publishedAt", "updatedAt")]
    stamps += [i["paper"]["submittedOnDailyAt"] for i in items]
    comments = httpx.get(f"{hf_site.url}/api/papers/{MATH_ID}/comments").json()
    stamps += [c["createdAt"] for c in comments]
    assert len(stamps) > 20
    assert all(HF_TIME.match(s) for s in stamps), stamps


def test_thumbnails_and_avatars_are_images_we_serve(hf_site: HfSite) -> None:
    item = httpx.get(f"{hf_site.url}/api/daily_papers", params={"date": "2024-10-25"}).json()[0]
    for url in (item["thumbnail"], item["submittedBy"]["avatarUrl"]):
        assert url.startswith(hf_site.url)
        image = httpx.get(url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
        assert image.text.startswith("<svg")
    assert item["upvotes"] == item["paper"]["upvotes"] and item["isAuthorParticipating"] is False
    assert httpx.get(f"{hf_site.url}/cards/2410.99999.svg").status_code == 404


def test_web_search_jumps_to_a_typed_arxiv_id(hf_site: HfSite) -> None:
    for typed in (MATH_ID, f"https://arxiv.org/abs/{MATH_ID}v2", f"arXiv:{MATH_ID}"):
        reply = httpx.get(f"{hf_site.url}/search", params={"q": typed})
        assert reply.status_code == 303 and reply.headers["location"].endswith(f"/papers/{MATH_ID}")
    unknown = httpx.get(f"{hf_site.url}/search", params={"q": "2410.99999"})
    assert unknown.status_code == 200


def test_pyhfapi_accepts_our_answers_with_strict_validation(hf_site: HfSite) -> None:
    client = HuggingFace(base_url=hf_site.url, api_key="unused", _strict_response_validation=True)
    cases: list[dict[str, Any]] = [
        {},
        {"date": "2024-10-25"},
        {"date": dt.date(2024, 10, 24), "sort": "trending"},
        {"submitter": "ada", "limit": 2, "p": 0},
        {"submitter": "arxiv"},
    ]
    for options in cases:
        items = client.api.get_daily_papers(**options)
        assert items, options
        for item in items:
            assert item.submitted_by.name and item.thumbnail and item.paper.discussion_id
            assert item.published_at.tzinfo is not None
    client.api.papers.search(q="stable")  # declared without a body; must not fail


def _hf(hf_site: HfSite, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_ENDPOINT": hf_site.url,
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "NO_COLOR": "1",
        "COLUMNS": "250",
    }
    return subprocess.run(
        [str(HF_BIN), "papers", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json(reply: subprocess.CompletedProcess[str]) -> Any:
    assert reply.returncode == 0, reply.stderr
    return json.loads(reply.stdout)


def test_hf_papers_cli(hf_site: HfSite, tmp_path: Path) -> None:
    listed = _json(_hf(hf_site, tmp_path, "ls", "--date", "2024-10-25", "--format", "json"))
    assert sorted(p["id"] for p in listed) == sorted([*hf_site.hf_ids, SUBMITTED[0]])
    assert all(p["submitted_by_name"] for p in listed)
    table = _hf(hf_site, tmp_path, "ls", "--submitter", "ada")
    assert table.returncode == 0, table.stderr
    assert all(paper_id in table.stdout for paper_id in SUBMITTED)
    week = _json(_hf(hf_site, tmp_path, "ls", "--week", "2024-W43", "--format", "json"))
    assert len(week) == 7
    month = _json(
        _hf(hf_site, tmp_path, "ls", "--month", "2024-09", "--limit", "5", "--format", "json")
    )
    assert [p["id"] for p in month] == ["2409.20004"]
    trending = _json(
        _hf(hf_site, tmp_path, "ls", "--sort", "trending", "--limit", "1", "--format", "json")
    )
    assert len(trending) == 1
    found = _json(_hf(hf_site, tmp_path, "search", "graph transformers", "--format", "json"))
    assert found[0]["id"] == "2410.20002"
    limited = _json(_hf(hf_site, tmp_path, "search", "paper", "--limit", "2", "--format", "json"))
    assert len(limited) == 2
    info = _hf(hf_site, tmp_path, "info", MATH_ID)
    assert info.returncode == 0 and MATH_ID in info.stdout and "Stable laws" in info.stdout
    read = _hf(hf_site, tmp_path, "read", MATH_ID)
    assert read.returncode == 0 and MATH_ABSTRACT in read.stdout
    for command in ("info", "read"):
        missing = _hf(hf_site, tmp_path, command, "2410.99999")
        assert missing.returncode != 0 and "not found" in (missing.stderr + missing.stdout)
