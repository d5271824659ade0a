"""Would int8 make indexing fast enough? Agreement and CPU cost of quantised MiniLM exports.

Builds the float32 export of all-MiniLM-L6-v2 from the genuine weights (as
``scripts/export_model.py`` does), folds its weight transposes (ONNX Runtime's basic graph
optimisations, so the MatMuls read constant weights), then quantises it with ONNX Runtime's
own tools: dynamic int8 (weights per channel, activations per call) of every MatMul or of all
but the feed-forward output, and static int8 (QDQ, activations calibrated on 100 feed
abstracts); and the dense layers as ONNX Runtime's ``MatMulIntegerToFloat`` (uint8 x int8,
the VNNI kernel) with the activations quantised per token (``per_token_graph``), also with
each layer's few large input channels (found on 100 abstracts and 300 titles) multiplied in
float32 beside the int8 product (``outlier_int8``), and with weights stored so that CPUs
without VNNI cannot saturate (``outlier_int8_pair_safe``, see ``pair_safe``). The shipped
``q8`` file is measured beside them. For each variant it prints the agreement with the
genuine torch vectors of ``tests/fixtures/reference-vectors`` (the shipped engine must reach
cosine >= 0.999 on every text), the median time of one 16-token query and abstracts embedded
per CPU second, both on one thread (CPU time, so a busy machine does not distort the
comparison; two cores do at most twice that).

Needs the ``model-export`` extra (``onnx``) and the upstream model folder:

    python bench/int8_check.py /path/to/all-MiniLM-L6-v2 --papers 150 [--keep DIR]
    python bench/int8_check.py --kernels    # the dense-layer kernels alone
    # files saved by --keep, on a CPU without AVX-512 or VNNI (QEMU's user-mode emulator):
    qemu-x86_64 -cpu Haswell-noTSX .venv/bin/python bench/int8_check.py --papers 0 \
        --files DIR/outlier_int8.onnx src/dailypapers/index/model/all-MiniLM-L6-v2.q8.onnx
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from bench.common import emit, load_average, load_feed, log, machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "reference-vectors" / "minilm.npz"
SHIPPED_FILE = "all-MiniLM-L6-v2.q8.onnx"
ROLES = ("q", "k", "v", "scores", "ctx", "o", "up", "down")


@functools.cache
def upstream(model_dir: Path) -> tuple[Any, dict[str, np.ndarray], dict[str, Any]]:
    """``scripts/export_model.py`` with the upstream weights and config (read once: every
    variant is built from them)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import export_model

    tensors = export_model.read_safetensors(model_dir / "model.safetensors")
    return export_model, tensors, json.loads((model_dir / "config.json").read_text())


def named_fp32(model_dir: Path, folder: Path) -> Path:
    """The float32 export with its MatMuls named by layer and role and transposes folded."""
    import onnx
    import onnxruntime as ort

    export_model, tensors, config = upstream(model_dir)
    model = onnx.load_from_string(export_model.build(tensors, "fp32", config))
    matmuls = [node for node in model.graph.node if node.op_type == "MatMul"]
    for i, node in enumerate(matmuls):
        node.name = f"L{i // len(ROLES)}_{ROLES[i % len(ROLES)]}"
    raw, folded = folder / "raw.onnx", folder / "fp32.onnx"
    onnx.save(model, raw)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
    return folded


class Runner:
    """Tokenise like the engine (256 tokens) and run a session in low-padding batches."""

    def __init__(self, tokenizer: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=256)

    def rows(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text."""
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def embed(self, session: object, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts``."""
        rows = self.rows(texts)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.empty((len(rows), 384), np.float32)
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and end - start < 64
                and (end - start + 1) * len(rows[order[end]]) <= 2048
            ):
                end += 1
            chosen = order[start:end]
            width = max(len(rows[j]) for j in chosen)
            ids = np.zeros((len(chosen), width), np.int64)
            mask = np.zeros_like(ids)
            for k, j in enumerate(chosen):
                ids[k, : len(rows[j])] = rows[j]
                mask[k, : len(rows[j])] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            out[chosen] = session.run(None, feeds)[0]  # type: ignore[attr-defined]
            start = end
        return out


