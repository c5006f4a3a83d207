"""The deployment graph: a typed DAG of exact integer ops (DESIGN.md §7, docs/graph.md).

A graph is one input value and a list of ops in topological order. Every op writes one value,
named after the op (``op.name``, or ``op<i>`` when empty); it reads the values named in
``op.inputs`` (``None``: the previous op's output, or the graph input for op 0, so a plain chain
needs no names). The last op's output is the graph output, int32 scores.

Values (:class:`TensorSpec`; the batch axis is leading and never part of a shape):
    * ``u8`` / ``i8``: uint8 / int8 codes q, real = scale * (q - zero_point), shape (H, W, C) or (F,)
    * ``bits``: packed binary activations stored as uint32 words (..., P, ceil(C/32)) with P
      bit-planes; ``encoding='sign'`` (P = 1): bit 0 = +1, bit 1 = -1; ``encoding='unsigned'``:
      level = sum_p 2^p * bit_p
    * ``i32``: int32 scores (C,), the graph output; or (encoding ``acc``) the exact accumulators of
      a Dense / Conv2d with an AccStage, any shape, read only by a Merge

The accumulator of a Dense / Conv2d is the exact integer sum_k w_k * x_k over raw codes (u8 /
i8), ±1 (sign bits) or levels (unsigned bits), with w_k = ±1 (binary) or int8. Convolution
padding is the input's *zero code*: the zero point for u8 / i8, +1 for sign bits, level 0.

Output stages of Dense / Conv2d, per output channel c:
    * :class:`ThresholdStage`: level = #{k : d_c * acc >= T_c,k} -> bits
    * :class:`RequantStage`: requant(M_c * acc + B_c, s_c, zp) -> i8
    * :class:`ScoreStage`: m_c * acc + o_c -> int32 scores (logit = score / 2**shift)
    * :class:`AccStage`: acc itself -> an i32 accumulator value, read only by a :class:`Merge`
A :class:`Merge` combines two values (codes or accumulators) per channel in int64,
v_c = Ma_c (a - zp_a) + Mb_c (b - zp_b) + B_c, then thresholds v (bits) or rounds it (RoundStage -> i8).

The one rounding rule (docs/graph.md, docs/numerics.md): for int64 v and shift s in [0, 62],
rshift(v, s) = floor((v + 2^(s-1)) / 2^s) (v for s = 0), and requant(v, s, zp) =
clamp(zp + rshift(v, s), -128, 127); :func:`rshift` and :func:`requant` implement it. The other
ops (Add, Requantize, Threshold, AvgPool2d, MaxPool2d, Concat, Flatten, Reshape) are specified in
docs/graph.md; :func:`binedge.reference.run` is the executable spec.

Validation (:meth:`Graph.value_specs`) proves every bound before a graph may be used: geometry
limits, every accumulator within int32, every score within int32, every requantization's int64
intermediate within int64.
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
MAX_SHIFT = 62  # requantization shifts
MAX_CONCAT = 16  # inputs of one Concat
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
INT64_MAX = 2**63 - 1
INPUT_NAME = "input"
KINDS = ("u8", "i8", "bits", "i32")
CODE_RANGE = {"u8": (0, 255), "i8": (-128, 127)}


class GraphError(ValueError):
    """A deployment graph that breaks the contract (shapes, dtypes, parameters, bounds)."""


# ----------------------------------------------------------------------------- rounding


def rshift(v, s):
    """floor((v + 2^(s-1)) / 2^s) for s >= 1, v for s = 0: v / 2^s rounded half up (int64 arrays;
    ``s`` a scalar or an array broadcasting against ``v``)."""
    v = np.asarray(v, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    half = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    return np.right_shift(v + half, s)  # arithmetic shift of int64: floor division by 2^s


def requant(v, s, zero_point: int):
    """clamp(zero_point + rshift(v, s), -128, 127) as int64 (the codes of an i8 value). The clamp
    comes first, against the shifted range, so that zero_point + rshift never leaves int64 (with
    s = 0, rshift(v, s) = v may lie within 128 of 2^63)."""
    zp = int(zero_point)
    return np.clip(rshift(v, s), -128 - zp, 127 - zp) + zp


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class TensorSpec:
    kind: str  # "u8" | "i8" | "bits" | "i32"
    shape: tuple[int, ...]  # logical, without batch
    encoding: str = ""  # "sign" | "unsigned" for bits
    planes: int = 1  # bit-planes for bits
    scale: float = 1.0  # u8 / i8: real = scale * (code - zero_point)
    zero_point: int = 0
    bound: int = 0  # i32 accumulators (AccStage): the largest |value| the graph proved

    @property
    def channels(self) -> int:
        return self.shape[-1]

    def storage_shape(self) -> tuple[int, ...]:
        """Shape of one sample in storage: u8/i8/i32 as logical, bits as (..., P, Cw) words."""
        if self.kind == "bits":
            return self.shape[:-1] + (self.planes, bf.words_for(self.shape[-1]))
        return self.shape

    def storage_dtype(self) -> np.dtype:
        return {"u8": np.dtype(np.uint8), "i8": np.dtype(np.int8), "bits": bf.WORD_DTYPE,
                "i32": np.dtype("<i4")}[self.kind]

    def nbytes(self) -> int:
        return int(np.prod(self.storage_shape(), dtype=np.int64)) * self.storage_dtype().itemsize

    @property
    def max_abs_value(self) -> int:
        """Largest |value| an element can hold as the ops see it: 255 for u8 codes, 128 for i8
        codes, 1 for sign bits, 2^P - 1 for P unsigned planes."""
        if self.kind == "u8":
            return 255
        if self.kind == "i8":
            return 128
        return 1 if self.encoding == "sign" else (1 << self.planes) - 1

    @property
    def max_centered(self) -> int:
        """Largest |code - zero_point| of a u8 / i8 value (what Add, AvgPool2d, Requantize scale),
        or the proved bound of an i32 accumulator (what Merge scales)."""
        if self.kind == "i32":
            return int(self.bound)
        lo, hi = CODE_RANGE[self.kind]
        return max(hi - self.zero_point, self.zero_point - lo)

    @property
    def pad_value(self) -> int:
        """The zero code, which convolution padding uses: the zero point of u8 / i8 codes, +1 for
        sign bits, level 0 for unsigned bits."""
        if self.kind in ("u8", "i8"):
            return int(self.zero_point)
        return 1 if (self.kind == "bits" and self.encoding == "sign") else 0

    def same_type(self, other: "TensorSpec") -> bool:
        """Same kind and encoding (bits: encoding and planes; u8 / i8: scale and zero point)."""
        if self.kind != other.kind:
            return False
        if self.kind == "bits":
            return (self.encoding, self.planes) == (other.encoding, other.planes)
        if self.kind in ("u8", "i8"):
            return (self.scale, self.zero_point) == (other.scale, other.zero_point)
        return True


# ----------------------------------------------------------------------------- stages


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


@dataclass
class RequantStage:
    """i8 output: requant(M_c * acc + B_c, s_c, zero_point); real value scale * (code - zero_point)."""

    multiplier: np.ndarray  # int32 (C,)
    bias: np.ndarray  # int64 (C,)
    shift: np.ndarray  # uint8 (C,), each in [0, 62]
    zero_point: int = 0
    scale: float = 1.0


@dataclass
class AccStage:
    """i32 output: the exact accumulator itself, for a Merge to combine with another value
    (a residual connection of real-valued branches). Its spec's ``bound`` is max_c bound_c."""


