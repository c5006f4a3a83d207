"""The deployment graph: the integer program every backend runs (DESIGN.md §1-2, docs/graph.md).

A graph is a uint8 input followed by a list of ops. Every value between ops is one of
    * ``u8``   : uint8 pixels, logical shape (H, W, C) or (F,)
    * ``bits`` : packed binary activations, logical shape (H, W, C) or (C,), stored as uint32
                 words (..., P, ceil(C/32)) with P bit-planes. ``encoding='sign'`` (P = 1):
                 bit 0 = +1, bit 1 = -1. ``encoding='unsigned'``: level = sum_p 2^p * bit_p.
    * ``i32``  : int32 scores, logical shape (C,), only after the last op.
The batch axis is always leading and never part of a logical shape.

The accumulator ``acc`` of a Dense / Conv2d over its K real inputs x_k and weights w_k is the
exact integer sum_k x_k * w_k, where x_k is the pixel (u8), the ±1 value (sign bits) or the
level (unsigned bits), and w_k is ±1 (binary weights) or int8. Convolution padding is the value
whose encoding is 0: pixel 0, +1 for sign bits, level 0 for unsigned bits.

Output stages turn acc into the op's output:
    * :class:`ThresholdStage`, per output channel c with direction d_c in {+1, -1} and thresholds
      T_c,1 <= ... <= T_c,L:  level = #{k : d_c * acc >= T_c,k}.  ``sign`` encoding (L = 1):
      level 1 -> +1 (bit 0), level 0 -> -1 (bit 1).  ``unsigned``: the level itself in bit-planes.
    * :class:`ScoreStage`: score_c = multiplier_c * acc + offset_c (int32; lowering guarantees
      it fits); the float logit it stands for is score_c / 2**shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from . import bitformat as bf

FORMAT_ID = "binedge-bits-v1: +1=bit0, -1=bit1, LSB-first, uint32 little-endian, rows padded to 32"


# Limits of every geometry field (docs/format.md §7, runtime_c/include/binedge.h BE_MAX_*): both
# readers refuse anything beyond them, so every size derived from a valid graph fits 32 bits.
MAX_DIM = 65535  # H, W, kernel and stride sizes
MAX_CHANNELS = 1 << 24  # channels / features, also after Flatten
MAX_LEVELS = 255  # thresholds per channel (at most 8 bit-planes)
INT32_MAX = 2**31 - 1


class GraphError(ValueError):
    """A deployment graph that breaks the contract (shapes, dtypes, parameters)."""


@dataclass(frozen=True)
class TensorSpec:
    kind: str  # "u8" | "bits" | "i32"
    shape: tuple[int, ...]  # logical, without batch
    encoding: str = ""  # "sign" | "unsigned" for bits
    planes: int = 1  # bit-planes for bits

    @property
    def channels(self) -> int:
        return self.shape[-1]

    def storage_shape(self) -> tuple[int, ...]:
        """Shape of one sample in storage: u8/i32 as logical, bits as (..., P, Cw) words."""
        if self.kind == "bits":
            return self.shape[:-1] + (self.planes, bf.words_for(self.shape[-1]))
        return self.shape

    def storage_dtype(self) -> np.dtype:
        return {"u8": np.dtype(np.uint8), "bits": bf.WORD_DTYPE, "i32": np.dtype("<i4")}[self.kind]

    def nbytes(self) -> int:
        return int(np.prod(self.storage_shape(), dtype=np.int64)) * self.storage_dtype().itemsize

    @property
    def max_abs_value(self) -> int:
        """Largest |value| an element can hold: 255 for pixels, 1 for sign bits, 2^P - 1 for P planes."""
        if self.kind == "u8":
            return 255
        return 1 if self.encoding == "sign" else (1 << self.planes) - 1

    @property
    def pad_value(self) -> int:
        """The value whose encoding is all zero, which convolution padding uses: +1 for sign bits,
        0 for pixels and unsigned levels."""
        return 1 if (self.kind == "bits" and self.encoding == "sign") else 0


@dataclass
class ThresholdStage:
    direction: np.ndarray  # int8 (C,), +1 or -1
    thresholds: np.ndarray  # int32 (C, L), non-decreasing along L
    encoding: str  # "sign" (L must be 1) | "unsigned"

    @property
    def levels(self) -> int:
        return int(self.thresholds.shape[1])

    @property
    def planes(self) -> int:
        return 1 if self.encoding == "sign" else bf.planes_needed(self.levels)


@dataclass
class ScoreStage:
    multiplier: np.ndarray  # int32 (C,)
    offset: np.ndarray  # int32 (C,)
    shift: int = 0

    @classmethod
    def identity(cls, channels: int) -> "ScoreStage":
        return cls(np.ones(channels, np.int32), np.zeros(channels, np.int32), 0)


Stage = Union[ThresholdStage, ScoreStage]


@dataclass
class Dense:
    weights: np.ndarray  # binary: uint32 (O, ceil(K/32)) packed sign bits; int8: (O, K)
    in_features: int
    out_features: int
    output: Stage
    weight_kind: str = "binary"  # "binary" | "int8"
    name: str = ""


@dataclass
class Conv2d:
    weights: np.ndarray  # binary: uint32 (O, KH, KW, ceil(C/32)); int8: (O, KH, KW, C)
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    output: Stage
    weight_kind: str = "binary"
    name: str = ""


@dataclass
class MaxPool2d:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    name: str = ""


@dataclass
class Flatten:
    name: str = ""


Op = Union[Dense, Conv2d, MaxPool2d, Flatten]


@dataclass
class Graph:
    input: TensorSpec
    ops: list
    class_names: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def specs(self) -> list[TensorSpec]:
        """Input spec followed by the output spec of every op; validates the graph on the way."""
        if self.input.kind != "u8" or len(self.input.shape) not in (1, 3):
            raise GraphError("the graph input must be u8 of shape (H, W, C) or (F,)")
        _check_value_shape(self.input.shape, "the graph input")
        out = [self.input]
        if self.input.nbytes() > INT32_MAX:
            raise GraphError(f"the graph input takes {self.input.nbytes()} bytes per sample (limit 2**31 - 1)")
        for i, op in enumerate(self.ops):
            try:
                out.append(infer(op, out[-1]))
                if out[-1].nbytes() > INT32_MAX:
                    raise GraphError(f"its output takes {out[-1].nbytes()} bytes per sample (limit 2**31 - 1)")
            except GraphError as e:
                raise GraphError(f"op {i} ({type(op).__name__} {op.name!r}): {e}") from None
        if out[-1].kind != "i32":
            raise GraphError("the last op must end in a ScoreStage (int32 scores)")
        if any(s.kind == "i32" for s in out[:-1]):
            raise GraphError("only the last op may produce int32 scores")
        if self.class_names and len(self.class_names) != out[-1].shape[0]:
            raise GraphError(f"{len(self.class_names)} class names for {out[-1].shape[0]} scores")
        return out

    def validate(self) -> None:
        self.specs()

    @property
    def output(self) -> TensorSpec:
        return self.specs()[-1]


def _check_value_shape(shape: tuple[int, ...], what: str) -> None:
    """Every dimension positive; spatial sizes <= MAX_DIM, channels / features <= MAX_CHANNELS."""
    if any(int(v) < 1 for v in shape):
        raise GraphError(f"{what} has an empty dimension: shape {tuple(shape)}")
    if len(shape) == 3 and max(shape[0], shape[1]) > MAX_DIM:
        raise GraphError(f"{what}: spatial size {shape[:2]} exceeds {MAX_DIM}")
    if shape[-1] > MAX_CHANNELS:
        raise GraphError(f"{what}: {shape[-1]} channels / features exceed {MAX_CHANNELS}")


def _window_out(n: int, k: int, s: int, p0: int, p1: int, what: str) -> int:
    """Output size of a window k / stride s over n inputs padded by p0, p1 (fields bounded first)."""
    if not (1 <= k <= MAX_DIM and 1 <= s <= MAX_DIM):
        raise GraphError(f"{what}: kernel and stride sizes must lie in [1, {MAX_DIM}], got {k} and {s}")
    if not (0 <= p0 < k and 0 <= p1 < k):
        raise GraphError(f"{what}: padding ({p0}, {p1}) must lie in [0, kernel - 1 = {k - 1}] on each side")
    if n + p0 + p1 < k:
        raise GraphError(f"{what}: the kernel {k} does not fit the (padded) input of size {n + p0 + p1}")
    out = (n + p0 + p1 - k) // s + 1
    if out > MAX_DIM:
        raise GraphError(f"{what}: output size {out} exceeds {MAX_DIM}")
    return out


def acc_bound(op, spec: TensorSpec) -> np.ndarray:
    """Per output channel c, the largest |acc| of a Dense / Conv2d over inputs of ``spec``:
    max|x| * sum_k |w_ck| (binary weights: max|x| * K). int64 array of shape (O,)."""
    if op.weight_kind == "int8":
        absw = np.abs(op.weights.astype(np.int64)).reshape(op.weights.shape[0], -1).sum(axis=1)
    else:
        k = op.in_features if isinstance(op, Dense) else op.kernel[0] * op.kernel[1] * op.in_channels
        absw = np.full(op.weights.shape[0], k, np.int64)
    return absw * spec.max_abs_value


def _check_bounds(op, spec: TensorSpec) -> None:
    """Prove that no accumulator, and no score, of ``op`` can leave int32."""
    bound = acc_bound(op, spec)
    if bound.size and int(bound.max()) > INT32_MAX:
        raise GraphError(f"an accumulator may reach {int(bound.max())} > 2**31 - 1 (max|x| * sum |w|)")
    st = op.output
    if isinstance(st, ScoreStage):
        worst = np.abs(st.multiplier.astype(np.int64)) * bound + np.abs(st.offset.astype(np.int64))
        if worst.size and int(worst.max()) > INT32_MAX:
            c = int(worst.argmax())
            raise GraphError(f"score {c} may reach |{int(st.multiplier[c])} * acc + {int(st.offset[c])}| = "
                             f"{int(worst[c])} > 2**31 - 1 for |acc| <= {int(bound[c])}; lower the score shift")


def _stage_output(stage: Stage, shape: tuple[int, ...]) -> TensorSpec:
    c = shape[-1]
    if isinstance(stage, ScoreStage):
        if len(shape) != 1:
            raise GraphError("scores must come from a Dense layer (shape (C,))")
        if not 0 <= int(stage.shift) <= 31:
            raise GraphError("ScoreStage.shift must lie in [0, 31]")
        for name in ("multiplier", "offset"):
            a = getattr(stage, name)
            if a.shape != (c,) or a.dtype != np.int32:
                raise GraphError(f"ScoreStage.{name} must be int32 of shape ({c},)")
        return TensorSpec("i32", shape)
    if stage.encoding not in ("sign", "unsigned"):
        raise GraphError(f"unknown threshold encoding {stage.encoding!r}")
    t, d = stage.thresholds, stage.direction
    if t.dtype != np.int32 or t.ndim != 2 or t.shape[0] != c or t.shape[1] < 1:
        raise GraphError(f"thresholds must be int32 of shape ({c}, L>=1)")
    if t.shape[1] > MAX_LEVELS:
        raise GraphError(f"{t.shape[1]} thresholds per channel exceed {MAX_LEVELS}")
    if d.dtype != np.int8 or d.shape != (c,) or not np.all(np.abs(d) == 1):
        raise GraphError(f"direction must be int8 ±1 of shape ({c},)")
    if stage.encoding == "sign" and t.shape[1] != 1:
        raise GraphError("sign encoding takes exactly one threshold per channel")
    if np.any(np.diff(t.astype(np.int64), axis=1) < 0):
        raise GraphError("thresholds must be non-decreasing along each channel")
    return TensorSpec("bits", shape, stage.encoding, stage.planes)


def infer(op, spec: TensorSpec) -> TensorSpec:
    """Output spec of ``op`` applied to a value of ``spec`` (raises GraphError if it cannot apply)."""
    if spec.kind == "i32":
        raise GraphError("nothing may follow the int32 scores")
    if isinstance(op, Flatten):
        flat = (int(np.prod(spec.shape, dtype=np.int64)),)
        _check_value_shape(flat, "the flattened value")
        return TensorSpec(spec.kind, flat, spec.encoding, spec.planes)
    if isinstance(op, MaxPool2d):
        if len(spec.shape) != 3 or spec.kind != "bits":
            raise GraphError("MaxPool2d takes packed bits of shape (H, W, C)")
        (h, w, c), (kh, kw), (sh, sw) = spec.shape, op.kernel, op.stride
        oh = _window_out(h, int(kh), int(sh), 0, 0, "pool height")
        ow = _window_out(w, int(kw), int(sw), 0, 0, "pool width")
        return TensorSpec("bits", (oh, ow, c), spec.encoding, spec.planes)
    if isinstance(op, Dense):
        if len(spec.shape) != 1 or spec.shape[0] != op.in_features:
            raise GraphError(f"Dense expects ({op.in_features},) input, got {spec.shape}")
        _check_value_shape((op.out_features,), "the Dense output")
        _check_weights(op.weight_kind, op.weights, (op.out_features,), op.in_features, spec)
        out = _stage_output(op.output, (op.out_features,))
        _check_bounds(op, spec)
        return out
    if isinstance(op, Conv2d):
        if len(spec.shape) != 3 or spec.shape[2] != op.in_channels:
            raise GraphError(f"Conv2d expects (H, W, {op.in_channels}) input, got {spec.shape}")
        h, w, _ = spec.shape
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = op.kernel, op.stride, op.padding
        oh = _window_out(h, int(kh), int(sh), int(pt), int(pb), "convolution height")
        ow = _window_out(w, int(kw), int(sw), int(pl), int(pr), "convolution width")
        padded = (h + pt + pb) * (w + pl + pr) * (spec.nbytes() // (h * w))
        if padded > INT32_MAX:
            raise GraphError(f"the padded input takes {padded} bytes per sample (limit 2**31 - 1)")
        _check_value_shape((oh, ow, op.out_channels), "the Conv2d output")
        _check_weights(op.weight_kind, op.weights, (op.out_channels, kh, kw), op.in_channels, spec)
        if isinstance(op.output, ScoreStage):
            raise GraphError("a convolution cannot end the graph; flatten and use Dense")
        out = _stage_output(op.output, (oh, ow, op.out_channels))
        _check_bounds(op, spec)
        return out
    raise GraphError(f"unsupported op {type(op).__name__}")


def _check_weights(kind: str, w: np.ndarray, lead: tuple, k: int, spec: TensorSpec) -> None:
    if kind == "binary":
        want, dtype = lead + (bf.words_for(k),), bf.WORD_DTYPE
    elif kind == "int8":
        want, dtype = lead + (k,), np.dtype(np.int8)
        if spec.kind != "u8":
            raise GraphError("int8 weights are only supported on the u8 input layer")
    else:
        raise GraphError(f"unknown weight kind {kind!r}")
    if w.shape != want or w.dtype != dtype:
        raise GraphError(f"weights must be {dtype} of shape {want}, got {w.dtype} {w.shape}")
    tail = k % bf.WORD_BITS
    if kind == "binary" and tail and np.any(w[..., -1] >> np.uint32(tail)):
        raise GraphError("padding bits of packed weights must be zero (they would count in K - 2·popcount)")
