"""Reading reference-manager exports: Zotero BibTeX, Better BibTeX, RIS, CSL-JSON, plain ids,
and hostile files (binary, malformed, huge fields) refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from dailypapers.library.match import normalise_title
from dailypapers.library.parse import LibraryError, parse

FIXTURES = Path(__file__).parent / "fixtures"


def test_zotero_bibtex_export() -> None:
    library = parse((FIXTURES / "zotero.bib").read_bytes())
    assert library.format == "bibtex"
    assert library.skipped == []
    by_key = {r.key: r for r in library.references}
    assert len(by_key) == 8
    attention = by_key["vaswani_attention_2017"]
    assert attention.title == "Attention Is All You Need"
    assert attention.arxiv_id == "1706.03762"
    assert attention.authors[0] == "Ashish Vaswani"
    assert "Łukasz Kaiser" in attention.authors
    assert attention.abstract.startswith("The dominant sequence")
    bert = by_key["devlin_bert_2019"]
    assert bert.doi == "10.18653/v1/n19-1423" and bert.arxiv_id is None
    assert bert.title.startswith("BERT: Pre-training of Deep")
    accents = by_key["mueller_uber_2021"]
    assert accents.title == "Über die Schrödinger-Gleichung in Cafés"
    assert accents.authors == ["Jörg Müller", "José García"]
    assert by_key["maldacena_large_1999"].arxiv_id == "hep-th/9711200"
    assert by_key["hoffmannTrainingComputeOptimalLarge2022"].arxiv_id == "2203.15556"
    assert by_key["hoffmannTrainingComputeOptimalLarge2022"].title == (
        "Training Compute-Optimal Large Language Models"
    )
    assert by_key["radfordLearningTransferableVisual2021"].arxiv_id == "2103.00020"
    assert by_key["radfordLearningTransferableVisual2021"].year == 2021
    assert by_key["brown_language_2020"].arxiv_id is None


def test_ris_export() -> None:
    library = parse((FIXTURES / "mendeley.ris").read_bytes())
    assert library.format == "ris"
    first, second, third = library.references
    assert first.arxiv_id == "1706.03762" and first.authors == ["Ashish Vaswani", "Noam Shazeer"]
    assert second.title.endswith("for Language Understanding")  # the wrapped line joined
    assert second.doi == "10.18653/v1/n19-1423" and second.abstract
    assert third.title == "Über die Schrödinger-Gleichung in Cafés" and third.year == 2021


def test_csl_json_export() -> None:
    library = parse((FIXTURES / "zotero.csl.json").read_bytes())
    assert library.format == "csl-json"
    attention, nature, book = library.references
    assert attention.arxiv_id == "1706.03762" and attention.year == 2023
    assert attention.authors == ["Ashish Vaswani", "Łukasz Kaiser"]
    assert nature.doi == "10.1038/nature14539"
    assert book.authors == ["The Committee"] and book.arxiv_id is None


def test_plain_ids() -> None:
    text = (
        b"1706.03762\nhttps://arxiv.org/abs/2203.15556v2, doi:10.1038/nature14539\n"
        b"\nhep-th/9711200\nnonsense\n"
    )
    library = parse(text)
    assert library.format == "ids"
    assert [r.arxiv_id for r in library.references] == [
        "1706.03762",
        "2203.15556",
        None,
        "hep-th/9711200",
    ]
    assert library.references[2].doi == "10.1038/nature14539"
    assert library.skipped and "nonsense" in library.skipped[0]


def test_one_broken_entry_does_not_lose_the_rest() -> None:
    text = (
        b"@article{good1, title={First}, eprint={1706.03762}}\n"
        b"@article{broken, title={Never closed\n"
        b'@misc{good2, title = "Second {"}quoted" # { joined}, year = 2020}\n'
        b"@article{nocomma title={x}}\n"
        b"@comment{anything {at} all}\n"
        b'@preamble{"\\newcommand{\\x}{y}"}\n'
        b"@string{conf = {NeurIPS}}\n"
        b"@inproceedings{good3, booktitle = conf, title = {Third}}\n"
    )
    library = parse(text)
    assert [r.key for r in library.references] == ["good1", "good2", "good3"]
    assert library.references[1].title == 'Second "quoted joined'
    assert len(library.skipped) == 2
    assert "unbalanced braces" in library.skipped[0]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        (bytes(range(1, 32)) * 200, "not a text file"),
        (b"just some words\nand more words", "No references"),
        (b"@article{x, title={never ends", "No references"),
        (b"[1, 2", "not valid JSON"),
        (b'{"a": 1}', "No references"),
        (b"@article{x, title={" + b"a" * 200_001 + b"}}", "No references"),
    ],
)
def test_hostile_files_get_a_clear_error(payload: bytes, message: str) -> None:
    with pytest.raises(LibraryError, match=message):
        parse(payload)


def test_huge_files_are_bounded() -> None:
    text = "".join(f"@misc{{k{n}, title={{Paper {n}}}}}\n" for n in range(20_001))
    with pytest.raises(LibraryError, match="the limit is 20,000"):
        parse(text.encode())


def test_title_normalisation() -> None:
    assert normalise_title("Attention Is {All} You Need!") == "attention is all you need"
    assert normalise_title("Über  die Schrödinger-Gleichung") == "uber die schrodinger gleichung"
    assert normalise_title("Sparse $\\alpha$-attention") == "sparse alpha attention"
