"""Export a deployment graph (any graph v2 DAG, docs/graph.md) to ONNX that runs exactly in onnxruntime.

Standard ONNX operators only (default domain, opset >= 18), checked with
``onnx.checker.check_model(full_check=True)`` before anything is written. docs/onnx.md has the
op mapping and the proofs; in short:

Layout of the exported model:
    input  ``images``: uint8 or int8 (the graph input's kind) (N,) + graph.input.shape, NHWC or (N, F),
                       N dynamic
    output ``scores``: int32 (N, C), equal bit for bit to :func:`binedge.reference.run`
A recurrent graph (LSTM ops) is one time step instead: input ``input`` uint8 (N, 1) (a character
id per stream) and the state ``h{l}`` int8 / ``c{l}`` int32 (N, H) of every LSTM layer l; outputs
``scores`` and the new state ``h{l}_out`` / ``c{l}_out`` (:mod:`binedge.export_onnx_lstm`,
docs/onnx.md "Recurrent models"); :func:`run_onnx_stream` carries the state.

Values. Every u8 / i8 / bits value of the graph is one float32 tensor holding small integers:
codes (-128..255), ±1 for sign bits, levels 0..2^P-1 for unsigned bits; NCHW for (H, W, C)
values, (N, F) for feature vectors. float32 holds every integer of magnitude <= 2**24 exactly,
and Pad, MaxPool, Concat, Transpose, Reshape, Flatten, Slice and Gather only move or compare
them. The graph input is Cast to float32 (and transposed to NCHW) once.

Weights. Binary weights are stored BIT-PACKED (the little-endian bytes of the uint32 words of
the bit format) and unpacked in the graph with BitShift / BitwiseAnd / Reshape / Slice / Cast to
±1; int8 weights are stored as int8. With ``packed=False`` both are plain float32 initializers
(±1 / the int8 values; Conv (O, C/g, KH, KW), MatMul (K, O)), as other exporters write
binarized networks: a larger file, no unpacking nodes, the same scores.

Accumulators (Dense, Conv2d with any ``groups``): float32 MatMul / Conv are exact while every
partial sum is an integer of magnitude <= 2**24. The exporter bounds |acc| per output channel
from the weights and the input range (:func:`binedge.exact.channel_cost`); a layer above the
bound is split along its input channels (Slice, or Gather of the same channel range of every
group) into chunks that each stay below it, each chunk is Cast to int32 and the chunks are
added in int32 (the graph proves |acc| <= 2**31 - 1). A single channel above the bound raises
:class:`OnnxExportError` naming the op.

Output stages, on the int32 (or exact float32) accumulator:
    * ThresholdStage: level = sum_k (direction * acc >= T_k) in int32 (GreaterOrEqual, Cast, ReduceSum)
    * ScoreStage:     score = multiplier * acc + offset in int32 (the graph proves it fits)
    * RequantStage:   w = M * acc + (B + 2^(s-1)) in int64, then the rounding rule below
    * AccStage:       the accumulator Cast to int64 (exact: an integer-valued float32 <= 2**24, or
                      the int32 sum of the chunks); only a Merge reads it

Merge: v = Ma * (a - zp_a) + Mb * (b - zp_b) + B per channel, all in int64 on centred values:
codes are centred in float32 (Sub zp: |code - zp| <= 255, exact) and Cast int64, accumulators
are int64 already; Mul Ma / Mb (per-channel constants), Add, Add (B + 2^(s-1)). Every partial
result is bounded by |Ma| max_a + |Mb| max_b + |B| + 2^(s-1), which the graph proves <= 2**63 - 1
and the exporter checks again. A RoundStage then takes the rounding rule below (per-channel
shifts); a ThresholdStage compares direction * v with its int64 thresholds in int64
(GreaterOrEqual), never in float: v may exceed 2**53, where float64 no longer holds every
integer.

The rounding rule, requant(v, s, zp) = clamp(zp + floor((v + 2^(s-1)) / 2^s), -128, 127)
(Add, Requantize, AvgPool2d and RequantStage), from w = v + 2^(s-1) in int64: with
m = -(w < 0) (Less, Cast, Neg), q = m XOR ((w XOR m) >>> s) (BitwiseXor, Cast uint64, BitShift
RIGHT, Cast int64, BitwiseXor) is floor(w / 2^s) exactly (:func:`binedge.exact.rshift_sign_flip`
has the proof: w XOR m is never negative, so both casts keep the value); then Max(lo) / Min(hi)
with lo = -128 - zp, hi = 127 - zp in int64, Cast float32, Add zp. Clamping before adding zp
means nothing can wrap even for s = 0. w itself is formed so that every int64 partial result is
bounded at export (``binedge.exact.check_int64``):
    * RequantStage: M * acc + (B + h)            |M| * bound + |B + h| <= |M| * bound + |B| + h
    * Add:          Ma * a + Mb * b + (h - Ma zp_a - Mb zp_b)    (raw codes; |Ma * a| < 2**39)
    * Requantize:   M * x + (h - M zp_x)
    * Merge:        Ma * (a - zp_a) + Mb * (b - zp_b) + (B + h)   (centred: the graph's own bound)
    * AvgPool2d:    M * S + h, S = sum_window (x - zp_x): Sub in float32 (|x - zp| <= 255),
                    window sums by a depthwise Conv of ones (Expand of a scalar 1.0) in bands of
                    kernel rows that each stay <= 2**24 (:func:`binedge.exact.window_bands`),
                    Cast int64, added in int64; global pooling: ReduceSum (float32 when
                    H * W * max|x - zp| <= 2**24, else int64)
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import __version__
from . import bitformat as bf
from .exact import (FLOAT_EXACT_BOUND, channel_cost, check_int64, exact_chunks, half, merge_constants,
                    requant_constants, window_bands)
from .fileio import atomic_write_bytes
from .graph import (FORMAT_ID, LSTM, AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, MaxPool2d,
                    Merge, RequantStage, Requantize, Reshape, RoundStage, ScoreStage, TensorSpec, Threshold,
                    ThresholdStage, acc_bound, op_label)

__all__ = ["export_onnx", "build_onnx_model", "load_onnx_checked", "run_onnx", "run_onnx_stream", "OnnxExportError",
           "OnnxModelError", "MIN_OPSET", "FLOAT_EXACT_BOUND", "INPUT_NAME", "STEP_INPUT_NAME", "OUTPUT_NAME"]

MIN_OPSET = 18

INT32_MAX = 2**31 - 1
INPUT_NAME = "images"
STEP_INPUT_NAME = "input"  # a recurrent graph's input: one character id per stream and step (export_onnx_lstm)
OUTPUT_NAME = "scores"
REQUIRED_METADATA = ("bit_format", "binedge_version")  # binedge_version is written last
RESERVED_METADATA = ("class_names", "score_shift", "input_quantization", "recurrent") + REQUIRED_METADATA
INPUT_TYPES = {"u8": TensorProto.UINT8, "i8": TensorProto.INT8}


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

    def channel_const(self, values, dtype, spatial: bool) -> str:
        """A per-channel constant broadcasting against (N, C, H, W) (``spatial``) or (N, C); a
        scalar when every channel has the same value."""
        arr = np.asarray(values, dtype=dtype)
        if arr.ndim == 0 or arr.size == 0 or np.all(arr == arr.reshape(-1)[0]):
            return self.const(arr.reshape(-1)[0] if arr.size else arr, dtype)
        return self.const(arr.reshape((-1, 1, 1) if spatial else (-1,)), dtype)

    def node(self, op_type: str, inputs: list, hint: str, output: str | None = None, **attrs) -> str:
        out = output or self._name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self._name(f"{hint}_{op_type}"), **attrs))
        return out


def _float_weights(b: _Onnx, op, hint: str) -> str:
    """Weights as a float32 tensor of shape (O, ..., K) with values ±1 (binary) or int8."""
    if op.weight_kind == "int8":
        return b.node("Cast", [b.init(op.weights, f"{hint}_w_int8")], hint, to=TensorProto.FLOAT)
    k = op.in_features if isinstance(op, Dense) else op.in_channels  # binary convolutions have groups = 1
    return _unpack_signs(b, op.weights, k, hint)


def _unpack_signs(b: _Onnx, words, k: int, hint: str) -> str:
    """Packed sign words (..., words(k)) as a float32 ±1 tensor (..., k), unpacked in the graph."""
    words = np.ascontiguousarray(words, dtype=bf.WORD_DTYPE)
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
    """Weights as a float32 array: ±1 (binary) or the int8 values; Conv (O, C/g, KH, KW), Dense (O, K)."""
    if op.weight_kind == "int8":
        w = op.weights.astype(np.float32)
    else:
        k = op.in_features if isinstance(op, Dense) else op.in_channels
        w = bf.unpack_sign(op.weights, k).astype(np.float32)
    return np.ascontiguousarray(w.transpose(0, 3, 1, 2) if isinstance(op, Conv2d) else w)


def _linear(b: _Onnx, op, x: str, spec_in: TensorSpec, where: str, hint: str, packed: bool = True) -> tuple[str, bool]:
    """acc of a Conv2d (NCHW, any groups) or Dense; returns (name, is_int32) - float32 when exact in one go."""
    conv = isinstance(op, Conv2d)
    groups = int(op.groups) if conv else 1
    if packed:
        w = _float_weights(b, op, hint)
        if conv:
            w = b.node("Transpose", [w], hint, perm=[0, 3, 1, 2])  # (O, KH, KW, C/g) -> (O, C/g, KH, KW)
    else:
        wf = _plain_weights(op)
    if conv and any(op.padding):
        pt, pb, pl, pr = op.padding
        pads = b.const([0, 0, pt, pl, 0, 0, pb, pr], np.int64)
        x = b.node("Pad", [x, pads, b.const(float(spec_in.pad_value), np.float32)], hint, mode="constant")
    cost = channel_cost(op, spec_in)  # (O, C/g): input channel j of every group
    chunks = exact_chunks(cost, where, error=OnnxExportError, ops="float32 Conv/MatMul")
    per_group = cost.shape[1]

    def weights(lo: int, hi: int, whole: bool) -> str:
        """Input channels [lo, hi) of the weights, as Conv (O, C/g, KH, KW) / MatMul (K, O) wants them."""
        if not packed:  # plain float32 initializers, already in the operator's layout
            part = wf[:, lo:hi]
            return b.init(part if conv else np.ascontiguousarray(part.T), f"{hint}_w_float")
        wc = w if whole else b.node("Slice", [w, b.const([lo], np.int64), b.const([hi], np.int64),
                                              b.const([1], np.int64)], hint)
        return wc if conv else b.node("Transpose", [wc], hint, perm=[1, 0])

    def inputs(lo: int, hi: int) -> str:
        """Input channels [lo, hi) of every group (channel gi * C/g + j for j in [lo, hi))."""
        if groups == 1:
            return b.node("Slice", [x, b.const([lo], np.int64), b.const([hi], np.int64), b.const([1], np.int64)], hint)
        idx = [gi * per_group + j for gi in range(groups) for j in range(lo, hi)]
        return b.node("Gather", [x, b.const(idx, np.int64)], hint, axis=1)

    def apply(xc: str, wc: str) -> str:
        if conv:
            return b.node("Conv", [xc, wc], hint, kernel_shape=list(op.kernel), strides=list(op.stride), group=groups)
        return b.node("MatMul", [xc, wc], hint)

    if len(chunks) == 1:
        return apply(x, weights(0, per_group, True)), False
    acc = None
    for lo, hi in chunks:
        part = apply(inputs(lo, hi), weights(lo, hi, False))
        part = b.node("Cast", [part], hint, to=TensorProto.INT32)
        acc = part if acc is None else b.node("Add", [acc, part], hint)
    return acc, True


def _rounding(b: _Onnx, w: str, shift, zero_point: int, spatial: bool, hint: str) -> str:
    """requant from the int64 tensor w = v + 2^(s-1): floor(w / 2^s) by the sign flip (BitShift is
    unsigned only), clamp to [-128 - zp, 127 - zp] in int64, Cast float32, Add zp. float32 codes."""
    s = np.asarray(shift, dtype=np.int64)
    k = requant_constants(s, zero_point)
    w = _floor_shift(b, w, s, spatial, hint)
    q = b.node("Max", [w, b.const(int(k.lo.reshape(-1)[0]), np.int64)], hint)
    q = b.node("Min", [q, b.const(int(k.hi.reshape(-1)[0]), np.int64)], hint)
    y = b.node("Cast", [q], hint, to=TensorProto.FLOAT)
    return b.node("Add", [y, b.const(float(zero_point), np.float32)], hint) if zero_point else y


def _floor_shift(b: _Onnx, w: str, shift, spatial: bool, hint: str) -> str:
    """floor(w / 2^s) of the int64 tensor w, exactly, by the sign flip (BitShift is unsigned only):
    m = -(w < 0), q = m XOR ((w XOR m) >>> s); per-channel shifts broadcast like
    :meth:`_Onnx.channel_const`. With every shift 0 it is w itself."""
    s = np.asarray(shift, dtype=np.int64)
    if not (s.size and int(s.max()) > 0):  # with every shift 0, floor(w / 1) = w
        return w
    neg = b.node("Less", [w, b.const(0, np.int64)], hint)
    m = b.node("Neg", [b.node("Cast", [neg], hint, to=TensorProto.INT64)], hint)  # -1 where w < 0, else 0
    u = b.node("Cast", [b.node("BitwiseXor", [w, m], hint)], hint, to=TensorProto.UINT64)  # w or -w-1: >= 0
    u = b.node("BitShift", [u, b.channel_const(s, np.uint64, spatial)], hint, direction="RIGHT")
    return b.node("BitwiseXor", [b.node("Cast", [u], hint, to=TensorProto.INT64), m], hint)


def _requant_stage(b: _Onnx, stage: RequantStage, acc: str, bound: np.ndarray, spatial: bool, where: str,
                   hint: str) -> str:
    """w = M * acc + (B + h) in int64 (each partial result bounded first), then the rounding rule."""
    mult = stage.multiplier.astype(np.int64)
    const = stage.bias.astype(np.int64) + half(stage.shift)  # |B| + h <= 2**63 - 1 (graph-proved): no wrap
    for c in range(len(mult)):
        prod = abs(int(mult[c])) * int(bound[c])
        check_int64(prod, where, f"M * acc of channel {c}", OnnxExportError)
        check_int64(prod + abs(int(stage.bias[c])) + int(half(int(stage.shift[c]))), where,
                    f"M * acc + B + 2^(s-1) of channel {c}", OnnxExportError)
    w = b.node("Cast", [acc], hint, to=TensorProto.INT64)
    w = b.node("Mul", [w, b.channel_const(mult, np.int64, spatial)], hint)
    if np.any(const):
        w = b.node("Add", [w, b.channel_const(const, np.int64, spatial)], hint)
    return _rounding(b, w, stage.shift.astype(np.int64), int(stage.zero_point), spatial, hint)


def _stage(b: _Onnx, stage, acc: str, acc_is_int: bool, spatial: bool, hint: str, output: str | None) -> str:
    """A ThresholdStage (float32 levels / ±1) or a ScoreStage (int32 scores) on acc."""
    if not acc_is_int:
        acc = b.node("Cast", [acc], hint, to=TensorProto.INT32)  # exact: integer-valued float32
    if isinstance(stage, ScoreStage):
        y = b.node("Mul", [acc, b.init(stage.multiplier, f"{hint}_multiplier")], hint)
        return b.node("Add", [y, b.init(stage.offset, f"{hint}_offset")], hint, output=output)
    return _levels(b, stage, acc, TensorProto.INT32, spatial, hint)


def _levels(b: _Onnx, stage: ThresholdStage, acc: str, elem: int, spatial: bool, hint: str) -> str:
    """level = sum_k (direction * acc >= T_k) on the integer tensor acc of ONNX type ``elem``
    (int32 for the stages of Dense / Conv2d / Threshold, int64 for a Merge, whose thresholds are
    int64), as float32 levels, or ±1 for the sign encoding. direction * acc cannot overflow:
    direction is ±1 and |acc| <= 2**31 - 1 (int32) / 2**63 - 1 (int64, graph-proved for Merge)."""
    c, levels = stage.thresholds.shape
    bshape = (c, 1, 1) if spatial else (c,)  # broadcast against (N, C, H, W) / (N, C)
    d = b.node("Cast", [b.init(stage.direction.reshape(bshape), f"{hint}_direction")], hint, to=elem)
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


def _merge(b: _Onnx, op: Merge, xs: list, ins: list, spatial: bool, where: str, hint: str) -> str:
    """v = Ma * (a - zp_a) + Mb * (b - zp_b) + B per channel in int64, then int64 thresholds
    (bits) or the rounding rule on w = v + 2^(s-1) (i8).

    Codes are centred first, in float32 (|code - zp| <= 255: exact), then Cast int64; an
    accumulator value is already int64 (see :func:`_op`, AccStage). Every int64 partial result,
    Ma * (a - zp_a), + Mb * (b - zp_b), + (B + 2^(s-1)), is bounded here by
    |Ma| max_a + |Mb| max_b + |B| + 2^(s-1) (max: the largest |code - zp|, or the accumulator's
    proved bound), which the graph proved <= 2**63 - 1 and which is checked again."""
    st = op.output
    shift, hs, mults, bias = merge_constants(op, ins, where, OnnxExportError)
    w = None
    for mu, x, spec in zip(mults, xs, ins):
        if spec.kind != "i32":  # codes (float32): centred exactly, then int64
            zp = int(spec.zero_point)
            xc = b.node("Sub", [x, b.const(float(zp), np.float32)], hint) if zp else x
            x = b.node("Cast", [xc], hint, to=TensorProto.INT64)
        term = b.node("Mul", [x, b.channel_const(mu, np.int64, spatial)], hint)
        w = term if w is None else b.node("Add", [w, term], hint)
    const = [bb + hh for bb, hh in zip(bias, hs)]  # |B + h| <= |B| + h: checked above
    if any(const):
        w = b.node("Add", [w, b.channel_const(const, np.int64, spatial)], hint)
    if isinstance(st, RoundStage):
        return _rounding(b, w, shift, int(st.zero_point), spatial, hint)
    return _levels(b, st, w, TensorProto.INT64, spatial, hint)


def _weighted(b: _Onnx, op, xs: list, specs: list, spatial: bool, where: str, hint: str) -> str:
    """Add (two inputs) / Requantize (one): w = sum_i M_i * code_i + (h - sum_i M_i * zp_i) in
    int64 on the raw codes, then the rounding rule."""
    mults = [int(v) for v in op.multipliers] if isinstance(op, Add) else [int(op.multiplier)]
    h = int(half(int(op.shift)))
    const = h - sum(m * int(s.zero_point) for m, s in zip(mults, specs))
    partial = 0
    for m, s in zip(mults, specs):
        partial += abs(m) * s.max_abs_value
        check_int64(partial, where, "sum of M * code", OnnxExportError)
    check_int64(partial + abs(const), where, "w = v + 2^(s-1)", OnnxExportError)
    w = None
    for m, x in zip(mults, xs):
        term = b.node("Mul", [b.node("Cast", [x], hint, to=TensorProto.INT64), b.const(m, np.int64)], hint)
        w = term if w is None else b.node("Add", [w, term], hint)
    if const:
        w = b.node("Add", [w, b.const(const, np.int64)], hint)
    return _rounding(b, w, int(op.shift), int(op.zero_point), spatial, hint)


def _avgpool(b: _Onnx, op: AvgPool2d, x: str, spec: TensorSpec, where: str, hint: str) -> str:
    """w = M * sum_window (x - zp_x) + h in int64, then the rounding rule (module docstring)."""
    (h, wd, c), (kh, kw), (sh, sw) = spec.shape, op.kernel, op.stride
    kh, kw, sh, sw = int(kh), int(kw), int(sh), int(sw)
    oh = (h - kh) // sh + 1
    maxc, mult, hh = spec.max_centered, int(op.multiplier), int(half(int(op.shift)))
    check_int64(abs(mult) * kh * kw * maxc + hh, where, "M * window sum + 2^(s-1)", OnnxExportError)
    zp = int(spec.zero_point)
    xc = b.node("Sub", [x, b.const(float(zp), np.float32)], hint) if zp else x  # |x - zp| <= 255: exact
    if (kh, kw) == (h, wd):  # global pooling: one sum over H and W
        axes = b.const([2, 3], np.int64)
        if kh * kw * maxc <= FLOAT_EXACT_BOUND:
            total = b.node("Cast", [b.node("ReduceSum", [xc, axes], hint, keepdims=1)], hint, to=TensorProto.INT64)
        else:
            total = b.node("ReduceSum", [b.node("Cast", [xc], hint, to=TensorProto.INT64), axes], hint, keepdims=1)
    else:
        bands = window_bands(kh, kw, maxc)
        total = None
        for r0, r1 in bands:  # rows [r0, r1) of every window: a (r1 - r0) x KW window sum
            rows = r1 - r0
            xs = xc if len(bands) == 1 else b.node("Slice", [
                xc, b.const([r0], np.int64), b.const([r0 + (oh - 1) * sh + rows], np.int64), b.const([2], np.int64)],
                hint)
            ones = b.node("Expand", [b.const(1.0, np.float32), b.const([c, 1, rows, kw], np.int64)], hint)
            part = b.node("Conv", [xs, ones], hint, kernel_shape=[rows, kw], strides=[sh, sw], group=c)
            part = b.node("Cast", [part], hint, to=TensorProto.INT64)
            total = part if total is None else b.node("Add", [total, part], hint)
    w = b.node("Mul", [total, b.const(mult, np.int64)], hint)
    if hh:
        w = b.node("Add", [w, b.const(hh, np.int64)], hint)
    return _rounding(b, w, int(op.shift), int(op.zero_point), True, hint)


def _hwc(b: _Onnx, x: str, spec: TensorSpec, hint: str) -> str:
    """A value in the graph's own element order: NCHW -> NHWC (feature vectors as they are)."""
    return b.node("Transpose", [x], hint, perm=[0, 2, 3, 1]) if len(spec.shape) == 3 else x


