"""arXiv's category taxonomy (https://arxiv.org/category_taxonomy), to check names before
asking arXiv: a typo such as ``cs.ML`` would otherwise cost a request and return nothing."""

from __future__ import annotations

import difflib

_SUBJECTS = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS "
    "NA NE NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR "
    "QA RA RT SG SP ST",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an "
    "ed-ph flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives without subject classes.
_PLAIN = "gr-qc hep-ex hep-lat hep-ph hep-th math-ph nucl-ex nucl-th quant-ph"

ARCHIVES = frozenset([*_SUBJECTS, *_PLAIN.split()])
CATEGORIES = frozenset(
    [*(f"{a}.{s}" for a, subjects in _SUBJECTS.items() for s in subjects.split()), *ARCHIVES]
)


def unknown_category(name: str) -> str | None:
    """None when ``name`` is an arXiv category or archive (``cs.LG``, ``hep-th``, ``math``),
    else a one-line reason with the nearest known names."""
    if name in CATEGORIES:
        return None
    folded = {c.lower(): c for c in CATEGORIES}
    near = [folded[c] for c in difflib.get_close_matches(name.lower(), folded, n=3, cutoff=0.6)]
    hint = f" (did you mean {' or '.join(near)}?)" if near else ""
    return f"unknown arXiv category {name[:80]!r}{hint}; see https://arxiv.org/category_taxonomy"
