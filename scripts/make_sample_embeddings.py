"""Precompute the bundled sample's embeddings so ``dailypapers demo`` has semantic search at once.

Writes src/dailypapers/sample/embeddings.npz: ids, text hashes, the model key and float16
vectors. ``demo`` stores only vectors whose text hash and model still match; anything else is
embedded by the normal index stage.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from dailypapers.index.embedder import MiniLMEmbedder, paper_text
from dailypapers.ingest.normalize import clean_abstract, clean_line
from dailypapers.storage.embeddings import text_hash

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "dailypapers" / "sample"


def main() -> None:
    """Embed every sample paper as ingest will store it."""
    with gzip.open(SAMPLE / "papers.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    texts = [(clean_line(r["title"]), clean_abstract(r["abstract"])) for r in rows]
    model = MiniLMEmbedder()
    vectors = model.embed([paper_text(t, a) for t, a in texts])
    np.savez_compressed(
        SAMPLE / "embeddings.npz",
        ids=np.asarray([r["id"] for r in rows]),
        hashes=np.asarray([text_hash(t, a) for t, a in texts]),
        vectors=vectors.astype(np.float16),
        model=np.asarray(model.key),
    )
    print(f"wrote {len(rows)} vectors for {model.key}")


if __name__ == "__main__":
    main()