def linear_inputs(model_dir: Path, texts: list[str], runner: Runner) -> list[np.ndarray]:
    """Per channel, the largest magnitude each dense layer's input reaches on ``texts``
    (float32 export; one array per distinct input, in graph order: a layer's input, the
    attention context, the attention block's output, the GELU output)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    export_model, tensors, config = upstream(model_dir)

    seen: list[str] = []

    class Recorder(export_model.Graph):
        def linear(self, x: str, w: np.ndarray, b: np.ndarray) -> str:
            if x not in seen:
                seen.append(x)
            return super().linear(x, w, b)

    model = onnx.load_from_string(export_model.build(tensors, "fp32", config, graph=Recorder))
    for name in seen:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options)
    peaks = [np.zeros(0, np.float32) for _ in seen]
    for row in runner.rows(texts):
        ids = np.array([row], np.int64)
        outputs = session.run(seen, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        for i, out in enumerate(outputs):
            peak = np.abs(out).reshape(-1, out.shape[-1]).max(axis=0)
            peaks[i] = peak if not peaks[i].size else np.maximum(peaks[i], peak)
    return peaks


def pair_safe(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights (in, out) and per-column scales such that no two neighbouring inputs
    (2j, 2j+1) of a column with the same sign add up to more than 128 in magnitude.

    Without a VNNI instruction, ONNX Runtime's uint8 x int8 kernel (AVX2 and AVX-512 without
    VNNI) adds each such pair of products in 16 bits with saturation (``vpmaddubsw``):
    255 x (|b0| + |b1|) must stay within 32,767. The larger scale this needs costs precision."""
    even, odd = weight[0::2], weight[1::2]
    same = np.sign(even) == np.sign(odd)
    pairs = np.where(same, np.abs(even) + np.abs(odd), 0).max(axis=0) / 128.0
    columns = np.maximum(np.abs(weight).max(axis=0) / 127.0, pairs)
    columns[columns == 0] = 1.0
    stored = np.clip(np.rint(weight / columns), -127, 127).astype(np.int32)
    even, odd = stored[0::2], stored[1::2]  # rounding can still make a pair 129 or 130
    excess = np.where(np.sign(even) == np.sign(odd), np.abs(even) + np.abs(odd) - 128, 0)
    for j, n in zip(*np.nonzero(excess > 0), strict=True):
        big = 2 * j if abs(stored[2 * j, n]) >= abs(stored[2 * j + 1, n]) else 2 * j + 1
        stored[big, n] -= np.sign(stored[big, n]) * excess[j, n]
    return stored.astype(np.int8), columns.astype(np.float32)


def per_token_graph(
    model_dir: Path,
    folder: Path,
    name: str,
    *,
    outliers: list[np.ndarray] | None = None,
    safe_pairs: bool = False,
) -> Path:
    """The export with every dense layer in int8: weights per output channel, activations
    quantised per token (symmetric, stored as uint8 around 128) in the graph, multiplied by
    ``MatMulIntegerToFloat`` (com.microsoft), scaled back per token. Per-token scales follow
    each token's own range, which per-call quantisation (one scale for the whole batch)
    does not; BERT's few large channels still set every token's scale, unless ``outliers``
    (per dense-layer input, in graph order) names them: those channels are left out of the
    int8 product and multiplied in float32 beside it (as LLM.int8() does). ``safe_pairs``
    stores the weights so that CPUs without VNNI cannot saturate (``pair_safe``)."""
    from onnx import TensorProto

    export_model, tensors, config = upstream(model_dir)

    class PerToken(export_model.Graph):
        def __init__(self, variant: str) -> None:
            super().__init__(variant)
            self.quantised: dict[str, tuple[str, str, np.ndarray, str | None]] = {}

        def quantise(self, x: str, width: int) -> tuple[str, str, np.ndarray, str | None]:
            slot = len(self.quantised)
            wide = np.zeros(0, np.int64) if outliers is None else outliers[slot]
            inliers = x
            gathered = None
            if wide.size:
                mask = np.ones(width, np.float32)
                mask[wide] = 0.0
                inliers = self.op("Mul", [x, self.const(mask)])
                gathered = self.op("Gather", [x, self.const(wide)], axis=-1)
            peak = self.op("ReduceMax", [self.op("Abs", [inliers])], "peak", axes=[-1], keepdims=1)
            peak = self.op("Max", [peak, self.const(np.array(1e-8, np.float32))])
            scale = self.op("Div", [peak, self.const(np.array(127.0, np.float32))])
            steps = self.op("Div", [self.const(np.array(127.0, np.float32)), peak])
            rounded = self.op("Round", [self.op("Mul", [inliers, steps])])
            shifted = self.op("Add", [rounded, self.const(np.array(128.0, np.float32))])
            as_uint8 = self.op("Cast", [shifted], "q", to=TensorProto.UINT8)
            return as_uint8, scale, wide, gathered

        def linear(self, x: str, w: np.ndarray, b: np.ndarray) -> str:
            if x not in self.quantised:  # query, key and value share their input's
                self.quantised[x] = self.quantise(x, w.shape[1])
            as_uint8, scale, wide, gathered = self.quantised[x]
            weight = np.ascontiguousarray(w.T)  # (in, out)
            inlier_weight = weight.copy()
            inlier_weight[wide, :] = 0.0
            if safe_pairs:
                stored, columns = pair_safe(inlier_weight)
            else:
                columns = np.abs(inlier_weight).max(axis=0) / 127.0
                columns[columns == 0] = 1.0
                stored = np.clip(np.rint(inlier_weight / columns), -127, 127).astype(np.int8)
            product = self.op(
                "MatMulIntegerToFloat",
                [
                    as_uint8,
                    self.const(stored, "w"),
                    self.const(np.array(1.0, np.float32)),
                    self.const(columns.astype(np.float32)),
                    self.const(np.array(128, np.uint8)),
                ],
                "mm",
                domain="com.microsoft",
            )
            out = self.op("Mul", [product, scale])
            if gathered is not None:
                wide_product = self.op("MatMul", [gathered, self.const(weight[wide, :])])
                out = self.op("Add", [out, wide_product])
            return self.op("Add", [out, self.const(b, "b")])

    import onnx

    # The q8 variant's word table (float16); every dense layer is PerToken's.
    model = onnx.load_from_string(export_model.build(tensors, "q8", config, graph=PerToken))
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    return path


