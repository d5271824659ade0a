"""Would int8 make indexing fast enough? Agreement and CPU cost of quantised MiniLM exports.

Builds the float32 export of all-MiniLM-L6-v2 from the genuine weights (as
``scripts/export_model.py`` does), folds its weight transposes (ONNX Runtime's basic graph
optimisations, so the MatMuls read constant weights), then quantises it with ONNX Runtime's
own tools: dynamic int8 (weights per channel, activations per call) of every MatMul or of all
but the feed-forward output, and static int8 (QDQ, activations calibrated on 100 feed
abstracts); and the dense layers as ONNX Runtime's ``MatMulIntegerToFloat`` (uint8 x int8,
the VNNI kernel) with the activations quantised per token (``per_token_graph``). The shipped
``q8`` file is timed beside them. For each variant it prints the agreement with the genuine
torch vectors of ``tests/fixtures/reference-vectors`` (the shipped engine must reach cosine
>= 0.999 on every text) and abstracts embedded per CPU second on one thread (CPU time, so a
busy machine does not distort the comparison; two cores do at most twice that).

Needs the ``model-export`` extra (``onnx``) and the upstream model folder:

    python bench/int8_check.py /path/to/all-MiniLM-L6-v2 --papers 150
    python bench/int8_check.py --kernels    # the dense-layer kernels alone
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from bench.common import emit, load_average, load_feed, log, machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "reference-vectors" / "minilm.npz"
SHIPPED_FILE = "all-MiniLM-L6-v2.q8.onnx"
ROLES = ("q", "k", "v", "scores", "ctx", "o", "up", "down")


def named_fp32(model_dir: Path, folder: Path) -> Path:
    """The float32 export with its MatMuls named by layer and role and transposes folded."""
    import onnx
    import onnxruntime as ort

    sys.path.insert(0, str(ROOT / "scripts"))
    import export_model

    tensors = export_model.read_safetensors(model_dir / "model.safetensors")
    config = json.loads((model_dir / "config.json").read_text())
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


def per_token_graph(model_dir: Path, folder: Path) -> Path:
    """The export with every dense layer in int8: weights per output channel, activations
    quantised per token (symmetric, stored as uint8 around 128) in the graph, multiplied by
    ``MatMulIntegerToFloat`` (com.microsoft), scaled back per token. Per-token scales follow
    each token's own range, which per-call quantisation (one scale for the whole batch)
    does not; BERT's few large channels still set every token's scale."""
    from onnx import TensorProto

    sys.path.insert(0, str(ROOT / "scripts"))
    import export_model

    class PerToken(export_model.Graph):
        def __init__(self, variant: str) -> None:
            super().__init__(variant)
            self.quantised: dict[str, tuple[str, str]] = {}

        def linear(self, x: str, w: np.ndarray, b: np.ndarray) -> str:
            if x not in self.quantised:  # query, key and value share their input's
                peak = self.op("ReduceMax", [self.op("Abs", [x])], "peak", axes=[-1], keepdims=1)
                peak = self.op("Max", [peak, self.const(np.array(1e-8, np.float32))])
                scale = self.op("Div", [peak, self.const(np.array(127.0, np.float32))])
                steps = self.op("Div", [self.const(np.array(127.0, np.float32)), peak])
                rounded = self.op("Round", [self.op("Mul", [x, steps])])
                shifted = self.op("Add", [rounded, self.const(np.array(128.0, np.float32))])
                as_uint8 = self.op("Cast", [shifted], "q", to=TensorProto.UINT8)
                self.quantised[x] = (as_uint8, scale)
            as_uint8, scale = self.quantised[x]
            weight = np.ascontiguousarray(w.T)  # (in, out)
            columns = np.abs(weight).max(axis=0) / 127.0
            columns[columns == 0] = 1.0
            stored = np.clip(np.rint(weight / columns), -127, 127).astype(np.int8)
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
            return self.op("Add", [self.op("Mul", [product, scale]), self.const(b, "b")])

    import onnx

    tensors = export_model.read_safetensors(model_dir / "model.safetensors")
    config = json.loads((model_dir / "config.json").read_text())
    # The q8 variant's word table (float16); every dense layer is PerToken's.
    model = onnx.load_from_string(export_model.build(tensors, "q8", config, graph=PerToken))
    path = folder / "per_token.onnx"
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


def main() -> None:
    """Build, quantise, measure; one JSON line per variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, nargs="?", help="upstream all-MiniLM-L6-v2 folder")
    parser.add_argument("--papers", type=int, default=150, help="feed abstracts timed")
    parser.add_argument("--feed", type=Path, help="the shared feed (default ../shared/data)")
    parser.add_argument(
        "--kernels", action="store_true", help="only time the dense-layer kernels, one thread"
    )
    args = parser.parse_args()
    if args.kernels:
        for result in kernel_rates():
            emit({"bench": "int8_check", **result, "load_average": load_average()})
        return
    if args.model_dir is None:
        parser.error("the upstream model folder is needed (or --kernels)")

    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    reference = np.load(REFERENCE)
    ref_texts, ref_vectors = [str(t) for t in reference["texts"]], reference["vectors"]
    feed = [f"{r['title']}. {r['abstract']}" for r in load_feed(args.papers + 100, args.feed)]
    timed, calibration = feed[: args.papers], feed[args.papers :]
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
        folder = Path(tmp)
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
        variants["static_int8_all"] = folder / "static.onnx"
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
        variants["per_token_int8_all"] = per_token_graph(args.model_dir, folder)
        variants["shipped_q8"] = ROOT / "src" / "dailypapers" / "index" / "model" / SHIPPED_FILE
        for name, path in variants.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            cosines = (runner.embed(session, ref_texts) * ref_vectors).sum(axis=1)
            runner.embed(session, timed[:16])
            started = time.process_time()
            runner.embed(session, timed)
            cpu = time.process_time() - started
            log(f"{name}: min cosine {cosines.min():.5f}")
            emit(
                {
                    "bench": "int8_check",
                    "variant": name,
                    "min_cosine": round(float(cosines.min()), 5),
                    "mean_cosine": round(float(cosines.mean()), 5),
                    "meets_0_999": bool(cosines.min() >= 0.999),
                    "abstracts_per_cpu_second": round(len(timed) / cpu, 1),
                    "papers": len(timed),
                    "file_mib": round(path.stat().st_size / 2**20, 1),
                    "onnxruntime": ort.__version__,
                    "load_average": load_average(),
                    "machine": machine_info(),
                }
            )


if __name__ == "__main__":
    main()
