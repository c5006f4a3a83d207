"""Export a deployment graph to ONNX (standard ops, opset >= 18) that runs exactly in onnxruntime.

Layout of the exported model:
    input  ``images``: uint8 (N,) + graph.input.shape (NHWC or (N, F)), N dynamic
    output ``scores``: int32 (N, C), equal bit for bit to :func:`binedge.reference.run`

Inside the model activations are float32 tensors holding small integers (pixels, ±1, levels),
NCHW between convolutions. Binary weights are stored BIT-PACKED (the little-endian bytes of
the uint32 words of the bit format) and unpacked in the graph with BitShift / BitwiseAnd /
Reshape / Slice / Cast to ±1; int8 weights are stored as int8. Thresholds, directions,
multipliers and offsets are int32 / int8 initializers of their natural size.

With ``packed=False`` the weights are stored as plain float32 initializers instead (±1 for
binary weights, the int8 values otherwise; Conv weights (O, C, KH, KW), MatMul weights (K, O)),
as other exporters write binarized networks: a larger file, no unpacking nodes, same scores.

Exactness: float32 Conv / MatMul are exact while every partial sum is an integer of magnitude
<= 2**24. The exporter bounds |acc| per layer from the weights and the input range; a layer
above the bound is split along its input channels into chunks that each stay below it, each
chunk is cast to int32 and the chunks are added in int32 (a single channel above the bound,
or a total above int32, raises :class:`OnnxExportError`). Comparisons and scores are int32:
``level = sum_k (direction * acc >= T_k)``, ``score = multiplier * acc + offset``.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import __version__
from . import bitformat as bf
from .exact import FLOAT_EXACT_BOUND, exact_chunks
from .fileio import atomic_write_bytes
from .graph import FORMAT_ID, Conv2d, Dense, Flatten, Graph, MaxPool2d, ScoreStage, TensorSpec

__all__ = ["export_onnx", "build_onnx_model", "load_onnx_checked", "OnnxExportError", "OnnxModelError",
           "MIN_OPSET", "FLOAT_EXACT_BOUND", "INPUT_NAME", "OUTPUT_NAME"]

MIN_OPSET = 18

INT32_MAX = 2**31 - 1
INPUT_NAME = "images"
OUTPUT_NAME = "scores"
REQUIRED_METADATA = ("bit_format", "binedge_version")  # binedge_version is written last
RESERVED_METADATA = ("class_names", "score_shift") + REQUIRED_METADATA


class OnnxExportError(ValueError):
    """The graph cannot be exported exactly (or an export option is invalid)."""


class OnnxModelError(ValueError):
    """An ONNX file that is missing, truncated, corrupt or not a binedge export."""


# ----------------------------------------------------------------------------- graph builder


class _Onnx:
    """Collects nodes and initializers with unique names."""

    def __init__(self):
        self.nodes: list = []
        self.inits: list = []
        self._n = 0
        self._consts: dict = {}

    def _name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def init(self, array: np.ndarray, hint: str) -> str:
        name = self._name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, value, dtype) -> str:
        """A small shared constant (scalar or 1-D)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            self._consts[key] = self.init(arr, "const")
        return self._consts[key]

    def node(self, op_type: str, inputs: list, hint: str, output: str | None = None, **attrs) -> str:
        out = output or self._name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self._name(f"{hint}_{op_type}"), **attrs))
        return out


def _float_weights(b: _Onnx, op, hint: str) -> str:
    """Weights as a float32 tensor of shape (O, ..., K) with values ±1 (binary) or int8."""
    if op.weight_kind == "int8":
        return b.node("Cast", [b.init(op.weights, f"{hint}_w_int8")], hint, to=TensorProto.FLOAT)
    k = op.in_features if isinstance(op, Dense) else op.in_channels
    words = np.ascontiguousarray(op.weights, dtype=bf.WORD_DTYPE)
    lead, nbytes = words.shape[:-1], words.shape[-1] * 4
    packed = b.init(words.view(np.uint8).reshape(lead + (nbytes,)), f"{hint}_w_packed")
    x = b.node("Unsqueeze", [packed, b.const([-1], np.int64)], hint)
    x = b.node("BitShift", [x, b.const(np.arange(8), np.uint8)], hint, direction="RIGHT")
    x = b.node("BitwiseAnd", [x, b.const(1, np.uint8)], hint)  # (..., bytes, 8): bit j of byte i
    x = b.node("Reshape", [x, b.const(list(lead) + [nbytes * 8], np.int64)], hint)
    if k < nbytes * 8:
        x = b.node("Slice", [x, b.const([0], np.int64), b.const([k], np.int64), b.const([-1], np.int64)], hint)
    x = b.node("Cast", [x], hint, to=TensorProto.FLOAT)
    x = b.node("Mul", [x, b.const(-2.0, np.float32)], hint)
    return b.node("Add", [x, b.const(1.0, np.float32)], hint)  # bit 0 -> +1, bit 1 -> -1


