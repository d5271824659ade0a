"""Build the ONNX file of all-MiniLM-L6-v2 that dailypapers ships, from the genuine weights.

No torch: the graph is written node by node with the ``onnx`` package (the ``model-export``
extra) from the upstream ``model.safetensors``, which is read with numpy. It is BERT as
sentence-transformers runs it: token and position embeddings, six encoder layers (12 heads,
GELU with erf), mean pooling over the attention mask and L2 normalisation, so the file maps
(input_ids, attention_mask) straight to unit vectors.

Variants store the weights differently; all but ``q8`` compute in float32 (ONNX Runtime folds the
casts into float32 weights when it loads the file, except the word-embedding table, which is
looked up first and converted per token, so it stays small in memory). dailypapers ships
``q8`` (docs/search.md, "Which variant"):

- ``fp32``: the weights as they are (87 MiB);
- ``fp16``: weights stored as float16 (44 MiB);
- ``int8``: weights stored as int8 with one float32 scale per output row (22 MiB);
- ``q8``: the dense layers' weights as 8-bit integers with one scale per 32 inputs, run by
  ONNX Runtime's ``MatMulNBits`` in int8 (35 MiB; the one variant that computes faster:
  1.2x for abstracts, 1.8x for a short query; shipped).

    python scripts/export_model.py /path/to/all-MiniLM-L6-v2 --variant q8 \
        [--out src/dailypapers/index/model]

It copies tokenizer.json beside the ONNX file and prints both files' SHA-256, which
``dailypapers.index.embedder`` pins.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "dailypapers" / "index" / "model"
OPSET = 17
# Inputs per scale of the q8 variant's weights (all of BERT's widths are multiples of it).
Q8_BLOCK = 32
DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """The tensors of a .safetensors file (8-byte header length, JSON header, raw data)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        dtype = np.dtype(DTYPES[meta["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(meta["shape"])
    return tensors


class Graph:
    """Collects nodes and initializers; each helper returns the name of its output."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.nodes: list[object] = []
        self.inits: list[object] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array: npt.NDArray[np.generic], hint: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str = "t", **attrs: object) -> str:
        from onnx import helper

        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def weight(self, array: npt.NDArray[np.float32], hint: str) -> str:
        """A float32 weight as stored by the variant (2-D arrays: one scale per row)."""
        from onnx import TensorProto

        if self.variant == "fp32" or array.ndim == 1:
            return self.const(array.astype(np.float32), hint)
        if self.variant == "fp16":
            stored = self.const(array.astype(np.float16), hint)
            return self.op("Cast", [stored], hint, to=TensorProto.FLOAT)
        scale = np.abs(array).max(axis=1, keepdims=True) / 127.0
        scale[scale == 0] = 1.0
        quantised = np.clip(np.rint(array / scale), -127, 127).astype(np.int8)
        cast = self.op("Cast", [self.const(quantised, hint)], hint, to=TensorProto.FLOAT)
        return self.op("Mul", [cast, self.const(scale.astype(np.float32), hint + "_scale")])

    def lookup(self, table: npt.NDArray[np.float32], ids: str) -> str:
        """Rows of an embedding table, converted after the lookup (the table stays small)."""
        from onnx import TensorProto

        if self.variant == "fp32":
            return self.op("Gather", [self.const(table, "word"), ids])
        if self.variant in ("fp16", "q8"):
            rows = self.op("Gather", [self.const(table.astype(np.float16), "word"), ids])
            return self.op("Cast", [rows], to=TensorProto.FLOAT)
        scale = np.abs(table).max(axis=1, keepdims=True) / 127.0
        scale[scale == 0] = 1.0
        quantised = np.clip(np.rint(table / scale), -127, 127).astype(np.int8)
        rows = self.op("Gather", [self.const(quantised, "word"), ids])
        scales = self.op("Gather", [self.const(scale.astype(np.float32), "word_scale"), ids])
        return self.op("Mul", [self.op("Cast", [rows], to=TensorProto.FLOAT), scales])

    def linear(self, x: str, w: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> str:
        if self.variant == "q8":
            return self.op("Add", [self.matmul_q8(x, w), self.const(b, "b")])
        # torch stores (out, in); scale per output row, then transpose for x @ W^T.
        weight = self.weight(np.ascontiguousarray(w), "w")
        weight_t = self.op("Transpose", [weight], "wt", perm=[1, 0])
        return self.op("Add", [self.op("MatMul", [x, weight_t]), self.const(b, "b")])

    def matmul_q8(self, x: str, w: npt.NDArray[np.float32]) -> str:
        """x @ w.T with w (out, in) stored as 8-bit integers, one scale per 32 inputs of a row.

        ONNX Runtime's ``MatMulNBits`` (com.microsoft) reads the weight as uint8 blocks
        ``(out, in / 32, 32)`` with ``weight = (q - 128) * scale`` and, with
        ``accuracy_level=4``, multiplies in int8 with the activations quantised per block
        of 32 as well (float32 where the CPU has no int8 kernel).
        """
        rows, inputs = w.shape
        blocks = w.reshape(rows, inputs // Q8_BLOCK, Q8_BLOCK).astype(np.float32)
        scale = np.abs(blocks).max(axis=2) / 127.0
        scale[scale == 0] = 1.0
        quantised = np.clip(np.rint(blocks / scale[:, :, None]), -127, 127) + 128
        return self.op(
            "MatMulNBits",
            [x, self.const(quantised.astype(np.uint8), "q8"), self.const(scale.astype(np.float32))],
            "mm",
            domain="com.microsoft",
            K=inputs,
            N=rows,
            bits=8,
            block_size=Q8_BLOCK,
            accuracy_level=4,
        )

    def layer_norm(self, x: str, w: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.const(w, "ln_w"), self.const(b, "ln_b")],
            "ln",
            axis=-1,
            epsilon=1e-12,
        )


def build(
    tensors: dict[str, npt.NDArray[np.generic]],
    variant: str,
    config: dict,
    graph: type[Graph] = Graph,
) -> bytes:
    """The serialised ONNX model (``graph``: the Graph class that writes the nodes, a
    subclass for variants tried outside the shipped ones, e.g. ``bench/int8_check.py``)."""
    import onnx
    from onnx import TensorProto, helper

    t = {k: v.astype(np.float32) for k, v in tensors.items() if v.dtype == np.float32}
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    head_dim = hidden // heads
    g = graph(variant)
    ids, mask = "input_ids", "attention_mask"

    # Embeddings: word + position + token type 0 (sentence-transformers passes zeros).
    length = g.op("Shape", [ids], "length", start=1, end=2)  # (1,): the sequence length
    positions = g.op(
        "Slice",
        [
            g.const(t["embeddings.position_embeddings.weight"], "pos"),
            g.const(np.array([0], dtype=np.int64)),
            length,
            g.const(np.array([0], dtype=np.int64)),
        ],
    )
    words = g.lookup(t["embeddings.word_embeddings.weight"], ids)
    summed = g.op(
        "Add",
        [
            g.op("Add", [words, positions]),
            g.const(t["embeddings.token_type_embeddings.weight"][0], "type"),
        ],
    )
    h = g.layer_norm(summed, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])

    # Additive attention mask (B, 1, 1, S): 0 where attended, float32 min where padding.
    mask_f = g.op("Cast", [mask], "mask_f", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const(np.array(1.0, dtype=np.float32)), mask_f])
    additive = g.op(
        "Mul", [inverted, g.const(np.array(np.finfo(np.float32).min, dtype=np.float32))]
    )
    additive = g.op("Unsqueeze", [additive, g.const(np.array([1, 2], dtype=np.int64))])

    split_shape = g.const(np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = g.const(np.array([0, 0, hidden], dtype=np.int64))
    scale = g.const(np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = g.const(np.array(np.sqrt(2.0), dtype=np.float32))
    one = g.const(np.array(1.0, dtype=np.float32))
    half = g.const(np.array(0.5, dtype=np.float32))
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def proj(name: str, p: str = p, h: str = h) -> str:
            return g.linear(
                h, t[f"{p}attention.self.{name}.weight"], t[f"{p}attention.self.{name}.bias"]
            )

        q = g.op("Transpose", [g.op("Reshape", [proj("query"), split_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [proj("key"), split_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [proj("value"), split_shape])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), additive])
        probs = g.op("Softmax", [scores], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_shape])
        attended = g.linear(
            context, t[p + "attention.output.dense.weight"], t[p + "attention.output.dense.bias"]
        )
        h = g.layer_norm(
            g.op("Add", [attended, h]),
            t[p + "attention.output.LayerNorm.weight"],
            t[p + "attention.output.LayerNorm.bias"],
        )
        inner = g.linear(h, t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"])
        erf = g.op("Erf", [g.op("Div", [inner, sqrt2])])
        gelu = g.op("Mul", [g.op("Mul", [inner, g.op("Add", [erf, one])]), half])
        out = g.linear(gelu, t[p + "output.dense.weight"], t[p + "output.dense.bias"])
        h = g.layer_norm(
            g.op("Add", [out, h]), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"]
        )

    # Mean pooling over attended tokens (count clamped at 1e-9), then L2 normalisation.
    weights = g.op("Unsqueeze", [mask_f, g.const(np.array([2], dtype=np.int64))])
    axis1 = g.const(np.array([1], dtype=np.int64))
    total = g.op("ReduceSum", [g.op("Mul", [h, weights]), axis1], keepdims=0)
    count = g.op(
        "Max",
        [
            g.op("ReduceSum", [weights, axis1], keepdims=0),
            g.const(np.array(1e-9, dtype=np.float32)),
        ],
    )
    mean = g.op("Div", [total, count])
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), axis1], keepdims=1)])
    norm = g.op("Max", [norm, g.const(np.array(1e-12, dtype=np.float32))])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))

    graph = helper.make_graph(
        g.nodes,
        f"all-MiniLM-L6-v2-{variant}",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.inits,
    )
    model = helper.make_model(
        graph,
        # ONNX Runtime's own operators (MatMulNBits and the like) need their domain declared.
        opset_imports=[helper.make_opsetid("", OPSET)]
        + (
            [helper.make_opsetid("com.microsoft", 1)]
            if any(node.domain == "com.microsoft" for node in g.nodes)  # type: ignore[attr-defined]
            else []
        ),
        producer_name="dailypapers scripts/export_model.py",
        ir_version=8,
    )
    model.doc_string = f"sentence-transformers/all-MiniLM-L6-v2, {variant} weights"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main() -> None:
    """Export, copy the tokenizer, print the hashes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="folder with the upstream model files")
    parser.add_argument("--variant", choices=["fp32", "fp16", "int8", "q8"], default="q8")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    config = json.loads((args.model_dir / "config.json").read_text())
    data = build(read_safetensors(args.model_dir / "model.safetensors"), args.variant, config)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"all-MiniLM-L6-v2.{args.variant}.onnx"
    target.write_bytes(data)
    shutil.copyfile(args.model_dir / "tokenizer.json", args.out / "tokenizer.json")
    for path in (args.model_dir / "model.safetensors", target, args.out / "tokenizer.json"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.name}  ({path.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