@dataclass
class RoundStage:
    """Merge's i8 output: requant(v_c, shift_c, zero_point); real value scale * (code - zero_point)."""

    shift: np.ndarray  # uint8 (C,), each in [0, 62]
    zero_point: int = 0
    scale: float = 1.0


Stage = Union[ThresholdStage, ScoreStage, RequantStage, AccStage]


# ----------------------------------------------------------------------------- ops


@dataclass
class Dense:
    weights: np.ndarray  # binary: uint32 (O, ceil(K/32)) packed sign bits; int8: (O, K)
    in_features: int
    out_features: int
    output: Stage
    weight_kind: str = "binary"  # "binary" | "int8"
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Conv2d:
    weights: np.ndarray  # binary: uint32 (O, KH, KW, ceil(C/g/32)); int8: (O, KH, KW, C/g)
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    output: Stage
    weight_kind: str = "binary"
    name: str = ""
    groups: int = 1
    inputs: tuple | None = None


@dataclass
class MaxPool2d:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    name: str = ""
    inputs: tuple | None = None


@dataclass
class AvgPool2d:
    """requant(M * sum_window (x - zp_x), shift, zero_point); kernel = (H, W): global pooling."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    multiplier: int
    shift: int
    zero_point: int = 0
    scale: float = 1.0
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Add:
    """requant(M_a * (a - zp_a) + M_b * (b - zp_b), shift, zero_point) of two u8 / i8 values."""

    multipliers: tuple[int, int]
    shift: int
    zero_point: int = 0
    scale: float = 1.0
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Merge:
    """Two values a, b of one shape (u8 / i8 codes or i32 accumulators), per output channel c:
        v_c = Ma_c * (a_c - zp_a) + Mb_c * (b_c - zp_b) + B_c        (exact int64; zp = 0 for i32)
    then ``output``: a ThresholdStage on v (int64 thresholds) -> bits, or a RoundStage -> i8.
    What a sum of two real-valued branches (e.g. x + BN(conv(sign(x)))) lowers to exactly."""

    multipliers_a: np.ndarray  # int32 (C,)
    multipliers_b: np.ndarray  # int32 (C,)
    bias: np.ndarray  # int64 (C,)
    output: Union[ThresholdStage, RoundStage]
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Requantize:
    """requant(M * (x - zp_x), shift, zero_point): a u8 / i8 value at another scale / zero point."""

    multiplier: int
    shift: int
    zero_point: int = 0
    scale: float = 1.0
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Threshold:
    """Hard threshold of a u8 / i8 value: per channel, level = #{k : d_c * code >= T_c,k} -> bits."""

    stage: ThresholdStage
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Concat:
    """Channels of every input, in order (same type and spatial size)."""

    name: str = ""
    inputs: tuple | None = None