def _plain_weights(op) -> np.ndarray:
    """Weights as a float32 array: ±1 (binary) or the int8 values; Conv (O, C, KH, KW), Dense (O, K)."""
    if op.weight_kind == "int8":
        w = op.weights.astype(np.float32)
    else:
        k = op.in_features if isinstance(op, Dense) else op.in_channels
        w = bf.unpack_sign(op.weights, k).astype(np.float32)
    return np.ascontiguousarray(w.transpose(0, 3, 1, 2) if isinstance(op, Conv2d) else w)


def _linear(b: _Onnx, op, x: str, spec_in: TensorSpec, hint: str, packed: bool = True) -> tuple[str, bool]:
    """acc of a Conv2d (NCHW) or Dense; returns (name, is_int32) - float32 when exact in one go."""
    conv = isinstance(op, Conv2d)
    if packed:
        w = _float_weights(b, op, hint)
        if conv:
            w = b.node("Transpose", [w], hint, perm=[0, 3, 1, 2])  # (O, KH, KW, C) -> (O, C, KH, KW)
    else:
        wf = _plain_weights(op)
    if conv and any(op.padding):
        pt, pb, pl, pr = op.padding
        pads = b.const([0, 0, pt, pl, 0, 0, pb, pr], np.int64)
        x = b.node("Pad", [x, pads, b.const(float(spec_in.pad_value), np.float32)], hint, mode="constant")
    absw = np.abs(op.weights.astype(np.int64)) if op.weight_kind == "int8" else None
    if conv:
        o, c = op.out_channels, op.in_channels
        per = absw.sum(axis=(1, 2)) if absw is not None else np.full((o, c), op.kernel[0] * op.kernel[1])
    else:
        per = absw if absw is not None else np.ones((op.out_features, op.in_features), np.int64)
    chunks = exact_chunks(per.astype(np.int64) * spec_in.max_abs_value, f"op {hint}", error=OnnxExportError,
                          ops="float32 Conv/MatMul")

    def weights(lo: int, hi: int, whole: bool) -> str:
        """Input channels [lo, hi) of the weights, as Conv (O, C, KH, KW) / MatMul (K, O) wants them."""
        if not packed:  # plain float32 initializers, already in the operator's layout
            part = wf[:, lo:hi]
            return b.init(part if conv else np.ascontiguousarray(part.T), f"{hint}_w_float")
        wc = w if whole else b.node("Slice", [w, b.const([lo], np.int64), b.const([hi], np.int64),
                                              b.const([1], np.int64)], hint)
        return wc if conv else b.node("Transpose", [wc], hint, perm=[1, 0])

    def apply(xc: str, wc: str) -> str:
        if conv:
            return b.node("Conv", [xc, wc], hint, kernel_shape=list(op.kernel), strides=list(op.stride))
        return b.node("MatMul", [xc, wc], hint)

    if len(chunks) == 1:
        return apply(x, weights(0, per.shape[1], True)), False
    acc = None
    for lo, hi in chunks:
        sl = [b.const([lo], np.int64), b.const([hi], np.int64), b.const([1], np.int64)]
        part = apply(b.node("Slice", [x] + sl, hint), weights(lo, hi, False))
        part = b.node("Cast", [part], hint, to=TensorProto.INT32)
        acc = part if acc is None else b.node("Add", [acc, part], hint)
    return acc, True