def kernel_rates(rows: tuple[int, ...] = (1, 18, 256, 2048)) -> list[dict[str, object]]:
    """Multiply-adds per second of one dense layer (384x1536 and 1536x384) on one thread:
    float32 ``MatMul``, the 8-bit ``MatMulNBits`` that the shipped ``q8`` file runs
    (``accuracy_level`` 4: int8) and ``MatMulInteger`` (uint8 x int8, what the dynamic and
    per-token variants run), on random data."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def session(kind: str, m: int, k: int, n: int) -> object:
        x_type = TensorProto.UINT8 if kind == "int8" else TensorProto.FLOAT
        y_type = TensorProto.INT32 if kind == "int8" else TensorProto.FLOAT
        if kind == "float32":
            inits = [numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")]
            node = helper.make_node("MatMul", ["x", "w"], ["y"])
        elif kind == "int8":
            inits = [numpy_helper.from_array(rng.integers(-127, 128, (k, n), dtype=np.int8), "w")]
            node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
        else:
            blocks = rng.integers(0, 256, (n, k // 32, 32), dtype=np.uint8)
            scales = rng.random(n * (k // 32)).astype(np.float32)
            inits = [numpy_helper.from_array(blocks, "w"), numpy_helper.from_array(scales, "s")]
            node = helper.make_node(
                "MatMulNBits", ["x", "w", "s"], ["y"], domain="com.microsoft",
                K=k, N=n, bits=8, block_size=32, accuracy_level=4,
            )  # fmt: skip
        graph = helper.make_graph(
            [node],
            kind,
            [helper.make_tensor_value_info("x", x_type, [m, k])],
            [helper.make_tensor_value_info("y", y_type, [m, n])],
            inits,
        )
        opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
        model = helper.make_model(graph, opset_imports=opsets, ir_version=9)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(model.SerializeToString(), options)

    results: list[dict[str, object]] = []
    for m in rows:
        for k, n in ((384, 1536), (1536, 384)):
            for kind in ("float32", "q8", "int8"):
                run = session(kind, m, k, n).run  # type: ignore[attr-defined]
                x = rng.integers(0, 256, (m, k)).astype(np.uint8 if kind == "int8" else np.float32)
                for _ in range(3):
                    run(None, {"x": x})
                calls = max(5, 20_000 // m)
                started = time.process_time()
                for _ in range(calls):
                    run(None, {"x": x})
                seconds = (time.process_time() - started) / calls
                rate = round(m * k * n / seconds / 1e9, 1)
                results.append({"kernel": kind, "rows": m, "k": k, "n": n, "gmac_per_s": rate})
    return results


def query_ms(session: object, tokens: int = 16, runs: int = 300) -> float:
    """Median wall time of one query of ``tokens`` tokens (one thread), in milliseconds."""
    ids = np.random.default_rng(tokens).integers(1000, 20000, (1, tokens)).astype(np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    run = session.run  # type: ignore[attr-defined]
    for _ in range(20):
        run(None, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(None, feeds)
        times.append(time.perf_counter() - started)
    return round(1000 * float(np.median(times)), 3)


def measure(
    name: str, path: Path, runner: Runner, reference: Any, timed: list[str]
) -> dict[str, object]:
    """Agreement with the torch reference vectors (all, queries, abstracts) and speed."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    texts = [str(t) for t in reference["texts"]]
    kinds = np.asarray([str(k) for k in reference["kinds"]])
    cosines = (runner.embed(session, texts) * reference["vectors"]).sum(axis=1)
    result: dict[str, object] = {
        "bench": "int8_check",
        "variant": name,
        "min_cosine": round(float(cosines.min()), 5),
        "mean_cosine": round(float(cosines.mean()), 5),
        "min_cosine_queries": round(float(cosines[kinds == "query"].min()), 5),
        "min_cosine_abstracts": round(float(cosines[kinds == "abstract"].min()), 5),
        "meets_0_999": bool(cosines.min() >= 0.999),
        "query_ms_16_tokens": query_ms(session),
    }
    if timed:
        runner.embed(session, timed[:16])
        started = time.process_time()
        runner.embed(session, timed)
        result["abstracts_per_cpu_second"] = round(len(timed) / (time.process_time() - started), 1)
    log(f"{name}: min cosine {cosines.min():.5f}")
    return result | {
        "papers": len(timed),
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "onnxruntime": ort.__version__,
        "load_average": load_average(),
        "machine": machine_info(),
    }


