"""Export a deployment graph (any graph v2 DAG, docs/graph.md) to LiteRT (.tflite) that runs
exactly in the LiteRT interpreter.

The file is written without TensorFlow: the ``tflite`` package's generated flatbuffer builders
plus ``flatbuffers`` (schema version 3, file identifier ``TFL3``, buffer 0 the empty sentinel).
Only builtin operators are used (docs/tflite.md has the op mapping and what was measured).

Layout of the exported model:
    input  ``images``: uint8 or int8 (the graph input's kind) (N,) + graph.input.shape (NHWC or
                       (N, F)); N is dynamic (shape_signature -1; resize the input, as
                       :func:`run_tflite` does)
    output ``scores``: int32 (N, C), equal bit for bit to :func:`binedge.reference.run`

Values. Every u8 / i8 / bits value of the graph is one float32 tensor holding small integers:
codes (-128..255), ±1 for sign bits, levels 0..2^P-1 for unsigned bit-planes; NHWC like the
graph, so no transposes are needed, and RESHAPE is Flatten / Reshape. PAD / PADV2 (the zero
code), MAX_POOL_2D, CONCATENATION, SLICE and GATHER only move or compare them.

Weights are stored as int8 (binary weights exactly ±1, int8 weights as they are; 1 byte per
weight) and turned into float32 inside the graph by DEQUANTIZE (scale 1, zero point 0: exact),
which LiteRT evaluates once for a constant input. LiteRT's int8 FULLY_CONNECTED / CONV_2D are not
used: they requantize their int32 accumulators with a float scale, which is not the graph's rule.

Accumulators (Dense, Conv2d with any groups: CONV_2D, grouped CONV_2D, DEPTHWISE_CONV_2D): float32
on integer-valued operands is exact while every partial sum is an integer of magnitude <= 2**24,
whatever the summation order or FMA use. The exporter bounds |acc| per output channel from the
weights and the input range; a layer above the bound is split along its input channels (SLICE,
or GATHER of the same channel range of every group) into chunks that each stay below it, each
chunk's result is CAST to int32 and the chunks are added in int32 (a single channel above the
bound raises :class:`TfliteExportError` naming the op; the graph proves the int32 total).

Output stages: ``level = sum_k (direction * acc >= T_k)`` with MUL / GREATER_EQUAL in int32 and
CAST + ADD per level, or SELECT_V2 for ±1; ``score = multiplier * acc + offset`` in int32, which
the graph proves cannot overflow (the exporter checks that proof again); RequantStage:
``w = M * acc + (B + 2^(s-1))`` in int64 (MUL / ADD), then the rounding rule; AccStage: the
accumulator CAST to int64 (exact: an integer-valued float32 <= 2**24, or the int32 sum of the
chunks), read only by a Merge.

Merge: ``v = Ma * (a - zp_a) + Mb * (b - zp_b) + B`` per channel in int64 on centred values (codes:
SUB zp in float32, exact as |code - zp| <= 255, then CAST int64; accumulators: int64 already),
MUL / ADD with (C,) int64 constants; every partial result is bounded by |Ma| max_a + |Mb| max_b +
|B| + 2^(s-1), which the graph proves <= 2**63 - 1 and the exporter checks again. Then a RoundStage
takes the rounding rule (per-channel shifts) and a ThresholdStage MUL direction / GREATER_EQUAL
against its int64 thresholds in int64 (never float: v may exceed 2**53). Every int64 op used is
one LiteRT computes exactly (docs/tflite.md), so no Merge is refused.

The rounding rule, requant(v, s, zp) = clamp(zp + floor((v + 2^(s-1)) / 2^s), -128, 127), for
RequantStage, Add (``Ma * a + Mb * b + (h - Ma zp_a - Mb zp_b)`` on the codes CAST to int64),
Requantize (``M * x + (h - M zp_x)``) and AvgPool2d (``M * S + h`` with S the window sum of
x - zp_x: SUM for global pooling, float32 when it stays <= 2**24, else int64; otherwise
DEPTHWISE_CONV_2D with a ones filter in bands of kernel rows each <= 2**24, CAST int64, ADD). LiteRT
2.3 has no int64 RIGHT_SHIFT, FLOOR_DIV, DIV or BITWISE_XOR (measured), so floor(w / 2^s) is
computed as: MAXIMUM / MINIMUM in int64 (w into [w_lo, w_hi], where the quotient lies in
[-128 - zp, 127 - zp] and no result changes), w - FLOOR_MOD(w, 2^s) in int64 (the quotient times
2^s, exactly; LiteRT's int64 FLOOR_MOD is exact), CAST float32 and MUL 2^-s (exact: the quotient
has at most 8 bits), ADD zp. The proof is in :class:`binedge.exact.RequantConstants`; every int64
intermediate is bounded at export.

The file carries metadata ``binedge`` (JSON: bit format, version, class names, score shift,
input shape, kind, scale and zero point, graph metadata) and ``binedge_sha256``, the SHA-256 of
the whole file with those 32 digest bytes zeroed, so :func:`load_tflite_checked` detects any
truncation or corruption before the interpreter parses the flatbuffer.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from . import bitformat as bf
from .exact import (FLOAT_EXACT_BOUND, channel_cost, check_int64, exact_chunks, half, merge_constants,
                    requant_constants, window_bands)
from .graph import (FORMAT_ID, AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, MaxPool2d, Merge,
                    RequantStage, Requantize, Reshape, RoundStage, ScoreStage, TensorSpec, Threshold, acc_bound,
                    op_label)

__all__ = ["export_tflite", "build_tflite", "load_tflite_checked", "run_tflite", "make_interpreter",
           "TfliteExportError", "TfliteModelError", "TfliteFile", "FLOAT_EXACT_BOUND", "INPUT_NAME",
           "OUTPUT_NAME", "DELEGATES"]


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INPUT_NAME = "images"
OUTPUT_NAME = "scores"
SIGNATURE_KEY = "serving_default"
META_JSON = "binedge"
META_DIGEST = "binedge_sha256"
DIGEST_BYTES = 32
SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
DELEGATES = ("default", "none", "reference")  # run_tflite: XNNPACK (LiteRT's default), builtin only, ref kernels


class TfliteExportError(ValueError):
    """The graph cannot be exported exactly (or an export option is invalid)."""


class TfliteModelError(ValueError):
    """A .tflite file that is missing, truncated, corrupt or not a binedge export."""


# ----------------------------------------------------------------------------- schema access


def _schema(name: str):
    """A generated module of the ``tflite`` package (its __init__ star-imports clash, so by path)."""
    try:
        return importlib.import_module(f"tflite.{name}")
    except ImportError as e:  # pragma: no cover - a missing dependency
        raise TfliteExportError("the .tflite exporter needs the 'tflite' and 'flatbuffers' packages "
                                "(pip install tflite flatbuffers)") from e


def _enum(module: str, member: str) -> int:
    mod = _schema(module)
    return int(getattr(getattr(mod, module), member))


_DTYPES = {np.dtype(np.float32): "FLOAT32", np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8",
           np.dtype(np.int64): "INT64", np.dtype(np.bool_): "BOOL", np.dtype(np.int8): "INT8"}


# ----------------------------------------------------------------------------- model builder


@dataclass
class _Tensor:
    name: str
    shape: tuple  # concrete shape at batch 1
    signature: tuple | None  # shape with -1 for the batch axis, None when static
    dtype: np.dtype
    buffer: int = 0
    quant: tuple | None = None  # (scale, zero_point) per tensor


@dataclass
class _Op:
    code: str  # BuiltinOperator member
    inputs: list
    outputs: list
    options: tuple | None = None  # (BuiltinOptions member, {Field: value})


@dataclass
class _Model:
    """Tensors, constant buffers and operators of one subgraph, with unique names."""

    tensors: list = field(default_factory=list)
    buffers: list = field(default_factory=lambda: [b""])  # buffer 0: the empty sentinel
    ops: list = field(default_factory=list)
    _consts: dict = field(default_factory=dict)
    _n: int = 0
    bit_table: int | None = None  # the DEQUANTIZE'd (256, 8) ±1 table of packed weights
    unpacked: dict = field(default_factory=dict)  # id(op) -> its unpacked float32 weights

    def _name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def tensor(self, shape, dtype, hint: str, *, dynamic: bool, buffer: int = 0, quant=None,
               exact_name: bool = False) -> int:
        shape = tuple(int(d) for d in shape)
        sig = (-1,) + shape[1:] if dynamic else None
        name = hint if exact_name else self._name(hint)
        self.tensors.append(_Tensor(name, shape, sig, np.dtype(dtype), buffer, quant))
        return len(self.tensors) - 1

    def const(self, value, dtype, hint: str = "const", quant=None) -> int:
        """A constant tensor (little-endian data in its own buffer); identical ones are shared."""
        arr = np.ascontiguousarray(np.asarray(value, dtype=np.dtype(dtype).newbyteorder("<")))
        key = (arr.dtype.str, arr.shape, arr.tobytes(), quant)
        if key not in self._consts:
            self.buffers.append(arr.tobytes())
            self._consts[key] = self.tensor(arr.shape, arr.dtype, hint, dynamic=False,
                                            buffer=len(self.buffers) - 1, quant=quant)
        return self._consts[key]

    def op(self, code: str, inputs: list, shape, dtype, hint: str, *, options=None, dynamic: bool = True,
           output_name: str | None = None) -> int:
        out = self.tensor(shape, dtype, output_name or hint, dynamic=dynamic, exact_name=output_name is not None)
        self.ops.append(_Op(code, list(inputs), [out], options))
        return out

    def shape(self, t: int) -> tuple:
        return self.tensors[t].shape

    def dtype(self, t: int) -> np.dtype:
        return self.tensors[t].dtype

    # -- a few ops with their shape rules -------------------------------------------------

    def cast(self, x: int, dtype, hint: str) -> int:
        return self.op("CAST", [x], self.shape(x), dtype, hint)

    def binary(self, code: str, a: int, b: int, hint: str, dtype=None, output_name=None) -> int:
        """Elementwise ADD / MUL / GREATER_EQUAL with numpy broadcasting of b against a."""
        shape = np.broadcast_shapes(self.shape(a), self.shape(b))
        dtype = self.dtype(a) if dtype is None else dtype
        return self.op(code, [a, b], shape, dtype, hint, output_name=output_name)

    def reshape(self, x: int, new_shape: list, hint: str) -> int:
        """RESHAPE with new_shape[0] == -1 (the dynamic batch, possibly merged with other axes)."""
        total = int(np.prod(self.shape(x)))
        rest = int(np.prod(new_shape[1:]))
        shape = (total // rest,) + tuple(new_shape[1:])
        return self.op("RESHAPE", [x, self.const(new_shape, np.int32, "shape")], shape, self.dtype(x), hint)


def _float_weights(m: _Model, op, lo: int, hi: int, hint: str, packed: bool, depthwise: bool = False) -> int:
    """Input channels [lo, hi) of the weights as a float32 tensor (O, K) or (O, KH, KW, C / groups);
    ``depthwise``: the DEPTHWISE_CONV_2D filter (1, KH, KW, O) of (O, KH, KW, 1) int8 weights.

    int8 weights, and binary weights unless ``packed``: int8 in the file (±1 for binary weights),
    DEQUANTIZE'd with scale 1 and zero point 0 (exact; evaluated once, the input is constant).
    Binary weights with ``packed``: the little-endian bytes of the packed uint32 words in the file
    (1 bit per weight), expanded at every invocation by CAST to int32 -> GATHER from a (256, 8)
    table of ±1 (bit j of byte b: -1 if set, else +1) -> RESHAPE -> SLICE of the real elements.
    """
    k = op.in_features if isinstance(op, Dense) else op.in_channels
    if op.weight_kind == "binary" and packed:
        words = np.ascontiguousarray(op.weights, dtype=bf.WORD_DTYPE)
        lead, nbytes = words.shape[:-1], words.shape[-1] * 4
        if m.bit_table is None:
            bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1
            q = m.const((1 - 2 * bits).astype(np.int8), np.int8, "bit_table_int8", quant=(1.0, 0))
            m.bit_table = m.op("DEQUANTIZE", [q], (256, 8), np.float32, "bit_table", dynamic=False)
        if id(op) not in m.unpacked:  # once per op, sliced per chunk
            raw = m.const(words.view(np.uint8).reshape(lead + (nbytes,)), np.uint8, f"{hint}_weights_packed")
            idx = m.op("CAST", [raw], lead + (nbytes,), np.int32, hint, dynamic=False)
            x = m.op("GATHER", [m.bit_table, idx], lead + (nbytes, 8), np.float32, hint, dynamic=False,
                     options=("GatherOptions", {"Axis": 0, "BatchDims": 0}))
            m.unpacked[id(op)] = m.op("RESHAPE", [x, m.const(list(lead) + [nbytes * 8], np.int32, "shape")],
                                      lead + (nbytes * 8,), np.float32, hint, dynamic=False)
        x = m.unpacked[id(op)]
        if (lo, hi) == (0, nbytes * 8):
            return x
        begin, size = [0] * len(lead) + [lo], list(lead) + [hi - lo]
        return m.op("SLICE", [x, m.const(begin, np.int32, "begin"), m.const(size, np.int32, "size")],
                    lead + (hi - lo,), np.float32, hint, dynamic=False)
    w = op.weights if op.weight_kind == "int8" else bf.unpack_sign(op.weights, k).astype(np.int8)
    w = np.ascontiguousarray(w[..., lo:hi], dtype=np.int8)
    if depthwise:
        w = np.ascontiguousarray(w.transpose(3, 1, 2, 0))
    q = m.const(w, np.int8, f"{hint}_weights_int8", quant=(1.0, 0))
    return m.op("DEQUANTIZE", [q], w.shape, np.float32, f"{hint}_weights", dynamic=False)


def _chan(m: _Model, values, dtype, hint: str = "const") -> int:
    """A per-channel constant (C,) broadcasting against NHWC / (N, C); a scalar when all are equal."""
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim == 0 or arr.size == 0 or np.all(arr == arr.reshape(-1)[0]):
        return m.const(arr.reshape(-1)[0] if arr.size else arr, dtype, hint)
    return m.const(arr.reshape(-1), dtype, hint)


def _linear(m: _Model, op, x: int, spec_in: TensorSpec, where: str, hint: str,
            packed: bool) -> tuple[int, bool, np.ndarray]:
    """acc of a Conv2d (NHWC, any groups) or Dense (N, K). Returns (tensor, is_int32, per-output |acc| bound).

    groups = 1: CONV_2D; a depthwise convolution (C / groups = 1): DEPTHWISE_CONV_2D with depth
    multiplier O / C (its output channel c * mult + k reads input channel c, as the graph's);
    other groups: CONV_2D with a (O, KH, KW, C / groups) filter, which LiteRT runs as a grouped
    convolution. Chunks take input channels [lo, hi) of every group (SLICE, or GATHER)."""
    conv = isinstance(op, Conv2d)
    groups = int(op.groups) if conv else 1
    if conv and any(op.padding):
        pt, pb, pl, pr = op.padding
        n, h, w, c = m.shape(x)
        pads = m.const([[0, 0], [pt, pb], [pl, pr], [0, 0]], np.int32, "paddings")
        value = float(spec_in.pad_value)
        inputs = [x, pads] if value == 0.0 else [x, pads, m.const(value, np.float32, "pad_value")]
        x = m.op("PAD" if value == 0.0 else "PADV2", inputs, (n, h + pt + pb, w + pl + pr, c), np.float32, hint)
    cost = channel_cost(op, spec_in)  # (O, C / groups)
    chunks = exact_chunks(cost, where, bound=FLOAT_EXACT_BOUND, error=TfliteExportError,
                          ops="float32 CONV_2D / FULLY_CONNECTED")
    out_ch = op.out_channels if conv else op.out_features
    per_group = cost.shape[1]
    depthwise = conv and groups > 1 and per_group == 1
    acc = None
    for lo, hi in chunks:
        xs = m.shape(x)
        if (lo, hi) == (0, per_group):
            xc = x
        elif groups == 1:
            begin = [0] * (len(xs) - 1) + [lo]
            size = [-1] * (len(xs) - 1) + [hi - lo]
            xc = m.op("SLICE", [x, m.const(begin, np.int32, "begin"), m.const(size, np.int32, "size")],
                      xs[:-1] + (hi - lo,), np.float32, hint)
        else:
            idx = [gi * per_group + j for gi in range(groups) for j in range(lo, hi)]
            xc = m.op("GATHER", [x, m.const(idx, np.int32, "channels")], xs[:-1] + (len(idx),), np.float32, hint,
                      options=("GatherOptions", {"Axis": len(xs) - 1, "BatchDims": 0}))
        w = _float_weights(m, op, lo, hi, hint, packed, depthwise=depthwise)
        if conv:
            (kh, kw), (sh, sw) = op.kernel, op.stride
            n, h, wd, _ = m.shape(xc)
            shape = (n, (h - kh) // sh + 1, (wd - kw) // sw + 1, out_ch)
            bias = m.const(np.zeros(out_ch), np.float32, f"{hint}_bias")
            if depthwise:
                opts = ("DepthwiseConv2DOptions", {"Padding": _enum("Padding", "VALID"), "StrideW": sw, "StrideH": sh,
                                                   "DepthMultiplier": out_ch // groups, "DilationWFactor": 1,
                                                   "DilationHFactor": 1})
                part = m.op("DEPTHWISE_CONV_2D", [xc, w, bias], shape, np.float32, hint, options=opts)
            else:
                opts = ("Conv2DOptions", {"Padding": _enum("Padding", "VALID"), "StrideW": sw, "StrideH": sh,
                                          "DilationWFactor": 1, "DilationHFactor": 1})
                part = m.op("CONV_2D", [xc, w, bias], shape, np.float32, hint, options=opts)
        else:
            opts = ("FullyConnectedOptions", {"KeepNumDims": False})
            part = m.op("FULLY_CONNECTED", [xc, w, -1], (m.shape(xc)[0], out_ch), np.float32, hint, options=opts)
        if len(chunks) == 1:
            return part, False, cost.sum(axis=1)
        part = m.cast(part, np.int32, hint)
        acc = part if acc is None else m.binary("ADD", acc, part, hint)
    return acc, True, cost.sum(axis=1)


def _threshold(m: _Model, stage, acc: int, hint: str) -> int:
    """The next float32 activation from the integer acc: ±1 (sign) or the level (unsigned).

    acc is int32 (Dense / Conv2d / Threshold stages: int32 thresholds) or int64 (Merge: int64
    thresholds); the direction and the thresholds are constants of acc's type, so every
    comparison is exact in that type, and direction * acc (±1 times |acc| <= 2**31 - 1, or
    <= 2**63 - 1 for Merge, graph-proved) cannot overflow."""
    dtype = np.int64 if m.dtype(acc) == np.dtype(np.int64) else np.int32
    levels = stage.thresholds.shape[1]
    d = stage.direction.astype(dtype)
    if np.any(d != 1):
        acc = m.binary("MUL", acc, m.const(d, dtype, f"{hint}_direction"), hint)
    if levels == 1:
        ge = m.binary("GREATER_EQUAL", acc, m.const(stage.thresholds[:, 0], dtype, f"{hint}_thresholds"),
                      hint, dtype=np.bool_)
        if stage.encoding == "sign":  # level 1 -> +1, level 0 -> -1
            return m.op("SELECT_V2", [ge, m.const(1.0, np.float32), m.const(-1.0, np.float32)], m.shape(ge),
                        np.float32, hint)
        return m.cast(ge, np.float32, hint)
    level = None
    for k in range(levels):  # one comparison per level, added up in float32
        ge = m.binary("GREATER_EQUAL", acc, m.const(stage.thresholds[:, k], dtype, f"{hint}_thresholds"),
                      hint, dtype=np.bool_)
        f = m.cast(ge, np.float32, hint)
        level = f if level is None else m.binary("ADD", level, f, hint)
    return level


def _scores(m: _Model, stage: ScoreStage, acc: int, bound: np.ndarray, hint: str) -> int:
    mult, off = stage.multiplier.astype(np.int64), stage.offset.astype(np.int64)
    worst = np.abs(mult) * bound.astype(np.int64) + np.abs(off)
    if worst.size and int(worst.max()) > INT32_MAX:  # graph validation refuses this first
        raise TfliteExportError(f"op {hint}: scores may reach {int(worst.max())} > 2**31 - 1")
    y = m.binary("MUL", acc, m.const(stage.multiplier, np.int32, f"{hint}_multiplier"), hint)
    return m.binary("ADD", y, m.const(stage.offset, np.int32, f"{hint}_offset"), hint, output_name=OUTPUT_NAME)


def _rounding(m: _Model, w: int, shift, zero_point: int, hint: str) -> int:
    """requant from the int64 tensor w = v + 2^(s-1), as float32 codes: MAXIMUM / MINIMUM in
    int64 (w into [w_lo, w_hi]: the quotient then lies in [-128 - zp, 127 - zp], nothing else
    changes), FLOOR_MOD 2^s and SUB (the quotient times 2^s, exactly), CAST float32 and MUL 2^-s
    (exact: at most 8 significant bits), ADD zp. :class:`binedge.exact.RequantConstants` has the
    proof, :func:`binedge.exact.requant_floor_mod` is this op sequence in numpy. (LiteRT 2.3 has
    no int64 RIGHT_SHIFT, FLOOR_DIV, DIV or BITWISE_XOR; its int64 FLOOR_MOD is exact.)"""
    s = np.asarray(shift, dtype=np.int64)
    k = requant_constants(s, zero_point)
    wc = m.binary("MAXIMUM", w, _chan(m, k.w_lo, np.int64, "w_lo"), hint)
    wc = m.binary("MINIMUM", wc, _chan(m, k.w_hi, np.int64, "w_hi"), hint)
    if s.size and int(s.max()) > 0:  # with every shift 0 the quotient is w_c itself
        wc = m.binary("SUB", wc, m.binary("FLOOR_MOD", wc, _chan(m, k.pow2, np.int64, "pow2"), hint), hint)
    q = m.cast(wc, np.float32, hint)
    if s.size and int(s.max()) > 0:
        q = m.binary("MUL", q, _chan(m, k.inv_pow2, np.float32, "inv_pow2"), hint)
    return m.binary("ADD", q, m.const(float(zero_point), np.float32, "zero_point"), hint) if zero_point else q


def _requant_stage(m: _Model, stage: RequantStage, acc: int, bound: np.ndarray, where: str, hint: str) -> int:
    """w = M * acc + (B + h) in int64 (each partial result bounded first), then the rounding rule."""
    mult = stage.multiplier.astype(np.int64)
    const = stage.bias.astype(np.int64) + half(stage.shift)  # |B| + h <= 2**63 - 1 (graph-proved)
    for c in range(len(mult)):
        prod = abs(int(mult[c])) * int(bound[c])
        check_int64(prod, where, f"M * acc of channel {c}", TfliteExportError)
        check_int64(prod + abs(int(stage.bias[c])) + int(half(int(stage.shift[c]))), where,
                    f"M * acc + B + 2^(s-1) of channel {c}", TfliteExportError)
    w = m.binary("MUL", m.cast(acc, np.int64, hint), _chan(m, mult, np.int64, f"{hint}_multiplier"), hint)
    if np.any(const):
        w = m.binary("ADD", w, _chan(m, const, np.int64, f"{hint}_bias"), hint)
    return _rounding(m, w, stage.shift.astype(np.int64), int(stage.zero_point), hint)


def _weighted(m: _Model, op, xs: list, specs: list, where: str, hint: str) -> int:
    """Add (two inputs) / Requantize (one): w = sum_i M_i * code_i + (h - sum_i M_i * zp_i) in
    int64 on the raw codes, then the rounding rule."""
    mults = [int(v) for v in op.multipliers] if isinstance(op, Add) else [int(op.multiplier)]
    h = int(half(int(op.shift)))
    const = h - sum(mu * int(s.zero_point) for mu, s in zip(mults, specs))
    partial = 0
    for mu, s in zip(mults, specs):
        partial += abs(mu) * s.max_abs_value
        check_int64(partial, where, "sum of M * code", TfliteExportError)
    check_int64(partial + abs(const), where, "w = v + 2^(s-1)", TfliteExportError)
    w = None
    for mu, x in zip(mults, xs):
        term = m.binary("MUL", m.cast(x, np.int64, hint), m.const(mu, np.int64, "multiplier"), hint)
        w = term if w is None else m.binary("ADD", w, term, hint)
    if const:
        w = m.binary("ADD", w, m.const(const, np.int64, "bias"), hint)
    return _rounding(m, w, int(op.shift), int(op.zero_point), hint)


def _merge(m: _Model, op: Merge, xs: list, ins: list, where: str, hint: str) -> int:
    """v = Ma * (a - zp_a) + Mb * (b - zp_b) + B per channel in int64 (SUB / CAST / MUL / ADD),
    then int64 thresholds (bits) or the rounding rule on w = v + 2^(s-1) (i8).

    Codes are centred in float32 (|code - zp| <= 255: exact) and CAST to int64; an accumulator
    value is already int64 (:func:`_op`, AccStage). Every int64 partial result, Ma * (a - zp_a),
    + Mb * (b - zp_b), + (B + 2^(s-1)), is bounded by |Ma| max_a + |Mb| max_b + |B| + 2^(s-1)
    (max: the largest |code - zp|, or the accumulator's proved bound), which the graph proved
    <= 2**63 - 1 and which is checked again here. Only int64 ops that LiteRT computes exactly are
    used (docs/tflite.md: MUL, ADD, GREATER_EQUAL, and for the rounding MAXIMUM, MINIMUM,
    FLOOR_MOD, SUB); the threshold comparisons stay in int64, never float."""
    st = op.output
    shift, hs, mults, bias = merge_constants(op, ins, where, TfliteExportError)
    w = None
    for mu, x, spec in zip(mults, xs, ins):
        if spec.kind != "i32":  # codes (float32): centred exactly, then int64
            zp = int(spec.zero_point)
            xc = m.binary("SUB", x, m.const(float(zp), np.float32, "zero_point"), hint) if zp else x
            x = m.cast(xc, np.int64, hint)
        term = m.binary("MUL", x, _chan(m, mu, np.int64, f"{hint}_multiplier"), hint)
        w = term if w is None else m.binary("ADD", w, term, hint)
    const = [bb + hh for bb, hh in zip(bias, hs)]  # |B + h| <= |B| + h: checked above
    if any(const):
        w = m.binary("ADD", w, _chan(m, const, np.int64, f"{hint}_bias"), hint)
    if isinstance(st, RoundStage):
        return _rounding(m, w, shift, int(st.zero_point), hint)
    return _threshold(m, st, w, hint)


def _avgpool(m: _Model, op: AvgPool2d, x: int, spec: TensorSpec, where: str, hint: str) -> int:
    """w = M * sum_window (x - zp_x) + h in int64, then the rounding rule. The window sum: SUM over
    H and W for global pooling (float32 when H * W * max|x - zp| <= 2**24, else int64); otherwise
    DEPTHWISE_CONV_2D with a ones filter in bands of kernel rows that each stay <= 2**24
    (:func:`binedge.exact.window_bands`), CAST int64, added in int64."""
    (h, wd, c), (kh, kw), (sh, sw) = spec.shape, op.kernel, op.stride
    kh, kw, sh, sw = int(kh), int(kw), int(sh), int(sw)
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    maxc, mult, hh = spec.max_centered, int(op.multiplier), int(half(int(op.shift)))
    check_int64(abs(mult) * kh * kw * maxc + hh, where, "M * window sum + 2^(s-1)", TfliteExportError)
    zp = int(spec.zero_point)
    xc = m.binary("SUB", x, m.const(float(zp), np.float32, "zero_point"), hint) if zp else x  # exact: |x - zp| <= 255
    n = m.shape(xc)[0]
    if (kh, kw) == (h, wd):  # global pooling
        axes = m.const([1, 2], np.int32, "axes")
        opts = ("ReducerOptions", {"KeepDims": True})
        if kh * kw * maxc <= FLOAT_EXACT_BOUND:
            total = m.cast(m.op("SUM", [xc, axes], (n, 1, 1, c), np.float32, hint, options=opts), np.int64, hint)
        else:
            total = m.op("SUM", [m.cast(xc, np.int64, hint), axes], (n, 1, 1, c), np.int64, hint, options=opts)
    else:
        bands = window_bands(kh, kw, maxc)
        total = None
        for r0, r1 in bands:
            rows = r1 - r0
            xs = xc
            if len(bands) > 1:
                span = (oh - 1) * sh + rows
                xs = m.op("SLICE", [xc, m.const([0, r0, 0, 0], np.int32, "begin"),
                                    m.const([-1, span, -1, -1], np.int32, "size")], (n, span, wd, c), np.float32, hint)
            q = m.const(np.ones((1, rows, kw, c), np.int8), np.int8, f"{hint}_ones_int8", quant=(1.0, 0))
            ones = m.op("DEQUANTIZE", [q], (1, rows, kw, c), np.float32, f"{hint}_ones", dynamic=False)
            opts = ("DepthwiseConv2DOptions", {"Padding": _enum("Padding", "VALID"), "StrideW": sw, "StrideH": sh,
                                               "DepthMultiplier": 1, "DilationWFactor": 1, "DilationHFactor": 1})
            part = m.op("DEPTHWISE_CONV_2D", [xs, ones, m.const(np.zeros(c), np.float32, f"{hint}_bias")],
                        (n, oh, ow, c), np.float32, hint, options=opts)
            part = m.cast(part, np.int64, hint)
            total = part if total is None else m.binary("ADD", total, part, hint)
    w = m.binary("MUL", total, m.const(mult, np.int64, "multiplier"), hint)
    if hh:
        w = m.binary("ADD", w, m.const(hh, np.int64, "half"), hint)
    return _rounding(m, w, int(op.shift), int(op.zero_point), hint)


def _op(m: _Model, op, xs: list, ins: list, out: TensorSpec, where: str, hint: str, packed: bool) -> int:
    """One graph op on the LiteRT tensors ``xs`` of its inputs (specs ``ins``); returns its output tensor."""
    x, spec = xs[0], ins[0]
    if isinstance(op, (Conv2d, Dense)):
        acc, is_int, bound = _linear(m, op, x, spec, where, hint, packed)
        if isinstance(op.output, AccStage):  # exact integers (float32 <= 2**24, or int32) -> int64, for a Merge
            return m.cast(acc, np.int64, hint)
        if isinstance(op.output, RequantStage):
            return _requant_stage(m, op.output, acc, acc_bound(op, spec), where, hint)
        if not is_int:
            acc = m.cast(acc, np.int32, hint)  # exact: an integer-valued float32 below 2**24
        if isinstance(op.output, ScoreStage):
            return _scores(m, op.output, acc, bound, hint)
        return _threshold(m, op.output, acc, hint)
    if isinstance(op, MaxPool2d):  # max of exact small integers: exact in float32
        (kh, kw), (sh, sw) = op.kernel, op.stride
        n, h, w, c = m.shape(x)
        opts = ("Pool2DOptions", {"Padding": _enum("Padding", "VALID"), "StrideW": sw, "StrideH": sh,
                                  "FilterWidth": kw, "FilterHeight": kh})
        return m.op("MAX_POOL_2D", [x], (n, (h - kh) // sh + 1, (w - kw) // sw + 1, c), np.float32, hint,
                    options=opts)
    if isinstance(op, AvgPool2d):
        return _avgpool(m, op, x, spec, where, hint)
    if isinstance(op, (Add, Requantize)):
        return _weighted(m, op, xs, ins, where, hint)
    if isinstance(op, Merge):
        return _merge(m, op, xs, ins, where, hint)
    if isinstance(op, Threshold):  # the stage on the codes, compared in int32
        return _threshold(m, op.stage, m.cast(x, np.int32, hint), hint)
    if isinstance(op, Concat):
        axis = len(m.shape(x)) - 1
        shape = m.shape(x)[:-1] + (sum(m.shape(t)[-1] for t in xs),)
        return m.op("CONCATENATION", xs, shape, np.float32, hint, options=("ConcatenationOptions", {"Axis": axis}))
    if isinstance(op, (Flatten, Reshape)):  # NHWC memory order is the graph's (H, W, C) order
        if tuple(m.shape(x)[1:]) == tuple(out.shape):
            return x
        return m.reshape(x, [-1] + [int(d) for d in out.shape], hint)
    raise TfliteExportError(f"{where}: unsupported op")  # pragma: no cover - Graph.value_specs() rejects it first


def _translate(graph: Graph, packed: bool) -> tuple[_Model, int, int]:
    specs = graph.value_specs()  # validates the graph: structure, shapes, every bound
    names = graph.value_names()
    m = _Model()
    x_in = m.tensor((1,) + tuple(graph.input.shape), graph.input.storage_dtype(), INPUT_NAME, dynamic=True,
                    exact_name=True)
    values = {names[0]: m.cast(x_in, np.float32, "input")}
    for i, op in enumerate(graph.ops):
        reads = graph.op_inputs(i)
        values[names[i + 1]] = _op(m, op, [values[n] for n in reads], [specs[n] for n in reads], specs[names[i + 1]],
                                   op_label(op, i), f"op{i}", packed)
    return m, x_in, values[names[-1]]


# ----------------------------------------------------------------------------- serialisation


def _vector(b, values, dtype) -> int:
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    return b.CreateNumpyVector(arr)


def _bytes_vector(b, data: bytes, alignment: int = 16) -> int:
    """A [ubyte] vector whose data starts on an `alignment` boundary (constant tensors are mapped)."""
    b.StartVector(1, len(data), alignment)
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    return b.EndVector()


def _table(b, name: str, fields: dict, offsets: dict | None = None) -> int:
    mod = _schema(name)
    mod.Start(b)
    for k, v in {**fields, **(offsets or {})}.items():
        getattr(mod, f"Add{k}")(b, v)
    return mod.End(b)


def _offsets_vector(b, module: str, what: str, offsets: list) -> int:
    getattr(_schema(module), f"Start{what}Vector")(b, len(offsets))
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _serialize(m: _Model, x_in: int, out: int, metadata: dict, description: str, name: str) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024 + sum(len(d) for d in m.buffers))
    # buffers (the metadata buffers after the tensors' ones)
    meta_index = {}
    blobs = list(m.buffers)
    for key, payload in metadata.items():
        meta_index[key] = len(blobs)
        blobs.append(payload)
    buffers = []
    for data in blobs:
        vec = _bytes_vector(b, data) if data else None
        buffers.append(_table(b, "Buffer", {}, {"Data": vec} if vec is not None else {}))
    # tensors
    tensors = []
    for t in m.tensors:
        tname = b.CreateString(t.name)
        shape = _vector(b, t.shape, np.int32)
        sig = _vector(b, t.signature, np.int32) if t.signature is not None else None
        quant = None
        if t.quant is not None:
            scale = _vector(b, [t.quant[0]], np.float32)
            zp = _vector(b, [t.quant[1]], np.int64)
            quant = _table(b, "QuantizationParameters", {}, {"Scale": scale, "ZeroPoint": zp})
        offs = {"Name": tname, "Shape": shape}
        if sig is not None:
            offs["ShapeSignature"] = sig
        if quant is not None:
            offs["Quantization"] = quant
        tensors.append(_table(b, "Tensor", {"Type": _enum("TensorType", _DTYPES[t.dtype]), "Buffer": t.buffer},
                              offs))
    # operator codes and operators
    codes = sorted({o.code for o in m.ops}, key=lambda c: _enum("BuiltinOperator", c))
    code_index = {c: i for i, c in enumerate(codes)}
    operators = []
    for o in m.ops:
        ins, outs = _vector(b, o.inputs, np.int32), _vector(b, o.outputs, np.int32)
        fields, offs = {"OpcodeIndex": code_index[o.code]}, {"Inputs": ins, "Outputs": outs}
        if o.options is not None:
            opt_name, opt_fields = o.options
            offs["BuiltinOptions"] = _table(b, opt_name, opt_fields)
            fields["BuiltinOptionsType"] = _enum("BuiltinOptions", opt_name)
        operators.append(_table(b, "Operator", fields, offs))
    sg_name = b.CreateString(name)
    subgraph = _table(b, "SubGraph", {}, {
        "Tensors": _offsets_vector(b, "SubGraph", "Tensors", tensors),
        "Inputs": _vector(b, [x_in], np.int32), "Outputs": _vector(b, [out], np.int32),
        "Operators": _offsets_vector(b, "SubGraph", "Operators", operators), "Name": sg_name})
    opcodes = []
    for c in codes:
        code = _enum("BuiltinOperator", c)
        opcodes.append(_table(b, "OperatorCode", {"DeprecatedBuiltinCode": min(code, 127), "BuiltinCode": code,
                                                  "Version": 1}))
    metas = []
    for key in metadata:
        metas.append(_table(b, "Metadata", {"Buffer": meta_index[key]}, {"Name": b.CreateString(key)}))
    maps = {}
    for role, tensor, tname in (("Inputs", x_in, INPUT_NAME), ("Outputs", out, OUTPUT_NAME)):
        maps[role] = _offsets_vector(b, "SignatureDef", role, [
            _table(b, "TensorMap", {"TensorIndex": tensor}, {"Name": b.CreateString(tname)})])
    sig = _table(b, "SignatureDef", {"SubgraphIndex": 0},
                 {**maps, "SignatureKey": b.CreateString(SIGNATURE_KEY)})
    model = _table(b, "Model", {"Version": SCHEMA_VERSION}, {
        "OperatorCodes": _offsets_vector(b, "Model", "OperatorCodes", opcodes),
        "Subgraphs": _offsets_vector(b, "Model", "Subgraphs", [subgraph]),
        "Description": b.CreateString(description),
        "Buffers": _offsets_vector(b, "Model", "Buffers", buffers),
        "Metadata": _offsets_vector(b, "Model", "Metadata", metas),
        "SignatureDefs": _offsets_vector(b, "Model", "SignatureDefs", [sig])})
    b.Finish(model, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def _metadata_json(graph: Graph) -> bytes:
    last = graph.ops[-1].output
    meta = {"bit_format": FORMAT_ID, "binedge_version": __version__, "class_names": list(graph.class_names),
            "score_shift": int(last.shift), "input_shape": list(graph.input.shape),
            "input_kind": graph.input.kind, "input_scale": float(graph.input.scale),
            "input_zero_point": int(graph.input.zero_point), "graph_metadata": graph.metadata}
    return json.dumps(meta, sort_keys=True, default=str).encode()


def _digest_location(data: bytes) -> tuple[int, dict]:
    """(offset of the digest bytes in the file, {metadata name: bytes}) read from the flatbuffer."""
    model = _schema("Model").Model.GetRootAs(data, 0)
    found = {}
    for i in range(model.MetadataLength()):
        md = model.Metadata(i)
        key = md.Name().decode()
        buf = model.Buffers(md.Buffer())
        tab = buf._tab
        o = tab.Offset(4)
        if o == 0:
            found[key] = (0, b"")
            continue
        start, n = tab.Vector(o), tab.VectorLen(o)
        if start < 0 or start + n > len(data):
            raise IndexError("metadata buffer outside the file")
        found[key] = (start, bytes(data[start:start + n]))
    if META_DIGEST not in found or len(found[META_DIGEST][1]) != DIGEST_BYTES:
        raise KeyError(META_DIGEST)
    return found[META_DIGEST][0], {k: v for k, (_, v) in found.items()}


def _digest(data: bytes, at: int) -> bytes:
    return hashlib.sha256(data[:at] + bytes(DIGEST_BYTES) + data[at + DIGEST_BYTES:]).digest()


# ----------------------------------------------------------------------------- API


def _check_options(model_name, packed) -> None:
    if not isinstance(model_name, str) or not model_name.strip():
        raise TfliteExportError(f"model_name must be a non-empty string, got {model_name!r}")
    if not isinstance(packed, bool):
        raise TfliteExportError(f"packed must be True or False, got {packed!r}")


def build_tflite(graph: Graph, *, model_name: str = "binedge", packed: bool = False) -> bytes:
    """The .tflite flatbuffer of ``graph`` as bytes (not written); see :func:`export_tflite`."""
    _check_options(model_name, packed)
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a binedge.graph.Graph, got {type(graph).__name__}")
    m, x_in, out = _translate(graph, packed)
    metadata = {META_JSON: _metadata_json(graph), META_DIGEST: bytes(DIGEST_BYTES)}
    data = _serialize(m, x_in, out, metadata, "binedge deployment graph; scores equal binedge.reference.run "
                      "exactly", model_name)
    at, _ = _digest_location(data)
    return data[:at] + _digest(data, at) + data[at + DIGEST_BYTES:]


def _sizes(graph: Graph, packed: bool) -> tuple[int, int]:
    """(weight bytes as stored: one int8 each, or the packed words' bytes; output-stage parameter
    bytes: thresholds, directions, score multipliers and offsets as int32, requantization
    multipliers, biases and shifts at their natural sizes, int32 / int64 / uint8; Merge
    multipliers, biases and shifts or int64 thresholds and directions at their natural sizes;
    an AccStage has none)."""
    weights = thresholds = 0
    for op in graph.ops:
        if isinstance(op, (Conv2d, Dense)):
            k = op.in_features if isinstance(op, Dense) else op.in_channels // int(op.groups)
            if packed and op.weight_kind == "binary":
                weights += op.weights.nbytes  # the packed words' bytes
            else:
                weights += int(np.prod(op.weights.shape[:-1])) * k  # one int8 per weight
            st = op.output
            if isinstance(st, AccStage):
                continue
            if isinstance(st, RequantStage):
                thresholds += st.multiplier.nbytes + st.bias.nbytes + st.shift.nbytes
                continue
            arrays = (st.multiplier, st.offset) if isinstance(st, ScoreStage) else (st.thresholds, st.direction)
            thresholds += sum(int(a.size) * 4 for a in arrays)  # stored as int32
        elif isinstance(op, Threshold):
            thresholds += (int(op.stage.thresholds.size) + int(op.stage.direction.size)) * 4
        elif isinstance(op, Merge):
            st = op.output
            tail = (st.shift,) if isinstance(st, RoundStage) else (st.thresholds, st.direction)
            thresholds += sum(a.nbytes for a in (op.multipliers_a, op.multipliers_b, op.bias) + tail)
    return weights, thresholds


def export_tflite(graph: Graph, path, *, model_name: str = "binedge", packed: bool = False,
                  verify: bool = True) -> dict:
    """Write ``graph`` as a LiteRT .tflite file to ``path`` (atomically) and return its sizes.

    ``packed=True`` stores binary weights bit-packed (1 bit per weight, rows padded to 32 bits)
    and expands them inside the graph at every invocation (GATHER from a ±1 table): a file about
    8x smaller at the cost of latency; the default stores one int8 (±1) per weight.

    With ``verify`` the bytes are first loaded into the LiteRT interpreter (tensors allocated),
    so a model LiteRT would refuse is never written.

    Every graph that validates is accepted (any DAG, every op and stage, u8 / i8 inputs), except a
    Dense / Conv2d in which one input channel alone may exceed 2**24 (float32 cannot sum it
    exactly): TfliteExportError naming the op.

    Returns {"path", "file_bytes", "weight_bytes" (weights as stored: one int8 each, or the packed
    words' bytes), "threshold_bytes" (output-stage parameters: thresholds, directions, score
    multipliers and offsets as int32, requantization multipliers / biases / shifts and Merge
    parameters at their natural sizes), "operators"}.
    Raises TfliteExportError for bad options, a missing output directory or a layer that cannot
    be computed exactly, GraphError for an invalid graph.
    """
    from .fileio import atomic_write_bytes

    _check_options(model_name, packed)
    if not isinstance(verify, bool):
        raise TfliteExportError(f"verify must be True or False, got {verify!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise TfliteExportError(f"cannot write {path}: directory {folder} does not exist")
    data = build_tflite(graph, model_name=model_name, packed=packed)
    if verify:
        try:
            interp = make_interpreter(data)
            interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise TfliteExportError(f"LiteRT refuses the generated model: {e}") from e
    atomic_write_bytes(path, data)
    weights, thresholds = _sizes(graph, packed)
    ops = _schema("Model").Model.GetRootAs(data, 0).Subgraphs(0).OperatorsLength()
    return {"path": path, "file_bytes": len(data), "weight_bytes": weights, "threshold_bytes": thresholds,
            "operators": ops}


@dataclass(frozen=True)
class TfliteFile:
    """A checked .tflite file: its bytes and its binedge metadata (empty dict if not binedge's)."""

    path: str
    content: bytes
    metadata: dict

    @property
    def input_shape(self) -> tuple:
        return tuple(self.metadata.get("input_shape", ()))


def load_tflite_checked(path, *, require_binedge: bool = True) -> TfliteFile:
    """Read a .tflite file and check it; TfliteModelError (naming the file) on any problem.

    Checks the TFL3 identifier, then the binedge metadata and the SHA-256 the exporter stores
    over the whole file, so truncation and corruption are found before LiteRT parses anything.
    With ``require_binedge=False`` a file without binedge metadata is accepted if the LiteRT
    interpreter can load it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TfliteModelError(f"{path}: .tflite file not found")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise TfliteModelError(f"{path}: empty file, not a .tflite model")
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise TfliteModelError(f"{path}: not a .tflite flatbuffer (no {FILE_IDENTIFIER.decode()} identifier; "
                               "truncated or corrupt?)")
    try:
        at, meta = _digest_location(data)
    except KeyError:
        at, meta = None, None
    except Exception as e:  # IndexError, struct.error, UnicodeDecodeError ... from a bad file
        raise TfliteModelError(f"{path}: unreadable .tflite flatbuffer (truncated or corrupt?): "
                               f"{type(e).__name__}: {e}") from e
    if at is None:
        if require_binedge:
            raise TfliteModelError(f"{path}: no binedge checksum metadata (truncated, or not a binedge export)")
        try:
            make_interpreter(data)
        except (ValueError, RuntimeError) as e:
            raise TfliteModelError(f"{path}: LiteRT cannot load the model (truncated or corrupt?): {e}") from e
        return TfliteFile(path, data, {})
    if _digest(data, at) != data[at:at + DIGEST_BYTES]:
        raise TfliteModelError(f"{path}: checksum mismatch: the file is corrupt or truncated")
    try:
        info = json.loads(meta[META_JSON].decode())
    except (KeyError, ValueError) as e:
        raise TfliteModelError(f"{path}: missing or unreadable binedge metadata") from e
    if info.get("bit_format") != FORMAT_ID:
        raise TfliteModelError(f"{path}: bit format {info.get('bit_format')!r} is not {FORMAT_ID!r}")
    return TfliteFile(path, data, info)


def make_interpreter(content: bytes, *, delegates: str = "default", num_threads: int = 1):
    """A LiteRT Interpreter over model bytes. ``delegates``: "default" (LiteRT's default, the
    XNNPACK delegate for the float ops it takes), "none" (builtin optimized kernels only) or
    "reference" (LiteRT's reference kernels)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kinds = {"default": OpResolverType.AUTO, "none": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
             "reference": OpResolverType.BUILTIN_REF}
    if delegates not in kinds:
        raise ValueError(f"delegates must be one of {', '.join(DELEGATES)}, got {delegates!r}")
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
    return Interpreter(model_content=content, num_threads=num_threads,
                       experimental_op_resolver_type=kinds[delegates])


def run_tflite(path, images: np.ndarray, *, batch_size: int = 1000, delegates: str = "default",
               num_threads: int = 1) -> np.ndarray:
    """Run a binedge .tflite file in the LiteRT interpreter; int32 scores (N, C).

    ``images``: the model's input type (uint8 or int8, the graph input's kind), (N,) + the graph's
    input shape ((N, H, W) is accepted for one channel).
    The batch axis is dynamic: the input is resized to each chunk of at most ``batch_size``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    model = load_tflite_checked(path)
    interp = make_interpreter(model.content, delegates=delegates, num_threads=num_threads)
    inp = next(d for d in interp.get_input_details() if d["name"] == INPUT_NAME)
    out = next(d for d in interp.get_output_details() if d["name"] == OUTPUT_NAME)
    shape = tuple(int(s) for s in inp["shape"][1:])
    dtype = np.dtype(inp["dtype"])
    if not isinstance(images, np.ndarray) or images.dtype != dtype:
        raise ValueError(f"images must be a numpy array of {dtype}, got "
                         f"{getattr(images, 'dtype', type(images).__name__)}")
    if len(shape) == 3 and shape[2] == 1 and images.ndim == 3 and images.shape[1:] == shape[:2]:
        images = images[..., None]
    if images.ndim != len(shape) + 1 or tuple(images.shape[1:]) != shape:
        raise ValueError(f"images must have shape (N,)+{shape}, got {tuple(images.shape)}")
    images = np.ascontiguousarray(images)
    results, current = [], None
    for lo in range(0, len(images), batch_size):
        chunk = images[lo:lo + batch_size]
        if len(chunk) != current:
            interp.resize_tensor_input(inp["index"], [len(chunk), *shape], strict=True)
            interp.allocate_tensors()
            current = len(chunk)
        interp.set_tensor(inp["index"], chunk)
        interp.invoke()
        results.append(np.array(interp.get_tensor(out["index"]), dtype=np.int32))
    if not results:
        return np.zeros((0, int(out["shape"][-1])), np.int32)
    return np.concatenate(results)