def _stage(b: _Onnx, stage, acc: str, acc_is_int: bool, spatial: bool, hint: str, output: str | None) -> str:
    if not acc_is_int:
        acc = b.node("Cast", [acc], hint, to=TensorProto.INT32)  # exact: integer-valued float32
    if isinstance(stage, ScoreStage):
        y = b.node("Mul", [acc, b.init(stage.multiplier, f"{hint}_multiplier")], hint)
        return b.node("Add", [y, b.init(stage.offset, f"{hint}_offset")], hint, output=output)
    c, levels = stage.thresholds.shape
    bshape = (c, 1, 1) if spatial else (c,)  # broadcast against (N, C, H, W) / (N, C)
    d = b.node("Cast", [b.init(stage.direction.reshape(bshape), f"{hint}_direction")], hint, to=TensorProto.INT32)
    acc = b.node("Mul", [acc, d], hint)
    if levels == 1:
        ge = b.node("GreaterOrEqual", [acc, b.init(stage.thresholds.reshape(bshape), f"{hint}_thresholds")], hint)
        level = b.node("Cast", [ge], hint, to=TensorProto.FLOAT)
    else:
        acc = b.node("Unsqueeze", [acc, b.const([-1], np.int64)], hint)
        t = b.init(stage.thresholds.reshape(bshape + (levels,)), f"{hint}_thresholds")
        ge = b.node("Cast", [b.node("GreaterOrEqual", [acc, t], hint)], hint, to=TensorProto.FLOAT)
        level = b.node("ReduceSum", [ge, b.const([-1], np.int64)], hint, keepdims=0)
    if stage.encoding == "sign":  # level 1 -> +1, level 0 -> -1
        level = b.node("Add", [b.node("Mul", [level, b.const(2.0, np.float32)], hint),
                               b.const(-1.0, np.float32)], hint)
    return level


def _metadata(graph: Graph) -> list[tuple[str, str]]:
    items = []
    for k, v in graph.metadata.items():
        k = str(k)
        if k in RESERVED_METADATA:
            raise OnnxExportError(f"graph.metadata key {k!r} is reserved by the ONNX exporter")
        items.append((k, v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)))
    last = graph.ops[-1].output
    items += [("class_names", json.dumps(list(graph.class_names))), ("score_shift", str(int(last.shift))),
              ("bit_format", FORMAT_ID), ("binedge_version", __version__)]  # binedge_version last: see loader
    return items


def _check_options(opset, model_name, packed=True) -> None:
    if not isinstance(packed, bool):
        raise OnnxExportError(f"packed must be True or False, got {packed!r}")
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise OnnxExportError(f"opset must be an int in [{MIN_OPSET}, {latest}], got {opset!r}")
    if not isinstance(model_name, str) or not model_name.strip():
        raise OnnxExportError(f"model_name must be a non-empty string, got {model_name!r}")