@dataclass
class Flatten:
    name: str = ""
    inputs: tuple | None = None


@dataclass
class Reshape:
    """The codes of a u8 / i8 value in HWC order, as a new shape with the same element count."""

    shape: tuple[int, ...]
    name: str = ""
    inputs: tuple | None = None


@dataclass
class LSTM:
    """One time step of a binary-weight LSTM layer (docs/numerics.md "Recurrent", docs/graph.md).

    A stateful op: it keeps its layer's state (h: int8 codes, c: int32 codes, H each) between
    invokes, from zeros after a reset. Gate rows r = j·H + c, gates j = (i, f, g, o). With
    rshift(v, s) = floor((v + 2^(s-1)) / 2^s) and the Q15 tables SIG / TANH of
    :mod:`binedge.lstm_integer`:
        acc_h[r] = Σ_k Wh[r, k] · h[k]                      (Wh = ±1, h the old state codes)
        x-part[r] = Mx_j · Wx[r, x]                         (input u8 (1,): a character id x < V)
                  = Mx_j · Σ_k Wx[r, k] · p[k]              (input i8 (I,): the h codes of an LSTM below)
        z[r] = clamp(rshift(Mh_j · acc_h[r] + x-part[r] + B[r], s_j), -512, 511)
        c' = clamp(rshift(f·c, 15) + rshift(i·g, 30 - c_frac), -65535, 65535)
        h' = clamp(rshift(o · TANH[clamp(rshift(c', c_frac - 6), -512, 511)], 23), -127, 127)
    The output value is h' (i8 (H,), scale 2^-7, zero point 0); the state becomes (h', c').
    Storage: ``recurrent`` uint32 (4H, words(H)) packed signs of Wh; ``input_weights`` packed signs
    of Wx: (V, words(4H)) for a character input (row x = column x of all 4H rows), else
    (4H, words(I)); ``multipliers`` int32 (2, 4) = (Mh_j; Mx_j); ``bias`` int32 (4H,);
    ``shifts`` uint8 (4,) in [1, 30]; ``c_frac`` in [7, 14]."""

    recurrent: np.ndarray
    input_weights: np.ndarray
    in_features: int
    hidden: int
    multipliers: np.ndarray
    bias: np.ndarray
    shifts: np.ndarray
    c_frac: int = 10
    name: str = ""
    inputs: tuple | None = None


Op = Union[Dense, Conv2d, MaxPool2d, AvgPool2d, Add, Requantize, Threshold, Concat, Flatten, Reshape, Merge, LSTM]
OP_TYPES = (Dense, Conv2d, MaxPool2d, AvgPool2d, Add, Requantize, Threshold, Concat, Flatten, Reshape, Merge, LSTM)


def op_label(op, i: int) -> str:
    """How messages name op i."""
    return f"op {i} ({type(op).__name__} {op.name!r})"


# ----------------------------------------------------------------------------- graph