def _op(b: _Onnx, op, xs: list, ins: list, out: TensorSpec, where: str, hint: str, packed: bool,
        output: str | None) -> str:
    """One graph op on the ONNX tensors ``xs`` of its inputs (specs ``ins``); returns its output tensor."""
    x, spec = xs[0], ins[0]
    spatial = len(out.shape) == 3
    if isinstance(op, (Conv2d, Dense)):
        acc, is_int = _linear(b, op, x, spec, where, hint, packed=packed)
        if isinstance(op.output, AccStage):  # exact integers (float32 <= 2**24, or int32) -> int64, for a Merge
            return b.node("Cast", [acc], hint, to=TensorProto.INT64)
        if isinstance(op.output, RequantStage):
            return _requant_stage(b, op.output, acc, acc_bound(op, spec), spatial, where, hint)
        return _stage(b, op.output, acc, is_int, spatial, hint, output)
    if isinstance(op, MaxPool2d):  # max of exact small integers: exact in float32
        return b.node("MaxPool", [x], hint, kernel_shape=list(op.kernel), strides=list(op.stride))
    if isinstance(op, AvgPool2d):
        return _avgpool(b, op, x, spec, where, hint)
    if isinstance(op, (Add, Requantize)):
        return _weighted(b, op, xs, ins, spatial, where, hint)
    if isinstance(op, Merge):
        return _merge(b, op, xs, ins, spatial, where, hint)
    if isinstance(op, Threshold):  # the stage on the codes, compared in int32
        return _stage(b, op.stage, x, False, spatial, hint, None)
    if isinstance(op, Concat):
        return b.node("Concat", xs, hint, axis=1)  # channels: axis 1 of NCHW and of (N, F)
    if isinstance(op, Flatten):  # (H, W, C) order, like the reference
        return b.node("Flatten", [_hwc(b, x, spec, hint)], hint, axis=1) if len(spec.shape) == 3 else x
    if isinstance(op, Reshape):
        y = b.node("Reshape", [_hwc(b, x, spec, hint), b.const([0] + list(out.shape), np.int64)], hint)
        return b.node("Transpose", [y], hint, perm=[0, 3, 1, 2]) if spatial else y
    raise OnnxExportError(f"{where}: unsupported op")  # pragma: no cover - Graph.value_specs() rejects it first


