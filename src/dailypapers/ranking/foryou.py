"""For you: a member's personal ranking of recent papers (pure functions, see docs/ranking.md).

Two parts, added up:

* a linear model over the papers' stored embeddings, trained per member as arxiv-sanity-lite
  and Scholar Inbox do: ridge regression with the member's positives (upvoted, saved,
  imported papers, newest ``MAX_POSITIVES``) as 1 and negatives as 0 ("not interested",
  weighted up, and a fixed-size sample of the candidates themselves as unlabelled
  background), plus the nearest positive by cosine similarity, which also names the reason;
* follow signals: in a followed category, by a followed author, matching a followed keyword,
  submitted by a followed member;
* words: the tf-idf cosine of each candidate with the positives' own titles and abstracts
  taken together (arxiv-sanity's tf-idf features, beside the embeddings: an author's method
  names and a field's terms that the small embedding model blurs), and with the text of an
  imported library's entries that match no paper here (no stored vector).

Without positives (a new member with a first follow) only the follow signals rank, and only
papers matching a follow are picked. Every pick carries its reasons, strongest first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
MAX_POSITIVES = 1000
BACKGROUND = 600
RIDGE = 1.0
NEGATIVE_WEIGHT = 4.0
SIMILAR_REASON = 0.45
LIBRARY_REASON = 0.12
Terms = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each signal adds to a paper's score (model and similarity are z-scores over
    the candidates; follows are 0/1)."""

    model: float = 1.0
    similar: float = 0.5
    category: float = 0.6
    author: float = 2.5
    keyword: float = 1.0
    user: float = 2.0
    dislike: float = 2.0
    library: float = 0.5
    words: float = 0.5
    recency: float = 0.01


WEIGHTS = Weights()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent paper that may be picked."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    submitted_by: str | None = None
    age_days: float = 0.0


@dataclass(frozen=True, slots=True)
class Positive:
    """A paper the member showed interest in; ``source`` ends the reason ("which you
    upvoted", "saved", "imported")."""

    id: str
    title: str
    source: str


@dataclass(slots=True)
class Profile:
    """What a member follows and likes. ``positive_vectors`` has one row per positive (zeros
    where a paper has no vector); ``negative_vectors`` are the "not interested" papers'."""

    categories: Sequence[str] = ()
    authors: Sequence[str] = ()
    keywords: Sequence[str] = ()
    users: Sequence[str] = ()
    positives: Sequence[Positive] = ()
    positive_vectors: Matrix | None = None
    negative_vectors: Matrix | None = None
    excluded: frozenset[str] = frozenset()
    # Term counts (the site's analyser) of the positives' titles and abstracts, and of the
    # imported entries that match no paper here; weighed by ``TermMatrix.unit``.
    positive_words: Terms | None = None
    library_words: Terms | None = None

    @property
    def empty(self) -> bool:
        """Nothing to go on: no follow, no positive, no library text."""
        return not (
            self.categories
            or self.authors
            or self.keywords
            or self.users
            or self.positives
            or self.library_words
        )


@dataclass(slots=True)
class Pick:
    """One recommended paper with its score and reasons (strongest first)."""

    id: str
    score: float
    reasons: list[str] = field(default_factory=list)


def _unit(matrix: Matrix) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Matrix = (matrix / np.maximum(norms, 1e-9)).astype(np.float32)
    return unit


