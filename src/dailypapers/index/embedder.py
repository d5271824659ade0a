"""Sentence embeddings behind a small protocol: all-MiniLM-L6-v2 through ONNX Runtime or OpenVINO.

The model ships inside the package (``index/model/``): an ONNX file built from the genuine
upstream weights by ``scripts/export_model.py`` and the upstream tokenizer, both checked
against pinned SHA-256 hashes when loaded. No torch, nothing downloaded. Vectors are what
sentence-transformers computes for this model: 256-token truncation, mean pooling over the
attention mask, L2 normalisation (tests/search/test_embedder.py holds the reference and
requires cosine >= 0.999 with it for every text). The dense layers' weights are 8-bit
integers (one scale per 32 inputs) multiplied in int8 by ONNX Runtime's MatMulNBits: 1.8x
faster for a short query and 1.2x for abstracts than float32, 53 MiB less in memory
(docs/search.md, "Which variant").

The index stage can run the same file on OpenVINO instead (``engine="openvino"``, the
``openvino`` extra): on a CPU with AVX-512 VNNI and BF16 it embeds abstracts about 1.8x as
fast (int8 products as ONNX Runtime's, attention and the rest in bfloat16); where a CPU lacks
VNNI it computes in float32. Both engines agree with the reference at cosine >= 0.999 and
with each other at about 0.9998, so vectors are keyed by the model file, not the engine
(docs/search.md, "Engines").
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

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
    """A model file is missing, unreadable or not the one pinned, or its engine is not
    installed."""


EngineName = Literal["onnxruntime", "openvino"]
ENGINES: tuple[str, ...] = get_args(EngineName)
# A batch of texts as the model reads them: token ids and attention mask, (rows, width) each.
Batch = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
# Runs the model on batches, returning each one's vectors (in order).
Runner = Callable[[Sequence[Batch]], list[Vectors]]


def check_engine(engine: str) -> EngineName:
    """``engine`` if it is one and its library is installed; ModelFileError (saying how to
    install it) if not."""
    if engine not in ENGINES:
        raise ModelFileError(f"unknown embedding engine {engine!r}: use one of {ENGINES}")
    if importlib.util.find_spec(engine) is None:
        extra = " 'dailypapers[openvino]'" if engine == "openvino" else " dailypapers again"
        raise ModelFileError(
            f"the embedding engine {engine} is not installed: pip install{extra}, or set "
            "DAILYPAPERS_EMBEDDING_ENGINE=onnxruntime"
        )
    return engine  # type: ignore[return-value]


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


def _onnxruntime(model: Path, threads: int) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning for the next run: in `serve` the model
    # shares the cores with the web workers, which a spinning thread starved
    # (bench/search_latency.py: keyword searches 4 -> 10 ms beside 2 spinning threads).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def run(batches: Sequence[Batch]) -> list[Vectors]:
        # One batch after another, each on all the threads (``run`` is thread-safe).
        return [
            np.asarray(
                session.run(None, {"input_ids": ids, "attention_mask": mask})[0],
                dtype=np.float32,
            )
            for ids, mask in batches
        ]

    return run


def _openvino(model: Path, threads: int) -> Runner:
    import openvino

    core = openvino.Core()
    # OpenVINO reads the ONNX file itself (MatMulNBits included): int8 weights, products in
    # int8 with the activations quantised per 32 inputs where the CPU has VNNI (as ONNX
    # Runtime's kernel does), float32 otherwise; the rest in bfloat16 where the CPU has it.
    # One stream of one thread per core, each batch on one stream: 1.17-1.19x the papers per
    # second of one batch at a time on both threads (bench/README.md). Threads not pinned to
    # cores: in `serve` the model shares them with the web workers.
    compiled = core.compile_model(
        core.read_model(str(model)),
        "CPU",
        {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": threads,
            "INFERENCE_NUM_THREADS": threads,
            "ENABLE_CPU_PINNING": False,
        },
    )
    streams = int(compiled.get_property("NUM_STREAMS"))

    def run(batches: Sequence[Batch]) -> list[Vectors]:
        # Requests of its own per call (an infer request is not thread-safe), one per stream,
        # each batch on the next in turn (they are of similar size). Waited for here, not with
        # a Python callback on OpenVINO's threads: a model freed by the garbage collector
        # while a callback's function was still held hung the process in its destructor.
        requests = [compiled.create_infer_request() for _ in range(min(streams, len(batches)))]
        running: dict[int, int] = {}  # request -> the batch it runs
        out: list[Vectors] = []

        def collect(slot: int) -> None:
            requests[slot].wait()
            # Copied: the request's output buffer is overwritten by its next batch.
            out[running.pop(slot)] = np.array(requests[slot].get_output_tensor(0).data)

        out.extend(np.empty(0, dtype=np.float32) for _ in batches)
        for index, (ids, mask) in enumerate(batches):
            slot = index % len(requests)
            if slot in running:
                collect(slot)
            requests[slot].start_async({"input_ids": ids, "attention_mask": mask})
            running[slot] = index
        for slot in list(running):
            collect(slot)
        return out

    return run


_RUNNERS: dict[str, Callable[[Path, int], Runner]] = {
    "onnxruntime": _onnxruntime,
    "openvino": _openvino,
}


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 on the CPU, from package files.

    One instance serves every thread of a process: each engine is started once (on first
    use) and its runner is thread-safe. A single text (a query) always runs on ONNX Runtime;
    many texts (the index stage) run on ``engine``. OpenVINO is the faster engine for batches
    only: for one short query it is no faster, and beside the web workers on the same cores it
    made cold searches slower in two of three paired runs (bench/README.md, "OpenVINO for the
    index stage").
    ``engine`` is checked when the embedder is made (ModelFileError if it is not installed),
    so a server refuses to start rather than failing at its first index run.
    """

    dim = 384

    def __init__(
        self,
        files: ModelFiles = SHIPPED,
        directory: Path = MODEL_DIR,
        threads: int | None = None,
        engine: str = "onnxruntime",
    ) -> None:
        self.files = files
        self.directory = directory
        self.threads = threads or default_threads()
        self.engine = check_engine(engine)
        self.key = files.key
        self._runners: dict[str, Runner] = {}
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Check both files' hashes and start the query engine, ONNX Runtime (once)."""
        self._runner("onnxruntime")

    def _runner(self, engine: str) -> Runner:
        """``engine``'s runner, started on first use (the model file's hash checked first)."""
        runner = self._runners.get(engine)
        if runner is not None:
            return runner
        with self._lock:
            if engine in self._runners:
                return self._runners[engine]
            files = self.files
            vocab, model = self.directory / files.tokenizer, self.directory / files.model
            if self._tokenizer is None:
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from tokenizers import Tokenizer

                check_file(vocab, files.tokenizer_sha256)
                # From the paths, not from bytes in memory: that kept 40 MiB more per process.
                tokenizer = Tokenizer.from_file(str(vocab))
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                self._tokenizer = tokenizer
            check_file(model, files.model_sha256)
            runner = self._runners[engine] = _RUNNERS[engine](model, self.threads)
            return runner

    @staticmethod
    def _batch(rows: Sequence[Sequence[int]]) -> Batch:
        width = max(len(row) for row in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text as the model reads it: [CLS] ... [SEP], at most MAX_TOKENS."""
        if self._tokenizer is None:
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
            return self._runner("onnxruntime")([self._batch(rows)])[0]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        chunks = []
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
            chunks.append(order[start:end])
            start = end
        vectors = self._runner(self.engine)([self._batch([rows[i] for i in c]) for c in chunks])
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for chosen, chunk_vectors in zip(chunks, vectors, strict=True):
            out[chosen] = chunk_vectors
        return out


_defaults: dict[str, MiniLMEmbedder] = {}
_default_lock = threading.Lock()


def default_embedder(engine: str = "onnxruntime") -> MiniLMEmbedder:
    """The process-wide embedder on ``engine`` (the setting ``embedding_engine``; its model
    is loaded on first use). ModelFileError when the engine is not installed."""
    with _default_lock:
        if engine not in _defaults:
            _defaults[engine] = MiniLMEmbedder(engine=engine)
        return _defaults[engine]


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper."""
    return f"{title}. {abstract}"