def _metadata(graph: Graph) -> list[tuple[str, str]]:
    """The graph's own metadata, then the exporter's entries (``binedge_version`` last). A graph
    entry under a reserved key is refused unless it equals what the exporter writes there (a
    character model's graph carries its ``score_shift``, for instance): then it is written once."""
    last = graph.ops[-1].output
    quant = {"kind": graph.input.kind, "scale": float(graph.input.scale), "zero_point": int(graph.input.zero_point)}
    ours = [("class_names", json.dumps(list(graph.class_names))), ("score_shift", str(int(last.shift))),
            ("input_quantization", json.dumps(quant, sort_keys=True))]
    if graph.is_recurrent():  # the state inputs / outputs and how to step the model
        from .export_onnx_lstm import RECURRENT_METADATA, recurrent_metadata

        ours.append((RECURRENT_METADATA, json.dumps(recurrent_metadata(graph), sort_keys=True)))
    ours += [("bit_format", FORMAT_ID), ("binedge_version", __version__)]  # binedge_version last: see loader
    written = dict(ours)
    items = []
    for k, v in graph.metadata.items():
        k = str(k)
        v = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
        if k in RESERVED_METADATA:
            if written.get(k) == v:
                continue
            raise OnnxExportError(f"graph.metadata key {k!r} is reserved by the ONNX exporter")
        items.append((k, v))
    return items + ours


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
    specs = graph.value_specs()  # validates the graph: structure, shapes, every bound
    names = graph.value_names()
    out_spec = specs[names[-1]]
    if graph.class_names and len(graph.class_names) != out_spec.shape[0]:
        raise OnnxExportError(f"{len(graph.class_names)} class names for {out_spec.shape[0]} scores")
    recurrent = graph.is_recurrent()
    in_name = STEP_INPUT_NAME if recurrent else INPUT_NAME
    b = _Onnx()
    x = b.node("Cast", [in_name], "input", to=TensorProto.FLOAT)
    if len(graph.input.shape) == 3:
        x = b.node("Transpose", [x], "input", perm=[0, 3, 1, 2])  # NHWC -> NCHW
    values = {names[0]: x}
    state_in, state_out = [], []
    for i, op in enumerate(graph.ops):
        reads = graph.op_inputs(i)
        last = i == len(graph.ops) - 1
        if isinstance(op, LSTM):  # one time step, the state in and out (binedge.export_onnx_lstm)
            from .export_onnx_lstm import lstm_step

            y, ins, outs = lstm_step(b, op, values[reads[0]], specs[reads[0]], len(state_in) // 2, op_label(op, i),
                                     f"op{i}", packed)
            values[names[i + 1]] = y
            state_in += ins
            state_out += outs
            continue
        values[names[i + 1]] = _op(b, op, [values[n] for n in reads], [specs[n] for n in reads], specs[names[i + 1]],
                                   op_label(op, i), f"op{i}", packed, OUTPUT_NAME if last else None)
    inp = helper.make_tensor_value_info(in_name, INPUT_TYPES[graph.input.kind], ["N", *graph.input.shape])
    out = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.INT32, ["N", out_spec.shape[0]])
    doc = ("binedge recurrent deployment graph, one time step: feed h{l}_out / c{l}_out back as h{l} / c{l}; "
           "scores equal binedge.reference.run_stream exactly" if recurrent else
           "binedge deployment graph; scores equal binedge.reference.run exactly")
    g = helper.make_graph(b.nodes, model_name, [inp] + state_in, [out] + state_out, b.inits, doc_string=doc)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(g, opset_imports=opsets, producer_name="binedge", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(model, dict(_metadata(graph)))
    return model


def _sizes(graph: Graph) -> tuple[int, int]:
    """(weight bytes as stored: packed words / int8, output-stage parameter bytes at their natural
    sizes: thresholds + directions, score multipliers + offsets, requantization multipliers +
    biases + shifts, Merge multipliers + biases + shifts or thresholds + directions, LSTM
    multipliers + biases + shifts (its packed sign words count as weights); an AccStage has none)."""
    weights = thresholds = 0
    for op in graph.ops:
        if isinstance(op, LSTM):  # packed sign words; per-gate multipliers and shifts, per-row biases
            weights += op.recurrent.nbytes + op.input_weights.nbytes
            thresholds += op.multipliers.nbytes + op.bias.nbytes + op.shifts.nbytes
        elif isinstance(op, (Conv2d, Dense)):
            weights += op.weights.nbytes
            st = op.output
            if isinstance(st, ScoreStage):
                arrays = (st.multiplier, st.offset)
            elif isinstance(st, RequantStage):
                arrays = (st.multiplier, st.bias, st.shift)
            elif isinstance(st, AccStage):
                arrays = ()
            else:
                arrays = (st.thresholds, st.direction)
            thresholds += sum(a.nbytes for a in arrays)
        elif isinstance(op, Threshold):
            thresholds += op.stage.thresholds.nbytes + op.stage.direction.nbytes
        elif isinstance(op, Merge):
            st = op.output
            tail = (st.shift,) if isinstance(st, RoundStage) else (st.thresholds, st.direction)
            thresholds += sum(a.nbytes for a in (op.multipliers_a, op.multipliers_b, op.bias) + tail)
    return weights, thresholds


def export_onnx(graph: Graph, path, *, opset: int = MIN_OPSET, model_name: str = "binedge",
                packed: bool = True) -> dict:
    """Write ``graph`` as an ONNX model to ``path`` (atomically) and return its sizes.

    ``packed=False`` stores the weights as float32 initializers (±1 / int8 values) instead of
    bit-packed words unpacked in the graph (see the module docstring); the scores are the same.

    Every graph that validates is accepted (any DAG, every op and stage, u8 / i8 inputs, recurrent
    graphs as one step with the state in and out), except a Dense / Conv2d in which one input
    channel alone may exceed 2**24 (float32 cannot sum it exactly): OnnxExportError naming the op.

    Returns {"path", "file_bytes", "packed_weight_bytes" (weights as stored in the graph: packed
    uint32 words / int8), "threshold_bytes" (output-stage parameters: thresholds + directions,
    score multipliers / offsets, requantization multipliers / biases / shifts, Merge multipliers /
    biases / shifts or thresholds / directions), "nodes" (ONNX nodes in the graph)}.
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
    return {"path": path, "file_bytes": len(data), "packed_weight_bytes": weights, "threshold_bytes": thresholds,
            "nodes": len(model.graph.node)}


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
    """Run a binedge ONNX file in onnxruntime (CPU, one thread) on inputs of the model's input type
    (uint8 or int8, (N,) + the graph's input shape; (N, H, W) is accepted for one channel);
    returns int32 scores (N, C). A recurrent model (one LSTM step) runs the N inputs ((N, 1) uint8
    character ids) as N time steps of one stream from the zero state, like
    :func:`binedge.reference.run` (``batch_size`` does not apply); see :func:`run_onnx_stream`."""
    import onnxruntime as ort

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    model = load_onnx_checked(path)
    if any(p.key == "recurrent" for p in model.metadata_props):
        return run_onnx_stream(path, images)[0]
    (inp,), (out,) = model.graph.input, model.graph.output
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type))
    shape = tuple(int(d.dim_value) for d in inp.type.tensor_type.shape.dim[1:])
    classes = int(out.type.tensor_type.shape.dim[-1].dim_value)
    if not isinstance(images, np.ndarray) or images.dtype != dtype:
        got = getattr(images, "dtype", type(images).__name__)
        raise ValueError(f"images must be a numpy array of {dtype}, got {got}")
    if len(shape) == 3 and shape[2] == 1 and images.ndim == 3 and images.shape[1:] == shape[:2]:
        images = images[..., None]
    if images.ndim != len(shape) + 1 or tuple(images.shape[1:]) != shape:
        raise ValueError(f"images must have shape (N,)+{shape}, got {tuple(images.shape)}")
    if len(images) == 0:
        return np.zeros((0, classes), np.int32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
    images = np.ascontiguousarray(images)
    res = [sess.run([OUTPUT_NAME], {INPUT_NAME: images[i:i + batch_size]})[0]
           for i in range(0, len(images), batch_size)]
    return np.concatenate(res).astype(np.int32)


def run_onnx_stream(path, inputs: np.ndarray, state: dict | None = None) -> tuple[np.ndarray, dict]:
    """Run a recurrent binedge ONNX file (one LSTM step per call) over ``inputs`` ((N, 1) uint8
    character ids, N time steps of one stream) in onnxruntime (CPU, one thread), carrying the state
    from step to step; ``state``: {LSTM op index: (h, c)} as :func:`binedge.reference.zero_state`
    makes it (None: zeros; it is not modified). Returns (int32 scores (N, V), the state after the
    last step as int64 arrays), equal to :func:`binedge.reference.run_stream`. OnnxModelError for a
    feed-forward model; an id >= V makes onnxruntime's Gather fail (an onnxruntime error)."""
    from .export_onnx_lstm import run_stream

    return run_stream(path, inputs, state)