def build_onnx_model(graph: Graph, *, opset: int = MIN_OPSET, model_name: str = "binedge",
                     packed: bool = True) -> onnx.ModelProto:
    """The ONNX model of ``graph`` (not checked, not written); see :func:`export_onnx`."""
    _check_options(opset, model_name, packed)
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a binedge.graph.Graph, got {type(graph).__name__}")
    specs = graph.specs()  # validates the graph
    if graph.class_names and len(graph.class_names) != specs[-1].shape[0]:
        raise OnnxExportError(f"{len(graph.class_names)} class names for {specs[-1].shape[0]} scores")
    b = _Onnx()
    x = b.node("Cast", [INPUT_NAME], "input", to=TensorProto.FLOAT)
    if len(graph.input.shape) == 3:
        x = b.node("Transpose", [x], "input", perm=[0, 3, 1, 2])  # NHWC -> NCHW
    for i, (op, s_in, s_out) in enumerate(zip(graph.ops, specs[:-1], specs[1:])):
        hint = f"op{i}"
        last = i == len(graph.ops) - 1
        if isinstance(op, (Conv2d, Dense)):
            acc, is_int = _linear(b, op, x, s_in, hint, packed=packed)
            x = _stage(b, op.output, acc, is_int, isinstance(op, Conv2d), hint, OUTPUT_NAME if last else None)
        elif isinstance(op, MaxPool2d):  # max of exact small integers: exact in float32
            x = b.node("MaxPool", [x], hint, kernel_shape=list(op.kernel), strides=list(op.stride))
        elif isinstance(op, Flatten):
            if len(s_in.shape) == 3:  # flatten in (H, W, C) order like the reference
                x = b.node("Flatten", [b.node("Transpose", [x], hint, perm=[0, 2, 3, 1])], hint, axis=1)
        else:  # pragma: no cover - Graph.specs() rejects unknown ops first
            raise OnnxExportError(f"unsupported op {type(op).__name__}")
    inp = helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["N", *graph.input.shape])
    out = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.INT32, ["N", specs[-1].shape[0]])
    g = helper.make_graph(b.nodes, model_name, [inp], [out], b.inits,
                          doc_string="binedge deployment graph; scores equal binedge.reference.run exactly")
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(g, opset_imports=opsets, producer_name="binedge", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(model, dict(_metadata(graph)))
    return model


def _sizes(graph: Graph) -> tuple[int, int]:
    weights = thresholds = 0
    for op in graph.ops:
        if isinstance(op, (Conv2d, Dense)):
            weights += op.weights.nbytes
            st = op.output
            arrays = (st.multiplier, st.offset) if isinstance(st, ScoreStage) else (st.thresholds, st.direction)
            thresholds += sum(a.nbytes for a in arrays)
    return weights, thresholds


def export_onnx(graph: Graph, path, *, opset: int = MIN_OPSET, model_name: str = "binedge",
                packed: bool = True) -> dict:
    """Write ``graph`` as an ONNX model to ``path`` (atomically) and return its sizes.

    ``packed=False`` stores the weights as float32 initializers (±1 / int8 values) instead of
    bit-packed words unpacked in the graph (see the module docstring); the scores are the same.

    Returns {"path", "file_bytes", "packed_weight_bytes" (weights as stored in the graph: packed
    uint32 words / int8), "threshold_bytes" (thresholds + directions + score multipliers/offsets)}.
    Raises OnnxExportError for bad options or a layer that cannot be computed exactly,
    GraphError for an invalid graph.
    """
    _check_options(opset, model_name, packed)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OnnxExportError(f"cannot write {path}: directory {folder} does not exist")
    model = build_onnx_model(graph, opset=opset, model_name=model_name, packed=packed)
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    atomic_write_bytes(path, data)  # temp file + rename, the usual file mode (binedge.fileio)
    weights, thresholds = _sizes(graph)
    return {"path": path, "file_bytes": len(data), "packed_weight_bytes": weights, "threshold_bytes": thresholds}


def load_onnx_checked(path, *, require_binedge: bool = True) -> onnx.ModelProto:
    """Load an ONNX file and run the full checker; OnnxModelError (naming the file) on any problem.

    With ``require_binedge`` the binedge metadata must be present and match this bit format;
    the exporter writes ``binedge_version`` last, so a file cut after the graph is caught too.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OnnxModelError(f"{path}: ONNX file not found")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise OnnxModelError(f"{path}: empty file, not an ONNX model")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # google.protobuf.message.DecodeError and friends
        raise OnnxModelError(f"{path}: not a valid ONNX model (truncated or corrupt?): {e}") from e
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # onnx.checker.ValidationError, onnx.shape_inference.InferenceError
        raise OnnxModelError(f"{path}: ONNX model fails the checker (truncated or corrupt?): {e}") from e
    if require_binedge:
        props = {p.key: p.value for p in model.metadata_props}
        missing = [k for k in REQUIRED_METADATA if k not in props]
        if missing:
            raise OnnxModelError(f"{path}: missing binedge metadata {missing} (truncated, or not a binedge export)")
        if props["bit_format"] != FORMAT_ID:
            raise OnnxModelError(f"{path}: bit format {props['bit_format']!r} is not {FORMAT_ID!r}")
    return model


def run_onnx(path, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """Run a binedge ONNX file in onnxruntime (CPU) on uint8 images; returns int32 scores (N, C)."""
    import onnxruntime as ort

    load_onnx_checked(path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
    images = np.ascontiguousarray(images, dtype=np.uint8)
    out = [sess.run([OUTPUT_NAME], {INPUT_NAME: images[i:i + batch_size]})[0]
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.int32)