@dataclass
class Graph:
    input: TensorSpec
    ops: list
    class_names: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def value_name(self, i: int) -> str:
        """Name of op i's output value."""
        name = self.ops[i].name
        return name if name else f"op{i}"

    def value_names(self) -> list[str]:
        """The graph input's name, then every op's output name (in op order)."""
        return [INPUT_NAME] + [self.value_name(i) for i in range(len(self.ops))]

    def op_inputs(self, i: int) -> tuple[str, ...]:
        """Names of the values op i reads."""
        op = self.ops[i]
        if op.inputs is None:
            return (INPUT_NAME if i == 0 else self.value_name(i - 1),)
        if isinstance(op.inputs, str):
            return (op.inputs,)
        return tuple(str(v) for v in op.inputs)

    def value_specs(self, *, complete: bool = True) -> dict[str, TensorSpec]:
        """Every value's type by name (input first, then in op order); validates the whole graph:
        structure, shapes, parameters and every integer bound. ``complete=False`` checks a graph
        under construction: every op, but not yet the int32 output and the unused values."""
        if not isinstance(self.input, TensorSpec) or self.input.kind not in ("u8", "i8") \
                or len(self.input.shape) not in (1, 3):
            raise GraphError("the graph input must be u8 or i8 of shape (H, W, C) or (F,)")
        _check_value_shape(self.input.shape, "the graph input")
        _check_code_type(self.input, "the graph input")
        if self.input.nbytes() > INT32_MAX:
            raise GraphError(f"the graph input takes {self.input.nbytes()} bytes per sample (limit 2**31 - 1)")
        if not self.ops:
            raise GraphError("the graph has no ops")
        specs = {INPUT_NAME: self.input}
        producer: dict = {}
        used: set[str] = set()
        for i, op in enumerate(self.ops):
            where = op_label(op, i)
            if not isinstance(op, OP_TYPES):
                raise GraphError(f"{where}: unsupported op type")
            name = self.value_name(i)
            if name in specs:
                raise GraphError(f"{where}: the value name {name!r} is used twice")
            names = self.op_inputs(i)
            missing = [n for n in names if n not in specs]
            if missing:
                raise GraphError(f"{where}: reads {missing[0]!r}, which no earlier op produces")
            ins = [specs[n] for n in names]
            if any(s.kind == "i32" and s.encoding != "acc" for s in ins):
                raise GraphError(f"{where}: nothing may read the int32 scores")
            if any(s.kind == "i32" for s in ins) and not isinstance(op, Merge):
                raise GraphError(f"{where}: an accumulator (AccStage) is read only by a Merge")
            if isinstance(op, LSTM) and ins[0].kind == "u8" and names[0] != INPUT_NAME:
                raise GraphError(f"{where}: an LSTM reads a character id only from the graph input (the runtime "
                                 f"checks the id there, before any op runs)")
            if isinstance(op, LSTM) and ins[0].kind == "i8" and not isinstance(producer.get(names[0]), LSTM):
                raise GraphError(f"{where}: an LSTM's i8 input must be the h of an LSTM below (its codes are proved "
                                 f"to lie in [-127, 127])")
            try:
                out = infer(op, ins)
                if out.nbytes() > INT32_MAX:
                    raise GraphError(f"its output takes {out.nbytes()} bytes per sample (limit 2**31 - 1)")
            except GraphError as e:
                raise GraphError(f"{where}: {e}") from None
            used.update(names)
            specs[name] = out
            producer[name] = op
        if not complete:
            return specs
        last = self.value_name(len(self.ops) - 1)
        if specs[last].kind != "i32" or specs[last].encoding == "acc":
            raise GraphError("the last op must end in a ScoreStage (int32 scores)")
        if sum(s.kind == "i32" and s.encoding != "acc" for s in specs.values()) != 1:
            raise GraphError("only the last op may produce int32 scores")
        dead = [n for n in list(specs)[1:-1] if n not in used]
        if dead:
            raise GraphError(f"the value {dead[0]!r} is never used (remove the op that makes it)")
        if self.class_names and len(self.class_names) != specs[last].shape[0]:
            raise GraphError(f"{len(self.class_names)} class names for {specs[last].shape[0]} scores")
        return specs

    def specs(self) -> list[TensorSpec]:
        """Input spec followed by the output spec of every op; validates the graph on the way."""
        return list(self.value_specs().values())

    def validate(self) -> None:
        self.value_specs()

    @property
    def output(self) -> TensorSpec:
        return self.specs()[-1]

    def consumers(self) -> dict[str, list[int]]:
        """For every value name, the indices of the ops that read it."""
        out: dict[str, list[int]] = {n: [] for n in self.value_names()}
        for i in range(len(self.ops)):
            for n in self.op_inputs(i):
                out.setdefault(n, []).append(i)
        return out

    def is_recurrent(self) -> bool:
        """Does the graph keep state between invokes (an LSTM op)? Then its inputs are time steps."""
        return any(isinstance(op, LSTM) for op in self.ops)

    def is_chain(self) -> bool:
        """Does every op read exactly the previous op's output (the v1 shape of a graph)?"""
        names = self.value_names()
        return all(self.op_inputs(i) == (names[i],) for i in range(len(self.ops)))


# ----------------------------------------------------------------------------- checks


def _check_value_shape(shape: tuple[int, ...], what: str) -> None:
    """Every dimension positive; spatial sizes <= MAX_DIM, channels / features <= MAX_CHANNELS."""
    if any(int(v) < 1 for v in shape):
        raise GraphError(f"{what} has an empty dimension: shape {tuple(shape)}")
    if len(shape) == 3 and max(shape[0], shape[1]) > MAX_DIM:
        raise GraphError(f"{what}: spatial size {shape[:2]} exceeds {MAX_DIM}")
    if shape[-1] > MAX_CHANNELS:
        raise GraphError(f"{what}: {shape[-1]} channels / features exceed {MAX_CHANNELS}")


def _check_code_type(spec: TensorSpec, what: str) -> None:
    lo, hi = CODE_RANGE[spec.kind]
    if not lo <= int(spec.zero_point) <= hi:
        raise GraphError(f"{what}: zero point {spec.zero_point} outside the {spec.kind} range [{lo}, {hi}]")
    if not (np.isfinite(spec.scale) and spec.scale > 0):
        raise GraphError(f"{what}: scale must be a positive finite number, got {spec.scale}")


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
        if isinstance(op, Dense):
            k = op.in_features
        else:
            k = op.kernel[0] * op.kernel[1] * (op.in_channels // max(1, int(op.groups)))
        absw = np.full(op.weights.shape[0], k, np.int64)
    return absw * spec.max_abs_value


def _half(s) -> np.ndarray:
    s = np.asarray(s, dtype=np.int64)
    return np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)


