"""Sentence embeddings behind a small protocol: all-MiniLM-L6-v2 through ONNX Runtime.

The model ships inside the package (``index/model/``): an ONNX file built from the genuine
upstream weights by ``scripts/export_model.py`` and the upstream tokenizer, both checked
against pinned SHA-256 hashes when loaded. No torch, nothing downloaded. Vectors are what
sentence-transformers computes for this model: 256-token truncation, mean pooling over the
attention mask, L2 normalisation (tests/search/test_embedder.py holds the reference and
requires cosine >= 0.999 with it for every text). The dense layers' weights are 8-bit
integers (one scale per 32 inputs) multiplied in int8 by ONNX Runtime's MatMulNBits: 1.8x
faster for a short query and 1.2x for abstracts than float32, 53 MiB less in memory
(docs/search.md, "Which variant").
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

MODEL_DIR = Path(__file__).with_name("model")
# sentence-transformers' max_seq_length for this model (its sentence_bert_config.json).
MAX_TOKENS = 256
# Padded tokens per ONNX Runtime call when embedding many texts (sorted by length first):
# 2,048 (8 abstracts of 256 tokens) ran as fast as 8,192 on 2 cores, with 170 MiB less peak
# memory (attention scores grow with rows x length^2).
BATCH_TOKENS = 2048
MAX_BATCH = 64


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors."""

    @property
    def key(self) -> str:
        """Model name, variant and file hash; stored with each vector so a new model re-embeds."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts (documents or queries) into an (n, dim) array of unit vectors."""
        ...


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """An ONNX export and its tokenizer, with the SHA-256 each file must have."""

    name: str
    variant: str
    model: str
    model_sha256: str
    tokenizer: str
    tokenizer_sha256: str

    @property
    def key(self) -> str:
        """What every stored vector records: model, variant, file hashes and window."""
        return (
            f"{self.name};onnx-{self.variant};sha256={self.model_sha256[:16]};"
            f"tokenizer={self.tokenizer_sha256[:8]};max_tokens={MAX_TOKENS}"
        )


# Made by scripts/export_model.py --variant q8 from the upstream model.safetensors
# (SHA-256 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db).
SHIPPED = ModelFiles(
    name="all-MiniLM-L6-v2",
    variant="q8",
    model="all-MiniLM-L6-v2.q8.onnx",
    model_sha256="4e204a7ad5e238b7844770fbec3652c926b0f79c410cafb8e1838b3044c4a0f5",
    tokenizer="tokenizer.json",
    tokenizer_sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable or not the one pinned."""


def check_file(path: Path, sha256: str) -> None:
    """Raise ModelFileError unless the file at ``path`` has SHA-256 ``sha256``."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise ModelFileError(
            f"cannot read the embedding model file {path} ({exc.strerror or exc}); "
            "reinstall dailypapers, or set DAILYPAPERS_SEMANTIC_SEARCH=false"
        ) from exc
    if digest.hexdigest() != sha256:
        raise ModelFileError(
            f"the embedding model file {path} has SHA-256 {digest.hexdigest()}, not the pinned "
            f"{sha256}: it is damaged or not the file dailypapers ships; reinstall dailypapers"
        )


def default_threads() -> int:
    """Threads per model call: OMP_NUM_THREADS if set, else up to 2 of this process's cores."""
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(2, cores or 1))


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 on the CPU with ONNX Runtime, from package files.

    One instance serves every thread of a process: the session is created once (on first
    use) and ONNX Runtime's ``run`` is thread-safe.
    """

    dim = 384

    def __init__(
        self,
        files: ModelFiles = SHIPPED,
        directory: Path = MODEL_DIR,
        threads: int | None = None,
    ) -> None:
        self.files = files
        self.directory = directory
        self.threads = threads or default_threads()
        self.key = files.key
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Check both files' hashes and start the ONNX Runtime session (once)."""
        with self._lock:
            if self._session is not None:
                return
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import onnxruntime
            from tokenizers import Tokenizer

            files = self.files
            vocab, model = self.directory / files.tokenizer, self.directory / files.model
            check_file(vocab, files.tokenizer_sha256)
            check_file(model, files.model_sha256)
            # From the paths, not from bytes in memory: that kept 40 MiB more per process.
            tokenizer = Tokenizer.from_file(str(vocab))
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            # Idle pool threads sleep instead of spinning for the next run: in `serve` the
            # model shares the cores with the web workers, which a spinning thread starved
            # (bench/search_latency.py: keyword searches 4 -> 10 ms beside 2 spinning threads).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            self._session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def _run(self, rows: Sequence[Sequence[int]]) -> Vectors:
        width = max(len(row) for row in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text as the model reads it: [CLS] ... [SEP], at most MAX_TOKENS."""
        if self._session is None:
            self.load()
        if len(texts) == 1:
            return [self._tokenizer.encode(texts[0]).ids]
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts into unit vectors; many texts run in batches of similar length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self.token_ids(texts)
        if len(rows) == 1:
            return self._run(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            # Sorted by length: the batch's last row is its longest, so padding stays small.
            end = start + 1
            while (
                end < len(order)
                and end - start < MAX_BATCH
                and (end - start + 1) * len(rows[order[end]]) <= BATCH_TOKENS
            ):
                end += 1
            chosen = order[start:end]
            out[chosen] = self._run([rows[i] for i in chosen])
            start = end
        return out


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (its model is loaded on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper."""
    return f"{title}. {abstract}"
