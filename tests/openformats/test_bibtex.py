"""BibTeX: ASCII keys unique across the site, escaping that BibTeX and LaTeX read back, and
``/papers/{id}.bib``; every entry is parsed by a real BibTeX parser (bibtexparser 2).

No TeX binary is installed here, so "compiles" is checked by what would stop BibTeX or LaTeX:
balanced braces (counted the way BibTeX counts them, ``\\{`` included), and no unescaped
``&`` ``%`` ``#`` ``_`` ``^`` ``~`` or stray ``$`` outside math.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import pytest
from fastapi.testclient import TestClient
from pylatexenc.latex2text import LatexNodes2Text
from sqlalchemy import Engine, insert, select

from dailypapers.community.markdown import render
from dailypapers.demo import sample_path
from dailypapers.ingest.citekey import ascii_fold, key_base, suffix
from dailypapers.ingest.pipeline import run_ingest
from dailypapers.queries import citations, daily
from dailypapers.render.bibtex import balanced, escape_latex, escape_plain
from dailypapers.sources.jsonl import read_jsonl
from dailypapers.storage import migrate
from dailypapers.storage.engine import make_engine
from dailypapers.storage.papers import iter_papers
from dailypapers.storage.schema import comments, papers, users
from tests.core.helpers import raw

KEY = re.compile(r"^[a-z]+\d{4}[a-z0-9]*$")
HOSTILE = r"50% of A&B #1 under_score x^2 {unbalanced } } C:\Üser $5 ~10 Fig.~1 @misc{x, \"o"


def ingest(engine: Engine, records: list) -> None:  # type: ignore[type-arg]
    """Store ``records`` (listed on their day when they name one)."""
    report = run_ingest(
        engine=engine,
        source="test",
        params={"n": len(records), "first": records[0].arxiv_id},
        records=lambda resume: iter(records),
        explicit_days=True,
    )
    assert report.rejected == 0, report.summary()


def parse(text: str) -> bibtexparser.Library:
    """Parse with bibtexparser; no block may fail."""
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks][:3]
    return library


def decoded(value: str) -> str:
    """A field's value as text, LaTeX decoded by pylatexenc (bibtexparser's decoder; it
    stumbles on ``\\href``, so only titles, names and journals are decoded)."""
    return LatexNodes2Text().latex_to_text(value).strip()


def outside_math(value: str) -> str:
    """``value`` with its math segments, and the escapes and commands LaTeX reads, removed."""
    text = value.replace("\\\\", " ").replace("\\$", " ")
    text = re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]|\$\$.*?\$\$|\$[^$]*\$", " ", text)
    return re.sub(r"\\[&%#_{}~^'\"`.=,;:!\- /@|]|\\[A-Za-z]+", "", text)


def assert_compiles(line: str) -> None:
    """What would stop BibTeX or LaTeX in an entry's ``name={value}`` line: unbalanced
    braces, unescaped specials outside math (URLs and DOIs are verbatim fields)."""
    name, value = line.strip().rstrip(",").split("=", 1)
    assert balanced(value), value
    if name in ("url", "doi"):
        assert not re.search(r"\s", value), value
        return
    rest = outside_math(value)
    for char in "&%#_^$":
        assert char not in rest, (char, value)


def entries_of_sample(engine: Engine) -> Iterator[tuple[dict, str, str]]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        for row in iter_papers(conn=conn):
            detail = daily.paper_detail(conn=conn, arxiv_id=row["id"])
            assert detail is not None
            key = citations.citation_key(conn=conn, row=detail)
            yield dict(detail), key, citations.bibtex_for(key=key, row=detail, abstract=True)


def test_every_sample_paper_parses_into_distinct_keys(engine: Engine) -> None:
    ingest(engine, list(read_jsonl(sample_path())))
    rows, keys, texts = zip(*entries_of_sample(engine), strict=True)
    assert len(rows) > 3000
    assert len(set(keys)) == len(keys), "keys must be unique across the site"
    assert all(KEY.match(key) for key in keys)
    library = parse("\n\n".join(texts))
    assert len(library.entries) == len(rows)
    for row, entry in zip(rows, library.entries, strict=True):
        fields = {name: field.value for name, field in entry.fields_dict.items()}
        assert entry.entry_type == ("article" if row["journal_ref"] else "misc")
        assert fields["eprint"] == row["id"]
        assert fields["archivePrefix"] == "arXiv"
        assert fields["year"] == str(row["published_at"].year)
        assert fields["url"] == f"https://arxiv.org/abs/{row['id']}"
        assert fields.get("primaryClass") == (row["primary_category"] or None)
        assert fields.get("doi") == row["doi"]
        if not re.search(r"[\\{}$~^`]|--|''", row["title"]):  # LaTeX means something else
            assert decoded(fields["title"]) == row["title"], row["id"]
        if not any(re.search(r"[\\{}&%$#_~^,]|\band\b", a) for a in row["authors"]):
            names = [decoded(name) for name in fields["author"].split(" and ")]
            assert names == list(row["authors"]) or not row["authors"]
    for text in texts:
        for line in text.splitlines()[1:-1]:
            assert_compiles(line)


def test_hostile_title_and_names_are_escaped() -> None:
    escaped = escape_latex(HOSTILE)
    assert escaped == (
        r"50\% of A\&B \#1 under\_score x\^{}2 {unbalanced } \textbraceright{} "
        r"C:\textbackslash{}Üser \$5 $\sim$10 Fig.~1 @misc\textbraceleft{}x, \"o"
    )
    assert_compiles(f"title={{{escaped}}}")
    assert escape_plain("a{b}\\c&d%e$f#g_h~i^j") == (
        r"a\textbraceleft{}b\textbraceright{}\textbackslash{}c\&d\%e\$f\#g\_h"
        r"\textasciitilde{}i\textasciicircum{}j"
    )
    # Math and what the text already escaped are kept as they are.
    kept = r"Error of $O(n^{1/2})$ with \(a_1\), 5\% and \emph{new} {\"o}"
    assert escape_latex(kept) == kept
    # Braces that cannot balance (``\{`` counts as a brace for BibTeX) never unbalance the entry.
    for text in ("$\\{x$ }", "{ $}$", "\\{", "{{{", "}}}", "a\\", "\\}{"):
        assert_compiles(f"title={{{escape_latex(text)}}}")


def test_hostile_paper_entry_parses_and_reads_back(engine: Engine) -> None:
    ingest(
        engine,
        [
            raw(
                "2606.00001",
                title=HOSTILE,
                authors=["Jürgen Müller", "Smith & Sons_1", "Ann {Brace", "Tom and Jerry"],
                doi="10.1000/a_b%20{c}",
                journal_ref="J. Phys. A 50% #3",
                abstract="Costs \\$5 & 10% more; x_1 in $x_1^2$ and ``quotes''.\n\nSecond.",
            )
        ],
    )
    with engine.connect() as conn:
        row = daily.paper_detail(conn=conn, arxiv_id="2606.00001")
        assert row is not None
        text = citations.bibtex(conn=conn, row=row, abstract=True)
    library = parse(text)
    (entry,) = library.entries
    fields = {name: field.value for name, field in entry.fields_dict.items()}
    assert entry.key == "muller202650b1"
    assert entry.entry_type == "article"
    assert decoded(fields["journal"]) == "J. Phys. A 50% #3"
    assert fields["doi"] == "10.1000/a_b%20%7Bc%7D"  # verbatim, but never unbalanced
    assert "Smith & Sons_1" in decoded(fields["author"])
    assert "{Tom and Jerry}" in text
    assert "Second." in fields["abstract"] and "\n" not in fields["abstract"]
    for line in text.splitlines()[1:-1]:
        assert_compiles(line)


def test_keys_are_ascii_transliterations() -> None:
    assert ascii_fold("Jürgen Straße Ørsted Æsir Łukasz Ðorđe Þór") == (
        "Jurgen Strasse Orsted AEsir Lukasz Dorde Thor"
    )
    assert key_base(authors=["Ashish Vaswani"], year=2017, title="Attention Is All You Need") == (
        "vaswani2017attentionneed"
    )
    assert key_base(authors=["Søren Kierkegaard-Ødegård"], year=2020, title="Über $x^2$ ß") == (
        "kierkegaardodegard2020uberss"
    )
    assert key_base(authors=["Martin Luther King Jr."], year=2001, title="\\emph{Dream} big") == (
        "king2001dreambig"
    )
    assert key_base(authors=["李四"], year=2020, title="中文") == "anon2020"
    assert [suffix(n) for n in (0, 1, 2, 25, 26, 27)] == ["", "b", "c", "z", "aa", "ab"]


def _same_base(arxiv_id: str, published: str, title: str = "Deep parsing language") -> object:
    return raw(arxiv_id, title=title, authors=["Ada Lovelace"], published=published)


def test_colliding_keys_get_stable_suffixes(engine: Engine) -> None:
    ingest(
        engine,
        [
            _same_base("2606.00003", "2026-06-03T00:00:00Z"),
            _same_base("2606.00001", "2026-06-01T00:00:00Z"),
            _same_base("2606.00002", "2026-06-02T00:00:00Z"),
            # Its base is the first one's with a "b": the suffixes skip it.
            _same_base("2606.00009", "2026-06-09T00:00:00Z", "Deep parsing languageb"),
        ],
    )

    def keys() -> dict[str, str]:
        with engine.connect() as conn:
            found = {}
            for row in iter_papers(conn=conn):
                detail = daily.paper_detail(conn=conn, arxiv_id=row["id"])
                assert detail is not None
                found[row["id"]] = citations.citation_key(conn=conn, row=detail)
            return found

    before = keys()
    assert before == {
        "2606.00001": "lovelace2026deepparsinglanguage",
        "2606.00002": "lovelace2026deepparsinglanguagec",
        "2606.00003": "lovelace2026deepparsinglanguaged",
        "2606.00009": "lovelace2026deepparsinglanguageb",
    }
    ingest(engine, [_same_base("2606.00010", "2026-06-10T00:00:00Z")])
    after = keys()
    assert {k: after[k] for k in before} == before, "a new paper changes no existing key"
    assert after["2606.00010"] == "lovelace2026deepparsinglanguagee"


@pytest.fixture
def one_paper(engine: Engine) -> None:
    ingest(
        engine,
        [
            raw(
                "2606.00001",
                title="Parsing & 100% of {LLMs}",
                authors=["Ada Lovelace"],
                day="2026-06-01",
                doi="10.1000/xyz",
            )
        ],
    )


@pytest.mark.usefixtures("one_paper")
def test_bib_route_serves_the_entry(client: TestClient) -> None:
    response = client.get("/papers/2606.00001.bib")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    key = "lovelace2026parsing100llms"
    assert response.headers["content-disposition"] == f'inline; filename="{key}.bib"'
    (entry,) = parse(response.text).entries
    assert entry.key == key
    assert entry.fields_dict["abstract"].value == "We study things. Wrapped line."
    assert decoded(entry.fields_dict["title"].value) == "Parsing & 100% of LLMs"
    # The paper page shows the same entry, without the abstract.
    page = client.get("/papers/2606.00001")
    assert "lovelace2026parsinglanguage" not in page.text
    assert f"@misc{{{key}," in page.text
    assert "title={{Parsing \\&amp; 100\\% of {LLMs}}}" in page.text
    assert "abstract=" not in page.text
    assert 'href="/papers/2606.00001.bib"' in page.text
    head = client.head("/papers/2606.00001.bib")
    assert head.status_code == 200
    assert head.headers["content-type"] == response.headers["content-type"]


@pytest.mark.usefixtures("one_paper")
def test_bib_route_redirects_and_refuses(client: TestClient) -> None:
    response = client.get("/papers/2606.00001v3.bib", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/papers/2606.00001.bib"
    assert client.get("/papers/2606.99999.bib").status_code == 404
    missing = client.get("/papers/not-an-id.bib")
    assert missing.status_code == 404
    assert "not an arXiv id" in missing.text
    assert client.get("/papers/" + "9" * 5000 + ".bib").status_code == 404


def test_upgrade_fills_keys_and_renders_comment_math_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0009")
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    body = r"Bound: $a * b * c$ and \(\{x\}\)"
    with engine.begin() as conn:
        conn.execute(
            insert(papers).values(
                id="2606.00001",
                version=1,
                title="Über parsing language models",
                abstract="A",
                authors=["Jürgen Müller"],
                categories=["cs.CL"],
                primary_category="cs.CL",
                published_at=now,
                updated_at=now,
                content_hash="h",
                created_at=now,
                modified_at=now,
            )
        )
        conn.execute(insert(users).values(id=1, username="ada", display_name="Ada", created_at=now))
        conn.execute(
            insert(comments).values(
                paper_id="2606.00001", user_id=1, body=body, created_at=now, html="<p>old</p>"
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(papers.c.cite_key)).scalar_one() == (
            "muller2026uberparsinglanguage"
        )
        assert conn.execute(select(comments.c.html)).scalar_one() == render(body)
    assert "$a * b * c$" in render(body) and r"\(\{x\}\)" in render(body)
    engine.dispose()
