"""Kaggle snapshot reader: plain and gzip files, garbage lines, truncation, resume."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dailypapers.records import RawPaper, SourceError
from dailypapers.sources.snapshot import parse_line, read_snapshot


@pytest.fixture
def sample(fixtures_dir: Path) -> Path:
    return (
        fixtures_dir / "arxiv-kaggle-snapshot-sample" / "arxiv-metadata-oai-snapshot.sample.jsonl"
    )


def ids(papers: list[RawPaper]) -> list[str | None]:
    return [p.arxiv_id for p in papers]


def test_reads_the_sample(sample: Path) -> None:
    papers = list(read_snapshot(sample))
    assert len(papers) == 200
    assert all(p.error is None for p in papers)
    assert [p.cursor for p in papers] == [str(n) for n in range(1, 201)]
    first = papers[0]
    assert first.arxiv_id == "0704.0001" and first.ref == "line 1"
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert first.title is not None and first.title.startswith("Calculation of prompt diphoton")
    assert first.categories == ["hep-ph"] and first.primary_category == "hep-ph"
    assert first.version == 2
    assert first.published == "Mon, 2 Apr 2007 19:18:42 GMT"
    assert first.updated == "Tue, 24 Jul 2007 20:10:27 GMT"
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.comment == "37 pages, 15 figures; published version"
    assert first.license is None
    second = papers[1]
    assert second.categories == ["math.CO", "cs.CG"] and second.primary_category == "math.CO"
    assert second.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"


def test_gzip_is_detected_by_magic_bytes(sample: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "snapshot.json"  # gzip content, no .gz extension
    disguised.write_bytes(gzip.compress(sample.read_bytes()))
    plain_named_gz = tmp_path / "snapshot.json.gz"  # plain content, .gz extension
    plain_named_gz.write_bytes(sample.read_bytes())
    expected = list(read_snapshot(sample))
    assert list(read_snapshot(disguised, progress=True)) == expected
    assert list(read_snapshot(plain_named_gz)) == expected


def test_garbage_lines_become_error_records(sample: Path, tmp_path: Path) -> None:
    good = sample.read_bytes().splitlines(keepends=True)[:3]
    lines = [
        good[0],
        b"this is not json\n",
        b"[1, 2, 3]\n",
        b"\n",
        b'{"title": "no id"}\n',
        b'{"id": "0704.9999", "versions": 5}\n',
        good[1],
        b'{"id": "0704.0003", "title": "truncated line',
    ]
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"".join(lines))
    papers = list(read_snapshot(path))
    assert [(p.ref, p.error is None) for p in papers] == [
        ("line 1", True),
        ("line 2", False),
        ("line 3", False),
        ("line 5", False),
        ("line 6", False),
        ("line 7", True),
        ("line 8", False),
    ]
    assert papers[1].error is not None and papers[1].error.startswith("bad JSON")
    assert papers[2].error == "not a JSON object: list"
    assert papers[3].error == "record without an id"
    assert papers[4].arxiv_id == "0704.9999"  # kept so the report can name it
    assert [p.cursor for p in papers] == ["1", "2", "3", "5", "6", "7", "8"]


def test_truncated_gzip_raises_after_the_complete_lines(sample: Path, tmp_path: Path) -> None:
    full = tmp_path / "full.jsonl"
    full.write_bytes(sample.read_bytes() * 5)  # 1,000 lines: larger than the read buffers
    data = gzip.compress(full.read_bytes())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    papers: list[RawPaper] = []
    with pytest.raises(SourceError, match=r"truncated or corrupt after line \d+"):
        for paper in read_snapshot(path):
            papers.append(paper)
    assert 0 < len(papers) < 1000
    assert all(p.error is None for p in papers)
    # Once the full file is back, resuming from the last cursor loses and repeats nothing.
    path.write_bytes(data)
    rest = list(read_snapshot(path, resume=papers[-1].cursor))
    assert [p.cursor for p in papers + rest] == [str(n) for n in range(1, 1001)]
    assert ids(papers + rest) == ids(list(read_snapshot(full)))


def test_resume_skips_lines(sample: Path) -> None:
    papers = list(read_snapshot(sample))
    resumed = list(read_snapshot(sample, resume="150"))
    assert resumed == papers[150:]
    assert resumed[0].ref == "line 151"
    assert list(read_snapshot(sample, resume="200")) == []
    assert list(read_snapshot(sample, resume="5000")) == []


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot open snapshot"):
        list(read_snapshot(tmp_path / "nope.jsonl"))


def test_authors_fallback_without_authors_parsed() -> None:
    paper = parse_line(b'{"id": "1", "authors": "A. One, B. Two and C. Three"}', 1)
    assert paper.authors == ["A. One", "B. Two", "C. Three"]
    paper = parse_line(b'{"id": "1", "authors": "A. One, B. Two, and C. Three"}', 1)
    assert paper.authors == ["A. One", "B. Two", "C. Three"]


def test_update_date_is_the_fallback_without_versions() -> None:
    paper = parse_line(b'{"id": "1", "update_date": "2008-11-26"}', 4)
    assert (paper.published, paper.updated, paper.version) == ("2008-11-26", "2008-11-26", None)
    assert (paper.ref, paper.cursor) == ("line 4", "4")