def _z(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def fold_name(name: str) -> str:
    """An author name for matching: spaces collapsed, case folded."""
    return " ".join(name.split()).casefold()


def category_matches(followed: str, categories: Sequence[str]) -> bool:
    """``cs`` follows every ``cs.*`` category; ``cs.CL`` only itself."""
    if "." in followed:
        return followed in categories
    return any(c == followed or c.startswith(followed + ".") for c in categories)


@dataclass(frozen=True, slots=True)
class TermMatrix:
    """The candidates' unit tf-idf weights, one sparse row each (``term_matrix``): row ``i``
    holds ``weights[starts[i]:starts[i + 1]]`` at ``columns`` of the same range."""

    vocabulary: Mapping[str, int]
    idf: npt.NDArray[np.float32]
    starts: npt.NDArray[np.int64]
    columns: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.starts) - 1

    def unit(self, counts: Terms) -> npt.NDArray[np.float32]:
        """Term ``counts`` as a unit tf-idf vector over the vocabulary (the candidates' idf;
        terms no candidate holds dropped); all zeros when none is left."""
        vector = np.zeros(len(self.idf), dtype=np.float32)
        for term, count in counts.items():
            column = self.vocabulary.get(term)
            if column is not None:
                vector[column] = count * self.idf[column]
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def similarity(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Cosine of each candidate with a ``unit`` vector."""
        sums = np.concatenate(
            [[0.0], np.cumsum(self.weights * vector[self.columns], dtype=np.float64)]
        )
        similarity: npt.NDArray[np.float64] = sums[self.starts[1:]] - sums[self.starts[:-1]]
        return similarity


def term_matrix(counts: Sequence[Terms]) -> TermMatrix:
    """Each candidate's term counts as unit tf-idf rows; idf ``log((n + 1) / (df + 1)) + 1``
    over the candidates."""
    vocabulary: dict[str, int] = {}
    frequency: list[int] = []
    for doc in counts:
        for term in doc:
            column = vocabulary.setdefault(term, len(vocabulary))
            if column == len(frequency):
                frequency.append(0)
            frequency[column] += 1
    idf = (np.log((len(counts) + 1) / (np.asarray(frequency, dtype=np.float64) + 1)) + 1).astype(
        np.float32
    )
    lengths = np.fromiter((len(doc) for doc in counts), dtype=np.int64, count=len(counts))
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    total = int(starts[-1])
    columns = np.fromiter((vocabulary[t] for doc in counts for t in doc), np.int32, total)
    tf = np.fromiter((c for doc in counts for c in doc.values()), np.float32, total)
    weights = tf * idf[columns]
    rows = np.repeat(np.arange(len(counts)), lengths)
    norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=len(counts)))
    weights = (weights / np.maximum(norms, 1e-12)[rows]).astype(np.float32)
    return TermMatrix(vocabulary, idf, starts, columns, weights)


def train(positives: Matrix, negatives: Matrix, background: Matrix) -> npt.NDArray[np.float64]:
    """Ridge regression weights (last entry: the intercept) separating positives (1) from
    negatives and background (0); negatives count ``NEGATIVE_WEIGHT`` times."""
    x = np.vstack([positives, negatives, background]).astype(np.float64)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives) + len(background))])
    w = np.concatenate(
        [
            np.full(len(positives), max(1.0, len(background) / max(1, len(positives)))),
            np.full(len(negatives), NEGATIVE_WEIGHT),
            np.ones(len(background)),
        ]
    )
    x = np.hstack([x, np.ones((len(x), 1))])
    xw = x * w[:, None]
    gram = x.T @ xw + RIDGE * np.eye(x.shape[1])
    gram[-1, -1] -= RIDGE  # the intercept is not shrunk
    solved: npt.NDArray[np.float64] = np.linalg.solve(gram, xw.T @ y)
    return solved


def _follow_hits(profile: Profile, candidates: Sequence[Candidate]) -> list[list[tuple[str, str]]]:
    """Per candidate, the follow signals it matches as (kind, reason)."""
    hits: list[list[tuple[str, str]]] = [[] for _ in candidates]
    authors = {fold_name(a): a for a in profile.authors}
    users = {u.casefold(): u for u in profile.users}
    words = [(re.compile(rf"(?<!\w){re.escape(k.casefold())}(?!\w)"), k) for k in profile.keywords]
    for i, paper in enumerate(candidates):
        found = hits[i]
        for name in paper.authors if authors else ():
            if fold_name(name) in authors:
                found.append(("author", f"by {name}, an author you follow"))
                break
        if paper.submitted_by and paper.submitted_by.casefold() in users:
            found.append(("user", f"submitted by {paper.submitted_by}, whom you follow"))
        for cat in profile.categories:
            if category_matches(cat, paper.categories):
                found.append(("category", f"in {cat}, which you follow"))
                break
        if words:
            text = f"{paper.title}\n{paper.abstract}".casefold()
            for pattern, word in words:
                if pattern.search(text):
                    found.append(("keyword", f'matches your keyword "{word}"'))
                    break
    return hits


def recommend(
    profile: Profile,
    candidates: Sequence[Candidate],
    vectors: Matrix,
    *,
    limit: int = 50,
    weights: Weights = WEIGHTS,
    seed: int = 0,
    unit: bool = False,
    terms: TermMatrix | None = None,
) -> list[Pick]:
    """The ``limit`` best candidates for ``profile`` (``vectors``: one row per candidate,
    zeros where a paper has no vector; ``unit``: already of length 1, as callers that hold
    them between members keep them; ``terms``: the candidates' ``term_matrix``, which the
    profile's words need), each with its reasons."""
    n = len(candidates)
    if n == 0 or profile.empty:
        return []
    hits = _follow_hits(profile, candidates)
    follow_score = np.array(
        [sum(float(getattr(weights, kind)) for kind, _ in found) for found in hits],
        dtype=np.float64,
    )
    score = follow_score - weights.recency * np.array([c.age_days for c in candidates])
    eligible = follow_score > 0
    nearest = np.zeros(n, dtype=np.int64)
    best = np.zeros(n, dtype=np.float64)
    pos = profile.positive_vectors
    has_vectors = vectors.ndim == 2 and vectors.shape[1] > 0
    if pos is not None and len(pos) and has_vectors:
        pos = _unit(pos[:MAX_POSITIVES])
        squares = np.einsum("ij,ij->i", vectors, vectors)
        known = squares > 0
        cand = vectors if unit else (vectors / np.sqrt(np.maximum(squares, 1e-18))[:, None])
        cand = cand.astype(np.float32, copy=False)
        sims = cand @ pos.T
        nearest = sims.argmax(axis=1)
        best = sims.max(axis=1).astype(np.float64)
        rng = np.random.default_rng(seed)
        pool = np.flatnonzero(known)
        back = cand[rng.choice(pool, size=min(BACKGROUND, len(pool)), replace=False)]
        given = profile.negative_vectors
        neg: Matrix = (
            _unit(given)
            if given is not None and len(given)
            else np.zeros((0, cand.shape[1]), dtype=np.float32)
        )
        beta = train(pos, neg, back)
        model = (cand @ beta[:-1].astype(np.float32)).astype(np.float64) + beta[-1]
        score += weights.model * _z(model) + weights.similar * _z(best)
        if len(neg):
            disliked = (cand @ neg.T).max(axis=1).astype(np.float64)
            score -= weights.dislike * np.clip(disliked - 0.6, 0, None) / 0.4
        eligible |= known
    library = np.zeros(n, dtype=np.float64)
    if terms is not None and len(terms) == n:
        if profile.positive_words:
            score += weights.words * _z(terms.similarity(terms.unit(profile.positive_words)))
        if profile.library_words:
            library = terms.similarity(terms.unit(profile.library_words))
            score += weights.library * _z(library)
            eligible |= library >= LIBRARY_REASON
    order = np.argsort(-score, kind="stable")
    picks: list[Pick] = []
    for i in order:
        paper = candidates[int(i)]
        if not eligible[i] or paper.id in profile.excluded:
            continue
        ordered = sorted(hits[i], key=lambda hit: -float(getattr(weights, hit[0])))
        reasons = [reason for _, reason in ordered]
        if profile.positives and best[i] > 0:
            liked = profile.positives[int(nearest[i])]
            similar = f'similar to "{liked.title}", which you {liked.source}'
            if best[i] >= SIMILAR_REASON or not reasons:
                reasons.insert(0 if best[i] >= SIMILAR_REASON else len(reasons), similar)
        if library[i] >= LIBRARY_REASON:
            reasons.append("like papers in the library you imported")
        if not reasons:
            continue
        picks.append(Pick(paper.id, round(float(score[i]), 4), reasons))
        if len(picks) == limit:
            break
    return picks