def _check_int64(worst, what: str) -> None:
    """``worst`` (Python ints or an object array) must stay within int64 with its rounding term."""
    w = max((int(v) for v in np.asarray(worst, dtype=object).reshape(-1)), default=0)
    if w > INT64_MAX:
        raise GraphError(f"{what}: the int64 intermediate may reach {w} > 2**63 - 1; use a smaller multiplier")


def _check_requant_params(m, s, zp: int, what: str) -> None:
    m = np.asarray(m, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    if m.size and (m.min() < INT32_MIN or m.max() > INT32_MAX):
        raise GraphError(f"{what}: multipliers must be int32")
    if s.size and (s.min() < 0 or s.max() > MAX_SHIFT):
        raise GraphError(f"{what}: shifts must lie in [0, {MAX_SHIFT}]")
    if not -128 <= int(zp) <= 127:
        raise GraphError(f"{what}: output zero point {zp} outside [-128, 127]")


def _check_bounds(op, spec: TensorSpec) -> None:
    """Prove that no accumulator, score or requantization of a Dense / Conv2d can overflow."""
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
    elif isinstance(st, RequantStage):
        worst = [abs(int(m)) * int(b) + abs(int(bb)) + int(h)
                 for m, b, bb, h in zip(st.multiplier, bound, st.bias, _half(st.shift))]
        _check_int64(worst, "requantization")


def _check_weights(op, kind: str, w: np.ndarray, lead: tuple, k: int) -> None:
    if kind == "binary":
        want, dtype = lead + (bf.words_for(k),), bf.WORD_DTYPE
    elif kind == "int8":
        want, dtype = lead + (k,), np.dtype(np.int8)
    else:
        raise GraphError(f"unknown weight kind {kind!r}")
    if not isinstance(w, np.ndarray) or w.shape != want or w.dtype != dtype:
        got = f"{w.dtype} {w.shape}" if isinstance(w, np.ndarray) else type(w).__name__
        raise GraphError(f"weights must be {dtype} of shape {want}, got {got}")
    tail = k % bf.WORD_BITS
    if kind == "binary" and tail and np.any(w[..., -1] >> np.uint32(tail)):
        raise GraphError("padding bits of packed weights must be zero (they would count in K - 2·popcount)")


def _threshold_output(stage: ThresholdStage, shape: tuple[int, ...], dtype=np.int32) -> TensorSpec:
    c = shape[-1]
    if not isinstance(stage, ThresholdStage):
        raise GraphError("needs a ThresholdStage")
    if stage.encoding not in ("sign", "unsigned"):
        raise GraphError(f"unknown threshold encoding {stage.encoding!r}")
    t, d = stage.thresholds, stage.direction
    want = np.dtype(dtype).name
    if not isinstance(t, np.ndarray) or t.dtype != dtype or t.ndim != 2 or t.shape[0] != c or t.shape[1] < 1:
        raise GraphError(f"thresholds must be {want} of shape ({c}, L>=1)")
    if t.shape[1] > MAX_LEVELS:
        raise GraphError(f"{t.shape[1]} thresholds per channel exceed {MAX_LEVELS}")
    if not isinstance(d, np.ndarray) or d.dtype != np.int8 or d.shape != (c,) or not np.all(np.abs(d) == 1):
        raise GraphError(f"direction must be int8 ±1 of shape ({c},)")
    if stage.encoding == "sign" and t.shape[1] != 1:
        raise GraphError("sign encoding takes exactly one threshold per channel")
    if np.any(t[:, 1:] < t[:, :-1]):  # compared, not subtracted: int64 differences may overflow
        raise GraphError("thresholds must be non-decreasing along each channel")
    return TensorSpec("bits", shape, stage.encoding, stage.planes)


def _stage_output(stage: Stage, shape: tuple[int, ...]) -> TensorSpec:
    c = shape[-1]
    if isinstance(stage, ScoreStage):
        if len(shape) != 1:
            raise GraphError("scores must come from a Dense layer (shape (C,))")
        if not 0 <= int(stage.shift) <= 31:
            raise GraphError("ScoreStage.shift must lie in [0, 31]")
        for name in ("multiplier", "offset"):
            a = getattr(stage, name)
            if not isinstance(a, np.ndarray) or a.shape != (c,) or a.dtype != np.int32:
                raise GraphError(f"ScoreStage.{name} must be int32 of shape ({c},)")
        return TensorSpec("i32", shape)
    if isinstance(stage, RequantStage):
        for name, dtype in (("multiplier", np.int32), ("bias", np.int64), ("shift", np.uint8)):
            a = getattr(stage, name)
            if not isinstance(a, np.ndarray) or a.shape != (c,) or a.dtype != dtype:
                raise GraphError(f"RequantStage.{name} must be {np.dtype(dtype)} of shape ({c},)")
        _check_requant_params(stage.multiplier, stage.shift, stage.zero_point, "RequantStage")
        out = TensorSpec("i8", shape, scale=float(stage.scale), zero_point=int(stage.zero_point))
        _check_code_type(out, "RequantStage")
        return out
    if isinstance(stage, ThresholdStage):
        return _threshold_output(stage, shape)
    if isinstance(stage, AccStage):
        return TensorSpec("i32", shape, "acc", bound=0)  # the caller sets the bound
    raise GraphError(f"unknown output stage {type(stage).__name__}")


def _with_bound(out: TensorSpec, op, spec: TensorSpec) -> TensorSpec:
    """An accumulator value carries the largest |acc| over its channels (what a Merge scales)."""
    if out.encoding != "acc":
        return out
    return TensorSpec("i32", out.shape, "acc", bound=int(acc_bound(op, spec).max(initial=0)))


def _one(ins: list[TensorSpec], what: str) -> TensorSpec:
    if len(ins) != 1:
        raise GraphError(f"{what} reads exactly one value, got {len(ins)}")
    return ins[0]


def _codes(spec: TensorSpec, what: str) -> None:
    if spec.kind not in ("u8", "i8"):
        raise GraphError(f"{what} takes a u8 or i8 value, got {spec.kind}")


#: a character id input (u8 (1,)) indexes a vocabulary of at most this many characters
MAX_VOCAB = 256


def lstm_state_bytes(hidden: int) -> int:
    """Bytes of one LSTM layer's state in the arena: int32 c[H], then int8 h[H] 16 bytes aligned."""
    return -(-4 * hidden // 16) * 16 + -(-hidden // 16) * 16


def lstm_gate_bound(op: "LSTM", onehot: bool) -> list[int]:
    """Per gate j, the proved max |v| + 2^(s_j-1) of the gate pre-activation (docs/numerics.md (1)):
    |Mh_j|·127·H + |Mx_j|·(1 for a character input, else 127·I) + max_c |B_jc| + 2^(s_j-1)."""
    from .lstm_integer import H_MAX

    h = int(op.hidden)
    x_bound = 1 if onehot else H_MAX * int(op.in_features)
    b = np.abs(op.bias.astype(np.int64)).reshape(4, h).max(axis=1)
    return [abs(int(op.multipliers[0, j])) * H_MAX * h + abs(int(op.multipliers[1, j])) * x_bound + int(b[j])
            + (1 << (int(op.shifts[j]) - 1)) for j in range(4)]


def _lstm_output(op: "LSTM", spec: TensorSpec) -> TensorSpec:
    from .lstm_integer import C_FRAC_MAX, C_FRAC_MIN, GATE_SHIFT_MAX, H_FRAC

    h, n_in = int(op.hidden), int(op.in_features)
    if not 1 <= h <= MAX_CHANNELS // 4:
        raise GraphError(f"LSTM hidden size {h} must lie in [1, {MAX_CHANNELS // 4}]")
    if spec.kind == "u8":
        if spec.shape != (1,) or spec.zero_point != 0:
            raise GraphError(f"an LSTM reads a character id (u8 of shape (1,), zero point 0), got u8 {spec.shape}")
        if not 1 <= n_in <= MAX_VOCAB:
            raise GraphError(f"a character LSTM's vocabulary {n_in} must lie in [1, {MAX_VOCAB}]")
        _check_weights(op, "binary", op.input_weights, (n_in,), 4 * h)
    elif spec.kind == "i8":
        if spec.shape != (n_in,) or spec.zero_point != 0:
            raise GraphError(f"an LSTM expects ({n_in},) i8 codes with zero point 0 (the h of an LSTM below), "
                             f"got {spec.shape} zero point {spec.zero_point}")
        _check_weights(op, "binary", op.input_weights, (4 * h,), n_in)
    else:
        raise GraphError(f"an LSTM reads a character id (u8) or the h codes (i8) of an LSTM below, got {spec.kind}")
    _check_weights(op, "binary", op.recurrent, (4 * h,), h)
    for name, dtype, shape in (("multipliers", np.int32, (2, 4)), ("bias", np.int32, (4 * h,)),
                               ("shifts", np.uint8, (4,))):
        a = getattr(op, name)
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != shape:
            raise GraphError(f"LSTM.{name} must be {np.dtype(dtype)} of shape {shape}")
    if op.shifts.min() < 1 or op.shifts.max() > GATE_SHIFT_MAX:
        raise GraphError(f"LSTM gate shifts must lie in [1, {GATE_SHIFT_MAX}], got {op.shifts.tolist()}")
    if not (isinstance(op.c_frac, (int, np.integer)) and C_FRAC_MIN <= int(op.c_frac) <= C_FRAC_MAX):
        raise GraphError(f"LSTM c_frac must be an integer in [{C_FRAC_MIN}, {C_FRAC_MAX}], got {op.c_frac!r}")
    worst = lstm_gate_bound(op, spec.kind == "u8")
    if max(worst) > INT32_MAX:
        j = int(np.argmax(worst))
        raise GraphError(f"LSTM gate {'ifgo'[j]}'s pre-activation may reach {worst[j]} > 2**31 - 1 "
                         f"(|Mh|·127·H + |Mx|·max|x-part| + max|B| + 2^(s-1)); use a smaller shift")
    return TensorSpec("i8", (h,), scale=2.0 ** -H_FRAC, zero_point=0)


def infer(op, ins) -> TensorSpec:
    """Output spec of ``op`` applied to values of specs ``ins`` (a list, or one TensorSpec);
    raises GraphError if it cannot apply."""
    if isinstance(ins, TensorSpec):
        ins = [ins]
    ins = list(ins)
    if any(s.kind == "i32" and s.encoding != "acc" for s in ins):
        raise GraphError("nothing may follow the int32 scores")
    if any(s.kind == "i32" for s in ins) and not isinstance(op, Merge):
        raise GraphError("an accumulator (AccStage) is read only by a Merge")
    if isinstance(op, Concat):
        if not 2 <= len(ins) <= MAX_CONCAT:
            raise GraphError(f"Concat takes 2 to {MAX_CONCAT} inputs, got {len(ins)}")
        first = ins[0]
        if any(not s.same_type(first) for s in ins[1:]):
            raise GraphError("Concat inputs must share one type (bits: encoding and planes; u8 / i8: scale and "
                             "zero point; insert a Requantize)")
        if any(s.shape[:-1] != first.shape[:-1] for s in ins[1:]):
            raise GraphError(f"Concat inputs must share their spatial shape, got {[s.shape for s in ins]}")
        shape = first.shape[:-1] + (sum(s.shape[-1] for s in ins),)
        _check_value_shape(shape, "the concatenated value")
        return TensorSpec(first.kind, shape, first.encoding, first.planes, first.scale, first.zero_point)
    if isinstance(op, Merge):
        if len(ins) != 2:
            raise GraphError(f"Merge takes two inputs, got {len(ins)}")
        a, b = ins
        for x in (a, b):
            if x.kind not in ("u8", "i8") and not (x.kind == "i32" and x.encoding == "acc"):
                raise GraphError(f"Merge takes u8 / i8 codes or i32 accumulators, got {x.kind}")
        if a.shape != b.shape:
            raise GraphError(f"Merge inputs must have one shape, got {a.shape} and {b.shape}")
        c = a.shape[-1]
        for name, dtype in (("multipliers_a", np.int32), ("multipliers_b", np.int32), ("bias", np.int64)):
            arr = getattr(op, name)
            if not isinstance(arr, np.ndarray) or arr.shape != (c,) or arr.dtype != dtype:
                raise GraphError(f"Merge.{name} must be {np.dtype(dtype)} of shape ({c},)")
        st = op.output
        if isinstance(st, RoundStage):
            sh = st.shift
            if not isinstance(sh, np.ndarray) or sh.shape != (c,) or sh.dtype != np.uint8:
                raise GraphError(f"RoundStage.shift must be uint8 of shape ({c},)")
            _check_requant_params([0], sh, st.zero_point, "RoundStage")
            half = _half(sh)
            out = TensorSpec("i8", a.shape, scale=float(st.scale), zero_point=int(st.zero_point))
            _check_code_type(out, "RoundStage")
        elif isinstance(st, ThresholdStage):
            half = np.zeros(c, np.int64)
            out = _threshold_output(st, a.shape, np.int64)
        else:
            raise GraphError("Merge ends in a ThresholdStage or a RoundStage")
        worst = [abs(int(ma)) * a.max_centered + abs(int(mb)) * b.max_centered + abs(int(bb)) + int(h)
                 for ma, mb, bb, h in zip(op.multipliers_a, op.multipliers_b, op.bias, half)]
        _check_int64(worst, "Merge")
        return out
    if isinstance(op, Add):
        if len(ins) != 2:
            raise GraphError(f"Add takes two inputs, got {len(ins)}")
        a, b = ins
        _codes(a, "Add")
        _codes(b, "Add")
        if a.shape != b.shape:
            raise GraphError(f"Add inputs must have one shape, got {a.shape} and {b.shape}")
        ma, mb = (int(v) for v in op.multipliers)
        _check_requant_params([ma, mb], [int(op.shift)], op.zero_point, "Add")
        _check_int64([abs(ma) * a.max_centered + abs(mb) * b.max_centered + int(_half(int(op.shift)))], "Add")
        out = TensorSpec("i8", a.shape, scale=float(op.scale), zero_point=int(op.zero_point))
        _check_code_type(out, "Add")
        return out
    spec = _one(ins, type(op).__name__)
    if isinstance(op, LSTM):
        return _lstm_output(op, spec)
    if isinstance(op, Flatten):
        flat = (int(np.prod(spec.shape, dtype=np.int64)),)
        _check_value_shape(flat, "the flattened value")
        return TensorSpec(spec.kind, flat, spec.encoding, spec.planes, spec.scale, spec.zero_point)
    if isinstance(op, Reshape):
        _codes(spec, "Reshape")
        shape = tuple(int(v) for v in op.shape)
        if len(shape) not in (1, 3):
            raise GraphError(f"Reshape to (H, W, C) or (F,), got {shape}")
        _check_value_shape(shape, "the reshaped value")
        if int(np.prod(shape, dtype=np.int64)) != int(np.prod(spec.shape, dtype=np.int64)):
            raise GraphError(f"Reshape {spec.shape} -> {shape} changes the element count")
        return TensorSpec(spec.kind, shape, scale=spec.scale, zero_point=spec.zero_point)
    if isinstance(op, Requantize):
        _codes(spec, "Requantize")
        _check_requant_params([int(op.multiplier)], [int(op.shift)], op.zero_point, "Requantize")
        _check_int64([abs(int(op.multiplier)) * spec.max_centered + int(_half(int(op.shift)))], "Requantize")
        out = TensorSpec("i8", spec.shape, scale=float(op.scale), zero_point=int(op.zero_point))
        _check_code_type(out, "Requantize")
        return out
    if isinstance(op, Threshold):
        _codes(spec, "Threshold")
        return _threshold_output(op.stage, spec.shape)
    if isinstance(op, (MaxPool2d, AvgPool2d)):
        what = type(op).__name__
        if len(spec.shape) != 3:
            raise GraphError(f"{what} takes a value of shape (H, W, C)")
        if isinstance(op, AvgPool2d):
            _codes(spec, what)
        elif spec.kind not in ("bits", "u8", "i8"):
            raise GraphError("MaxPool2d takes bits, u8 or i8")
        (h, w, c), (kh, kw), (sh, sw) = spec.shape, op.kernel, op.stride
        oh = _window_out(h, int(kh), int(sh), 0, 0, "pool height")
        ow = _window_out(w, int(kw), int(sw), 0, 0, "pool width")
        if isinstance(op, MaxPool2d):
            return TensorSpec(spec.kind, (oh, ow, c), spec.encoding, spec.planes, spec.scale, spec.zero_point)
        _check_requant_params([int(op.multiplier)], [int(op.shift)], op.zero_point, "AvgPool2d")
        _check_int64([abs(int(op.multiplier)) * int(kh) * int(kw) * spec.max_centered + int(_half(int(op.shift)))],
                     "AvgPool2d")
        out = TensorSpec("i8", (oh, ow, c), scale=float(op.scale), zero_point=int(op.zero_point))
        _check_code_type(out, "AvgPool2d")
        return out
    if isinstance(op, Dense):
        if len(spec.shape) != 1 or spec.shape[0] != op.in_features:
            raise GraphError(f"Dense expects ({op.in_features},) input, got {spec.shape}")
        _check_value_shape((op.out_features,), "the Dense output")
        _check_weights(op, op.weight_kind, op.weights, (op.out_features,), op.in_features)
        out = _stage_output(op.output, (op.out_features,))
        _check_bounds(op, spec)
        return _with_bound(out, op, spec)
    if isinstance(op, Conv2d):
        if len(spec.shape) != 3 or spec.shape[2] != op.in_channels:
            raise GraphError(f"Conv2d expects (H, W, {op.in_channels}) input, got {spec.shape}")
        g = int(op.groups)
        if g < 1 or op.in_channels % g or op.out_channels % g:
            raise GraphError(f"groups {g} must divide the {op.in_channels} input and {op.out_channels} output channels")
        if g > 1 and (op.weight_kind != "int8" or spec.kind not in ("u8", "i8")):
            raise GraphError("grouped / depthwise convolutions take int8 weights over u8 / i8 inputs")
        h, w, _ = spec.shape
        (kh, kw), (sh, sw), (pt, pb, pl, pr) = op.kernel, op.stride, op.padding
        oh = _window_out(h, int(kh), int(sh), int(pt), int(pb), "convolution height")
        ow = _window_out(w, int(kw), int(sw), int(pl), int(pr), "convolution width")
        padded = (h + pt + pb) * (w + pl + pr) * (spec.nbytes() // (h * w))
        if padded > INT32_MAX:
            raise GraphError(f"the padded input takes {padded} bytes per sample (limit 2**31 - 1)")
        _check_value_shape((oh, ow, op.out_channels), "the Conv2d output")
        _check_weights(op, op.weight_kind, op.weights, (op.out_channels, kh, kw), op.in_channels // g)
        if isinstance(op.output, ScoreStage):
            raise GraphError("a convolution cannot end the graph; flatten and use Dense")
        out = _stage_output(op.output, (oh, ow, op.out_channels))
        _check_bounds(op, spec)
        return _with_bound(out, op, spec)
    raise GraphError(f"unsupported op {type(op).__name__}")