def main() -> None:
    """Build, quantise, measure; one JSON line per variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, nargs="?", help="upstream all-MiniLM-L6-v2 folder")
    parser.add_argument("--papers", type=int, default=150, help="feed abstracts timed")
    parser.add_argument("--feed", type=Path, help="the shared feed (default ../shared/data)")
    parser.add_argument(
        "--kernels", action="store_true", help="only time the dense-layer kernels, one thread"
    )
    parser.add_argument(
        "--outlier-ratio",
        type=float,
        default=2.5,
        help="a channel is an outlier above this many times its input's median channel peak",
    )
    parser.add_argument("--keep", type=Path, help="also save every variant's ONNX file here")
    parser.add_argument(
        "--files",
        type=Path,
        nargs="+",
        help="only measure these ONNX files (e.g. saved by --keep, run under an emulated CPU)",
    )
    args = parser.parse_args()
    if args.kernels:
        for result in kernel_rates():
            emit({"bench": "int8_check", **result, "load_average": load_average()})
        return
    reference = np.load(REFERENCE)
    if args.files:
        runner = Runner(ROOT / "src" / "dailypapers" / "index" / "model" / "tokenizer.json")
        timed = [f"{r['title']}. {r['abstract']}" for r in load_feed(args.papers, args.feed)]
        for path in args.files:
            emit(measure(path.stem, path, runner, reference, timed if args.papers else []))
        return
    if args.model_dir is None:
        parser.error("the upstream model folder is needed (or --kernels, or --files)")

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    feed = load_feed(args.papers + 400, args.feed)
    abstracts = [f"{r['title']}. {r['abstract']}" for r in feed]
    timed, calibration = abstracts[: args.papers], abstracts[args.papers : args.papers + 100]
    titles = [str(r["title"]) for r in feed[args.papers + 100 :]]
    runner = Runner(args.model_dir / "tokenizer.json")

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(
                {
                    "input_ids": np.array([row], np.int64),
                    "attention_mask": np.ones((1, len(row)), np.int64),
                }
                for row in runner.rows(calibration)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        fp32 = named_fp32(args.model_dir, folder)
        not_down = [f"L{layer}_down" for layer in range(6)]
        attention = [f"L{layer}_{r}" for layer in range(6) for r in ("scores", "ctx")]
        variants: dict[str, Path] = {"fp32": fp32}
        for name, exclude in (("dynamic_int8_all", []), ("dynamic_int8_but_ffn_out", not_down)):
            variants[name] = folder / f"{name}.onnx"
            quantize_dynamic(
                fp32,
                variants[name],
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=exclude,
                extra_options={"MatMulConstBOnly": True},
            )
        variants["static_int8_all"] = folder / "static_int8_all.onnx"
        quantize_static(
            fp32,
            variants["static_int8_all"],
            Calibration(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=attention,
            extra_options={"MatMulConstBOnly": True},
        )
        variants["per_token_int8_all"] = per_token_graph(args.model_dir, folder, "per_token")
        # Outlier channels from 100 abstracts and 300 titles (not the timed abstracts).
        peaks = linear_inputs(args.model_dir, calibration + titles, runner)
        wide = [np.flatnonzero(p > args.outlier_ratio * np.median(p)) for p in peaks]
        log(f"outlier channels per dense-layer input: {[len(w) for w in wide]}")
        for name, safe in (("outlier_int8", False), ("outlier_int8_pair_safe", True)):
            variants[name] = per_token_graph(
                args.model_dir, folder, name, outliers=wide, safe_pairs=safe
            )
        variants["shipped_q8"] = ROOT / "src" / "dailypapers" / "index" / "model" / SHIPPED_FILE
        for name, path in variants.items():
            result = measure(name, path, runner, reference, timed)
            if name.startswith("outlier"):
                result |= {"outlier_ratio": args.outlier_ratio, "outliers": sum(map(len, wide))}
            emit(result)


if __name__ == "__main__":
    main()
